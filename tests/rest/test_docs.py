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


def test_documented_limits_come_from_the_model(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    sine = client.app.state.registry.get("sine").model  # type: ignore[attr-defined]
    horizon = schema["paths"]["/predict/sine"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["horizon"]
    assert horizon["maximum"] == sine.max_horizon == sine.manifest.preprocessing["max_horizon"]
    assert [p["name"] for p in schema["paths"]["/predict/translate"]["post"]["parameters"]] == ["version", "model"]


def test_every_typed_answer_matches_its_documented_response(client: TestClient) -> None:
    from app.rest.predict import typed_routes

    schema = client.get("/openapi.json").json()
    for path, task in typed_routes().items():
        example = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        response = client.post(path, json=example)
        assert response.status_code == 200, response.text
        assert task.response_model is not None
        task.response_model.model_validate(response.json(), strict=True)
