"""POST /predict/sine/stream: the state travels with the client; any chunking of a series gives the same
forecasts; tokens that were altered, cut, forged or come from another version are refused by name."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import MODELS, make_client, spawn_server, wait_ready

ROUTE = "/predict/sine/stream"


def series(length: int = 120, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    values = 1.7 * np.sin(0.13 * t + 0.4) + 0.6 + 0.05 * rng.standard_normal(length)
    return [round(float(v), 4) for v in values]


def feed(post, values: list[float], chunks: list[int], horizon: int = 16) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Send `values` in chunks of the given sizes, carrying the state; the last answer."""
    state, start, answer = None, 0, {}
    for size in chunks:
        response = post(ROUTE, json={"values": values[start:start + size], "horizon": horizon, "state": state})
        assert response.status_code == 200, response.text
        answer, state, start = response.json(), response.json()["state"], start + size
    assert start == len(values)
    return answer


def random_chunks(total: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    chunks = []
    while total > 0:
        chunks.append(min(total, int(rng.integers(1, 17))))
        total -= chunks[-1]
    return chunks


def test_any_chunking_gives_the_same_forecast(client: TestClient) -> None:
    values = series()
    whole = feed(client.post, values, [len(values)])
    assert whole["model"] == "sine_stream" and whole["observed"] == 120 and len(whole["forecast"]) == 16
    for chunks in ([1] * len(values), random_chunks(len(values), 1), random_chunks(len(values), 2)):
        answer = feed(client.post, values, chunks)
        assert answer["observed"] == 120
        np.testing.assert_allclose(answer["forecast"], whole["forecast"], atol=1e-5)


def test_forecast_follows_the_series(client: TestClient) -> None:
    values = series(200)
    answer = feed(client.post, values[:160], [160], horizon=32)
    error = np.sqrt(np.mean((np.array(answer["forecast"]) - np.array(values[160:192])) ** 2))
    assert error < 0.5  # amplitude 1.7: a trained model, not noise


def test_concurrent_streams_are_batched_and_stay_apart(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    streams = [series(60, seed) for seed in range(12)]
    alone = [feed(client.post, s, [60])["forecast"] for s in streams]
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(lambda s: feed(client.post, s, [20, 20, 20])["forecast"], streams))
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_bad_tokens_are_named(client: TestClient) -> None:
    token = feed(client.post, series(10), [10])["state"]
    payload, mac = token.split(".")
    altered = ("A" if payload[5] != "A" else "B").join([payload[:5], payload[6:]]) + "." + mac
    for state, status, words in [
        (altered, 400, "signature does not match"),
        (token[:-10], 400, "truncated"),
        (payload, 400, "truncated"),
        ("not a token", 400, "truncated"),
        ("%%%.%%%", 400, "corrupt"),
        (12, 400, "must be the token"),
        ("x" * 70000, 400, "far shorter"),
    ]:
        response = client.post(ROUTE, json={"values": [1.0], "state": state})
        assert response.status_code == status, (state, response.text)
        assert words in response.json()["detail"], response.json()
    with make_client() as other:  # another server, another key: a foreign token
        wait_ready(other)
        response = other.post(ROUTE, json={"values": [1.0], "state": token})
        assert response.status_code == 400 and "another server's key" in response.json()["detail"]
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize(("body", "words"), [
    ({"values": []}, "values"),
    ({"values": ["a"]}, "numbers"),
    ({"values": [1.0], "horizon": 0}, "horizon"),
    ({"values": [1.0], "horizon": 65}, "horizon"),
    ({"values": [1.0], "horizon": True}, "horizon"),
    ({"values": [1e39]}, "float32"),
    ({"values": [1.0], "extra": 1}, "unknown field"),
    ({"state": None}, "values"),
])
def test_bad_input_is_422(client: TestClient, body: dict, words: str) -> None:  # type: ignore[type-arg]
    response = client.post(ROUTE, json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    shutil.copytree(MODELS / "sine_stream" / "1", tmp_path / "sine_stream" / "1")
    second = tmp_path / "sine_stream" / "2"
    shutil.copytree(MODELS / "sine_stream" / "1", second)
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["version"] = 2
    (second / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_token_from_another_version_is_409(two_versions: Path) -> None:
    with make_client(model_dir=two_versions) as client:
        wait_ready(client)
        first = client.post(f"{ROUTE}?version=1", json={"values": series(5)}).json()
        assert first["version"] == 1
        response = client.post(ROUTE, json={"values": [1.0], "state": first["state"]})  # the newest is 2
        assert response.status_code == 409
        assert "version 1" in response.json()["detail"] and "?version=1" in response.json()["detail"]
        assert client.post(f"{ROUTE}?version=1", json={"values": [1.0], "state": first["state"]}).status_code == 200


def test_v2_carries_the_state_as_tensors(client: TestClient) -> None:
    values = series(30)

    def step(chunk: list[float], state: dict | None) -> dict:  # type: ignore[type-arg]
        inputs = [{"name": "values", "datatype": "FP32", "shape": [1, len(chunk)], "data": chunk},
                  {"name": "horizon", "datatype": "INT64", "shape": [1], "data": [16]}]
        for name, tensor in (state or {}).items():
            inputs.append({"name": name.removesuffix("_out"), "datatype": tensor["datatype"],
                           "shape": tensor["shape"], "data": tensor["data"]})
        response = client.post("/v2/models/sine_stream/infer", json={"inputs": inputs})
        assert response.status_code == 200, response.text
        return {o["name"]: o for o in response.json()["outputs"]}

    outputs = step(values[:12], None)
    outputs = step(values[12:], {k: v for k, v in outputs.items() if k != "forecast"})
    whole = feed(client.post, values, [30])
    np.testing.assert_allclose(outputs["forecast"]["data"], whole["forecast"], atol=1e-5)
    bad = client.post("/v2/models/sine_stream/infer", json={"inputs": [
        {"name": "values", "datatype": "FP32", "shape": [1, 1], "data": [1.0]},
        {"name": "h", "datatype": "FP32", "shape": [1, 1, 1], "data": [0.0]}]})
    assert bad.status_code == 400 and "or none" in bad.json()["error"]
    bad = client.post("/v2/models/sine_stream/infer", json={"inputs": [
        {"name": "values", "datatype": "FP32", "shape": [1, 1], "data": [1.0]},
        {"name": "h", "datatype": "FP32", "shape": [1], "data": [0.0]}]})
    assert bad.status_code == 400 and "input 'h' must have shape [-1, -1, -1]" in bad.json()["error"]


def test_any_worker_takes_the_next_step() -> None:
    """Two worker processes over real HTTP, a new connection per step (the kernel spreads them): the state
    token carries everything, so one value at a time equals all at once."""
    process, url = spawn_server("--workers", "2", SEQSERVE_STREAM_KEY="shared-by-every-worker")
    try:
        values = series(40)
        whole = feed(lambda path, json: httpx.post(f"{url}{path}", json=json), values, [40])
        stepped = feed(lambda path, json: httpx.post(f"{url}{path}", json=json), values, [1] * 40)
        np.testing.assert_allclose(stepped["forecast"], whole["forecast"], atol=1e-5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_v2_sequences_keep_the_state_in_the_server(server: str) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(server.removeprefix("http://"))
    values = series(20)

    def step(model: str, chunk: list[float], **sequence: object) -> np.ndarray:
        tensor = triton.InferInput("values", [1, len(chunk)], "FP32")
        tensor.set_data_from_numpy(np.array([chunk], dtype=np.float32))
        result = client.infer(model, [tensor], outputs=[triton.InferRequestedOutput("forecast")], **sequence)
        return result.as_numpy("forecast")[0]

    step("sine_stream", values[:5], sequence_id=7, sequence_start=True)
    for value in values[5:-1]:
        step("sine_stream", [value], sequence_id=7)
    last = step("sine_stream", values[-1:], sequence_id=7, sequence_end=True)
    whole = httpx.post(f"{server}{ROUTE}", json={"values": values}).json()["forecast"]
    np.testing.assert_allclose(last[:16], whole, atol=1e-5)
    with pytest.raises(InferenceServerException, match="not live here"):  # ended
        step("sine_stream", [1.0], sequence_id=7)
    with pytest.raises(InferenceServerException, match="not live here"):  # never started
        step("sine_stream", [1.0], sequence_id="other")
    images = triton.InferInput("images", [1, 28, 28], "FP32")
    images.set_data_from_numpy(np.zeros((1, 28, 28), dtype=np.float32))
    with pytest.raises(InferenceServerException, match="keeps no state"):
        client.infer("digit", [images], sequence_id=3, sequence_start=True)
