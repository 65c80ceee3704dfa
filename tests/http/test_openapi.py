"""The OpenAPI document says what the server answers: response bodies, error bodies and statuses per
protocol, the API-key scheme where a key is set, /metrics as text."""

from __future__ import annotations

from typing import Any

from tests.conftest import make_client

ERROR = "#/components/schemas/{}"


def document(**settings: Any) -> dict[str, Any]:
    with make_client(models="digit", **settings) as client:
        return dict(client.get("/openapi.json").json())


def test_error_bodies_and_statuses_are_each_protocols_own() -> None:
    paths = document()["paths"]
    digit = paths["/predict/digit"]["post"]["responses"]
    infer = paths["/v2/models/{name}/infer"]["post"]["responses"]
    assert {"400", "404", "413", "415", "422", "429", "503", "504"} <= set(digit)
    assert digit["429"]["content"]["application/json"]["schema"]["$ref"] == ERROR.format("RestError")
    assert "422" not in infer and {"400", "404", "429", "503"} <= set(infer)  # V2 sends bad input as 400
    assert infer["400"]["content"]["application/json"]["schema"]["$ref"] == ERROR.format("V2Error")
    assert digit["200"]["content"]["application/json"]["schema"]["$ref"] == ERROR.format("DigitResponse")
    assert paths["/metrics"]["get"]["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}
    assert "401" not in digit and "security" not in paths["/predict/digit"]["post"]  # no key set: open


def test_with_a_key_the_routes_behind_it_declare_the_scheme() -> None:
    spec = document(api_key="k")
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    paths = spec["paths"]
    for path in ("/predict/digit", "/predict/digit/image", "/v2/models/{name}/infer",
                 "/v2/repository/models/{name}/load"):
        operation = paths[path]["post"]
        assert operation["security"] == [{"apiKey": []}] and "401" in operation["responses"], path
    assert "security" not in paths["/health/ready"]["get"] and "security" not in paths["/v2/models/{name}"]["get"]


def test_error_components_are_the_bodies_sent() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["RestError"]["properties"] == {"detail": {"type": "string"}}
    assert schemas["V2Error"]["properties"] == {"error": {"type": "string"}}
    assert "HTTPValidationError" not in schemas  # FastAPI's array-of-problems body is never sent
