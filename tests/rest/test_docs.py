from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_page_and_schema(client: TestClient) -> None:
    assert "swagger" in client.get("/docs").text.lower()
    schema = client.get("/openapi.json").json()
    for path in ("/predict/digit", "/predict/sine", "/predict/translate", "/predict/digit/image"):
        assert "post" in schema["paths"][path]


def test_every_json_example_in_the_docs_works(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            assert "example" in content, path
            assert content["schema"]["properties"], path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    path = path.replace("{" + parameter["name"] + "}", str(parameter["schema"]["examples"][0]))
            response = client.request(method.upper(), path, json=content["example"])
            assert response.status_code == 200, (path, response.text)
            checked += 1
    assert checked >= 3
