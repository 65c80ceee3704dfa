"""Each task's contract without HTTP: what its one declaration checks, documents and signs, and that a JSON
body and the equivalent tensors make the same payload."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from app.errors import InputError
from app.repository.loader import load_model
from app.settings import Settings
from app.tasks import TASKS, TaskModel
from app.tasks.contract import (
    Contract,
    Input,
    json_arrays,
    request_model,
    run_grouped,
    scatter,
    signature_of,
)
from app.tasks.digit import DIGIT_EXAMPLE
from app.tensors import Tensor
from tests.conftest import MODELS

INPUTS = (
    Input("rows", "FP32", (-1, 2, 3), "fixed rows", items="max_items"),
    Input("series", "FP32", (-1, -1), "ragged rows", items=4, ragged=True, default=None),
    Input("texts", "BYTES", (-1,), "texts", default=None),
    Input("k", "INT64", (1,), "a count", scalar=True, default=2, low=1, high="max_k"),
    Input("order", "BYTES", (1,), "a choice", scalar=True, default=None, choices=("A", "B"), nullable=True),
    Input("token", "BYTES", (1,), "the task's to check", scalar=True, default=None, opaque=True, where="json"),
    Input("h", "FP64", (-1,), "tensors only", default=None, where="tensor"),
)
LIMITS = SimpleNamespace(max_items=3, max_k=5)
CONTRACT = Contract(INPUTS)
ROW = [[0.0, 0.5, 1.0], [1.0, 2.0, 3.0]]


def bad_json(body: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError, match=words):
        CONTRACT.json_values(body, LIMITS)


def test_json_values_follow_the_declaration() -> None:
    values = CONTRACT.json_values({"rows": [ROW], "series": [[1.0], [1.0, 2.0]], "k": 5, "order": None,
                                  "token": 12}, LIMITS)
    assert values["rows"].shape == (1, 2, 3) and values["rows"].dtype == np.float64
    assert [len(row) for row in values["series"]] == [1, 2]
    assert (values["k"], values["order"], values["token"], values["texts"]) == (5, None, 12, None)
    assert "h" not in values  # a tensor-only input is no JSON field


@pytest.mark.parametrize(("body", "words"), [
    ({}, "missing field 'rows'"),
    ({"rows": [ROW], "h": [1.0]}, r"unknown field\(s\) 'h'"),
    ({"rows": []}, "'rows' is empty"),
    ({"rows": [ROW] * 4}, "'rows' has 4 items; at most 3"),
    ({"rows": "x"}, "'rows' must be a list of lists"),
    ({"rows": [ROW[:1]]}, r"rows\[0\] must be 2 rows of 3 numbers, got 1 rows"),
    ({"rows": [[[0.0, "x", 1.0], [1.0, 2.0, 3.0]]]}, "'rows' must contain only numbers"),
    ({"rows": [[[0.0, None, 1.0], [1.0, 2.0, 3.0]]]}, "found null"),
    ({"rows": [ROW], "series": [[1.0], [[1.0]]]}, r"series\[1\] must be a flat list"),
    ({"rows": [ROW], "series": [5]}, r"series\[0\] must be a list of numbers"),
    ({"rows": [ROW], "texts": ["a", 1]}, r"texts\[1\] must be a string"),
    ({"rows": [ROW], "k": 6}, "'k' must be an integer from 1 to 5, got 6"),
    ({"rows": [ROW], "k": True}, "'k' must be an integer"),
    ({"rows": [ROW], "k": 2.0}, "'k' must be an integer"),
    ({"rows": [ROW], "order": "C"}, "'order' must be one of A, B, got 'C'"),
])
def test_json_values_refuse_what_the_declaration_does_not_allow(body: dict[str, Any], words: str) -> None:
    bad_json(body, words)


def tensor(name: str, datatype: str, data: Any) -> Tensor:
    if datatype == "BYTES":
        return Tensor(name, datatype, [len(data)], data)
    array = np.asarray(data, dtype={"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}[datatype])
    return Tensor(name, datatype, list(array.shape), array)


def test_tensor_values_follow_the_declaration() -> None:
    values = CONTRACT.tensor_values({"rows": tensor("rows", "FP32", [ROW]), "k": tensor("k", "INT64", [4]),
                                    "order": tensor("order", "BYTES", [b"B"]), "h": tensor("h", "FP64", [1.0])},
                           LIMITS)
    assert values["rows"].shape == (1, 2, 3) and (values["k"], values["order"]) == (4, "B")
    assert values["h"].tolist() == [1.0] and values["series"] is None
    assert "token" not in values  # a JSON-only field is no tensor


@pytest.mark.parametrize(("tensors", "words"), [
    ({}, "missing input 'rows'"),
    ({"rows": tensor("rows", "FP32", [ROW]), "pixels": tensor("pixels", "FP32", [1.0])}, r"unknown input\(s\)"),
    ({"rows": tensor("rows", "FP64", [ROW])}, "input 'rows' must be FP32, got FP64"),
    ({"rows": tensor("rows", "FP32", [ROW[0]])}, r"input 'rows' must have shape \[-1, 2, 3\]"),
    ({"rows": tensor("rows", "FP32", [[[np.nan, 0, 0], [0, 0, 0]]])}, "NaN or infinity"),
    ({"rows": tensor("rows", "FP32", [ROW] * 4)}, "at most 3"),
    ({"rows": tensor("rows", "FP32", [ROW]), "k": tensor("k", "INT64", [9])}, "from 1 to 5"),
    ({"rows": tensor("rows", "FP32", [ROW]), "texts": tensor("texts", "BYTES", [b"\xff"])}, "UTF-8"),
])
def test_tensor_values_refuse_what_the_declaration_does_not_allow(tensors: dict[str, Tensor], words: str) -> None:
    with pytest.raises(InputError, match=words):
        CONTRACT.tensor_values(tensors, LIMITS)


def test_the_schema_the_signature_and_the_array_fields_come_from_the_declaration() -> None:
    schema = request_model("Thing", INPUTS, LIMITS, {"rows": [ROW]}).model_json_schema()
    assert set(schema["properties"]) == {"rows", "series", "texts", "k", "order", "token"}
    assert schema["required"] == ["rows"]
    assert schema["properties"]["rows"]["maxItems"] == 3  # the loaded model's limit
    assert schema["properties"]["k"]["maximum"] == 5 and schema["properties"]["k"]["default"] == 2
    assert request_model("Thing", INPUTS, None, {}).model_json_schema()["properties"]["k"].get("maximum") is None
    signature = signature_of(INPUTS, [])
    assert [(s.name, s.shape, s.optional) for s in signature.inputs] == [
        ("rows", [-1, 2, 3], False), ("series", [-1, -1], True), ("texts", [-1], True), ("k", [1], True),
        ("order", [1], True), ("h", [-1], True)]
    assert json_arrays(INPUTS) == {"rows": (2, 3)}


def test_grouped_runs_answer_in_the_items_order() -> None:
    runs: list[list[str]] = []

    def run(group: list[str]) -> list[str]:
        runs.append(group)
        return [item.upper() for item in group]

    assert run_grouped(["ab", "c", "de", "f"], len, run) == ["AB", "C", "DE", "F"]
    assert runs == [["ab", "de"], ["c", "f"]]
    assert scatter([1, 2, 3], [2, 1]) == [[1, 2], [3]]


@pytest.fixture(scope="module")
def models() -> dict[str, TaskModel[Any, Any]]:
    settings = Settings(model_dir=MODELS, device="cpu", grpc_port=0)
    return {name: load_model(MODELS / name / "1", settings) for name in ("digit", "sine", "sine_stream", "dates")}


def same(a: Any, b: Any) -> None:
    """Two payloads (dataclasses, arrays, lists and mappings of them) hold the same values."""
    if hasattr(a, "__dataclass_fields__"):
        for field in a.__dataclass_fields__:
            same(getattr(a, field), getattr(b, field))
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    else:
        assert a == b


SERIES = [float(np.sin(0.2 * t)) for t in range(40)]


@pytest.mark.parametrize(("name", "body", "tensors"), [
    ("digit", {"images": [DIGIT_EXAMPLE]}, {"images": tensor("images", "FP32", [DIGIT_EXAMPLE])}),
    ("sine", {"series": [SERIES], "horizon": 5},
     {"series": tensor("series", "FP32", [SERIES]), "horizon": tensor("horizon", "INT64", [5])}),
    ("sine_stream", {"values": SERIES[:3], "horizon": 4},
     {"values": tensor("values", "FP32", [SERIES[:3]]), "horizon": tensor("horizon", "INT64", [4])}),
    ("dates", {"texts": ["3 March 1998", "03/04/98"], "beam_size": 2, "date_order": "MDY"},
     {"texts": tensor("texts", "BYTES", [b"3 March 1998", b"03/04/98"]), "beam_size": tensor("beam_size", "INT64", [2]),
      "date_order": tensor("date_order", "BYTES", [b"MDY"])}),
])
def test_a_body_and_its_tensors_make_the_same_payload(models: dict[str, TaskModel[Any, Any]], name: str,
                                                      body: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    model = models[name]
    same(model.parse_json(body), model.parse_tensors(tensors))


def test_the_loader_refuses_a_manifest_whose_tensors_are_not_its_tasks(tmp_path: Path) -> None:
    import json
    import shutil

    from app.repository.manifest import ManifestError

    shutil.copytree(MODELS / "sine" / "1", tmp_path / "sine" / "1")
    path = tmp_path / "sine" / "1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["inputs"][0]["name"] = "histories"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="are not task sine's"):
        load_model(tmp_path / "sine" / "1", Settings(model_dir=tmp_path, device="cpu"))


def test_every_task_declares_its_request() -> None:
    for task in TASKS.values():
        if task.task != "tensor":
            assert task.INPUTS and task.OUTPUTS, task.task
