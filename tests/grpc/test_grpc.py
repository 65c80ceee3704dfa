"""tritonclient.grpc (and its asyncio client) against a real server: health, metadata, inference with raw
and typed contents equal to the typed HTTP answers, streaming, and errors as gRPC status codes."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
import tritonclient.grpc.aio as triton_aio
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from tritonclient.utils import InferenceServerException

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import free_port, spawn_server

KEY = "grpc-secret"


@pytest.fixture(scope="module")
def urls() -> Iterator[tuple[str, str]]:
    """(HTTP url, gRPC address) of one server with an API key and a 1 MiB message limit."""
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_GRPC_PORT=str(grpc_port), SEQSERVE_API_KEY=KEY,
                                SEQSERVE_MAX_BODY_BYTES=str(1024 * 1024))
    try:
        yield url, f"127.0.0.1:{grpc_port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(urls: tuple[str, str]) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(urls[1])


AUTH = {"authorization": f"Bearer {KEY}"}


def typed(url: str, path: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    for name in ("digit", "sine", "dates", "words"):
        assert client.is_model_ready(name) and client.is_model_ready(name, "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("digit", "9")
    assert {"binary_tensor_data", "model_repository"} <= set(client.get_server_metadata().extensions)
    digit = client.get_model_metadata("digit", as_json=True)
    assert digit["platform"] == "onnxruntime_onnx" and digit["versions"] == ["1"]
    assert digit["inputs"] == [{"name": "images", "datatype": "FP32", "shape": ["-1", "28", "28"]}]
    assert [o["name"] for o in digit["outputs"]] == ["probabilities", "digit"]
    assert client.get_model_metadata("dates", "1").inputs[0].datatype == "BYTES"
    with pytest.raises(InferenceServerException, match="UNIMPLEMENTED"):  # no shared memory, as documented
        client.get_system_shared_memory_status()


def digit_inputs() -> list[triton.InferInput]:
    images = np.array([DIGIT_EXAMPLE, DIGIT_EXAMPLE], dtype=np.float32)
    tensor = triton.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images)
    return [tensor]


def test_every_model_answers_as_the_typed_api(client: triton.InferenceServerClient, urls: tuple[str, str]) -> None:
    url = urls[0]
    result = client.infer("digit", digit_inputs(), headers=AUTH)
    answer = typed(url, "/predict/digit", {"images": [DIGIT_EXAMPLE, DIGIT_EXAMPLE]})["predictions"]
    assert result.as_numpy("digit").tolist() == [p["digit"] for p in answer] == [7, 7]  # type: ignore[union-attr]
    np.testing.assert_allclose(result.as_numpy("probabilities"), [p["probabilities"] for p in answer], atol=1e-6)  # type: ignore[union-attr]

    series = np.sin(0.2 * np.arange(64, dtype=np.float32))[None].repeat(2, axis=0)
    inputs = [triton.InferInput("series", list(series.shape), "FP32"), triton.InferInput("horizon", [1], "INT64")]
    inputs[0].set_data_from_numpy(series)
    inputs[1].set_data_from_numpy(np.array([8], dtype=np.int64))
    result = client.infer("sine", inputs, outputs=[triton.InferRequestedOutput("forecast")], headers=AUTH)
    answer = typed(url, "/predict/sine", {"series": series.tolist(), "horizon": 8})
    np.testing.assert_allclose(result.as_numpy("forecast"), answer["forecasts"], atol=1e-5)  # type: ignore[arg-type]
    assert result.get_output("scores") is None  # only the requested output comes back

    for model, texts in (("dates", ["3 March 1998", "1er mai 2001"]), ("words", ["man", "king"])):
        tensor = triton.InferInput("texts", [2], "BYTES")
        tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=np.object_))
        result = client.infer(model, [tensor], headers=AUTH)
        answer = typed(url, f"/predict/translate?model={model}", {"texts": texts})
        assert [t.decode() for t in result.as_numpy("translations")] == [t["text"] for t in answer["translations"]]  # type: ignore[index]
        np.testing.assert_allclose(result.as_numpy("scores"), [t["score"] for t in answer["translations"]], atol=1e-5)  # type: ignore[index]


def test_typed_contents_equal_raw_contents(urls: tuple[str, str], client: triton.InferenceServerClient) -> None:
    """Clients other than tritonclient often send typed `contents` instead of raw bytes."""
    stub = pb_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(urls[1]))
    metadata = tuple(AUTH.items())
    request = pb.ModelInferRequest(model_name="digit", model_version="1", id="typed")
    images = request.inputs.add(name="images", datatype="FP32", shape=[1, 28, 28])
    images.contents.fp32_contents.extend(np.asarray(DIGIT_EXAMPLE, dtype=np.float32).ravel().tolist())
    response = stub.ModelInfer(request, metadata=metadata)
    assert response.id == "typed" and response.model_version == "1"
    raw = client.infer("digit", digit_inputs(), headers=AUTH)
    probabilities = np.frombuffer(response.raw_output_contents[0], dtype=np.float32).reshape(1, 10)
    np.testing.assert_allclose(probabilities[0], raw.as_numpy("probabilities")[0], atol=1e-6)

    for model, text, expected in (("dates", b"3 March 1998", b"1998-03-03"), ("words", b"king", b"queen")):
        request = pb.ModelInferRequest(model_name=model)
        texts = request.inputs.add(name="texts", datatype="BYTES", shape=[1])
        texts.contents.bytes_contents.append(text)
        response = stub.ModelInfer(request, metadata=metadata)
        assert response.raw_output_contents[0][4:] == expected  # 4-byte length, then the text

    series = np.sin(0.2 * np.arange(64, dtype=np.float32))[None]
    request = pb.ModelInferRequest(model_name="sine")
    request.inputs.add(name="series", datatype="FP32", shape=[1, 64]).contents.fp32_contents.extend(
        series.ravel().tolist())
    request.inputs.add(name="horizon", datatype="INT64", shape=[1]).contents.int64_contents.append(8)
    response = stub.ModelInfer(request, metadata=metadata)
    forecast = np.frombuffer(response.raw_output_contents[0], dtype=np.float32)
    answer = typed(urls[0], "/predict/sine", {"series": series.tolist(), "horizon": 8})["forecasts"]
    np.testing.assert_allclose(forecast, answer[0], atol=1e-5)  # type: ignore[index]


def test_errors_are_status_codes(urls: tuple[str, str], client: triton.InferenceServerClient) -> None:
    def status(call: object) -> str:
        with pytest.raises(InferenceServerException) as raised:
            call()  # type: ignore[operator]
        return str(raised.value.status())

    assert status(lambda: client.infer("digit", digit_inputs())) == "StatusCode.UNAUTHENTICATED"
    assert status(lambda: client.infer("digit", digit_inputs(), headers={"authorization": "Bearer no"})) \
        == "StatusCode.UNAUTHENTICATED"
    assert status(lambda: client.infer("nope", digit_inputs(), headers=AUTH)) == "StatusCode.NOT_FOUND"
    assert status(lambda: client.infer("digit", digit_inputs(), model_version="7", headers=AUTH)) \
        == "StatusCode.NOT_FOUND"
    wrong = triton.InferInput("images", [1, 28, 27], "FP32")
    wrong.set_data_from_numpy(np.zeros((1, 28, 27), dtype=np.float32))
    assert status(lambda: client.infer("digit", [wrong], headers=AUTH)) == "StatusCode.INVALID_ARGUMENT"
    text = triton.InferInput("texts", [1], "BYTES")
    text.set_data_from_numpy(np.array([b"3 March 1998"], dtype=np.object_))
    assert status(lambda: client.infer("dates", [text], outputs=[triton.InferRequestedOutput("nope")],
                                       headers=AUTH)) == "StatusCode.INVALID_ARGUMENT"
    big = triton.InferInput("images", [400, 28, 28], "FP32")  # 1.25 MB over the 1 MiB limit
    big.set_data_from_numpy(np.zeros((400, 28, 28), dtype=np.float32))
    assert status(lambda: client.infer("digit", [big], headers=AUTH)) == "StatusCode.RESOURCE_EXHAUSTED"
    assert client.is_server_ready()  # and still serving
    assert client.infer("digit", digit_inputs(), headers=AUTH).as_numpy("digit").tolist() == [7, 7]


def test_stream_answers_every_request_by_id(client: triton.InferenceServerClient) -> None:
    answers: queue.Queue[tuple[object, object]] = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=AUTH)
    try:
        for index in range(12):
            client.async_stream_infer("digit", digit_inputs(), request_id=f"r{index}")
        bad = triton.InferInput("images", [1, 28, 27], "FP32")
        bad.set_data_from_numpy(np.zeros((1, 28, 27), dtype=np.float32))
        client.async_stream_infer("digit", [bad], request_id="bad")
        got = [answers.get(timeout=30) for _ in range(13)]
    finally:
        client.stop_stream()
    results = {r.get_response().id: r for r, e in got if e is None}  # type: ignore[attr-defined]
    errors = [e for _, e in got if e is not None]
    assert sorted(results) == sorted(f"r{i}" for i in range(12))
    assert all(r.as_numpy("digit").tolist() == [7, 7] for r in results.values())  # type: ignore[attr-defined]
    assert len(errors) == 1 and "28, 28" in str(errors[0])


def test_a_client_over_its_queue_share_is_resource_exhausted(urls: tuple[str, str]) -> None:
    """16 concurrent requests of 256 images each from one client, whose share of the 2,048-item queue is
    512: some are refused at once, as over its share (a full queue is UNAVAILABLE: tests/batching)."""
    images = np.random.default_rng(1).random((256, 28, 28), dtype=np.float32)

    async def main() -> list[object]:
        client = triton_aio.InferenceServerClient(urls[1])
        tensor = triton_aio.InferInput("images", list(images.shape), "FP32")
        tensor.set_data_from_numpy(images)
        try:
            return await asyncio.gather(*(client.infer("digit", [tensor], headers=AUTH) for _ in range(16)),
                                        return_exceptions=True)
        finally:
            await client.close()

    outcomes = asyncio.run(main())
    refused = [o for o in outcomes if isinstance(o, InferenceServerException)]
    assert refused and all("RESOURCE_EXHAUSTED" in str(o.status()) and "its share" in str(o) for o in refused)
    assert len(refused) < 16  # the others were answered


def test_asyncio_client_concurrent_requests(urls: tuple[str, str]) -> None:
    async def main() -> list[list[int]]:
        client = triton_aio.InferenceServerClient(urls[1])
        try:
            assert await client.is_server_ready()
            results = await asyncio.gather(*(client.infer("digit", digit_inputs(), headers=AUTH) for _ in range(16)))
            return [r.as_numpy("digit").tolist() for r in results]
        finally:
            await client.close()

    assert asyncio.run(main()) == [[7, 7]] * 16


def test_requests_are_counted_in_metrics(urls: tuple[str, str], client: triton.InferenceServerClient) -> None:
    client.infer("digit", digit_inputs(), headers=AUTH)
    text = httpx.get(f"{urls[0]}/metrics").text
    assert ('seqserve_requests_total{model="digit",outcome="ok",protocol="grpc",route="ModelInfer",version="1"}'
            in text)


def test_config_and_statistics_agree_with_rest(urls: tuple[str, str], client: triton.InferenceServerClient) -> None:
    http = httpx.Client(base_url=urls[0])
    config = client.get_model_config("digit", as_json=True)["config"]
    assert config == {**config, "name": "digit", "platform": "onnxruntime_onnx", "max_batch_size": 64}
    assert config["input"] == [{"name": "images", "data_type": "TYPE_FP32", "dims": ["28", "28"]}]
    assert config["version_policy"] == {"all": {}}
    assert http.get("/v2/models/digit/config").json()["input"] == [
        {"name": "images", "data_type": "TYPE_FP32", "dims": [28, 28]}]
    sine = client.get_model_config("sine", "1", as_json=True)["config"]
    assert "max_batch_size" not in sine  # 0: its horizon input is not batched, so dims are whole shapes
    assert [i["dims"] for i in sine["input"]] == [["-1", "-1"], ["1"]]
    assert client.get_model_config("dates", as_json=True)["config"]["input"][0]["data_type"] == "TYPE_STRING"

    before = client.get_inference_statistics("digit", as_json=True)["model_stats"][0]
    for _ in range(5):
        client.infer("digit", digit_inputs(), headers=AUTH)
    after = client.get_inference_statistics("digit", "1", as_json=True)["model_stats"][0]
    rest = http.get("/v2/models/digit/versions/1/stats").json()["model_stats"][0]
    success = int(after["inference_stats"]["success"]["count"]) - int(before["inference_stats"]["success"]["count"])
    assert success == 5
    assert int(after["inference_count"]) - int(before.get("inference_count", 0)) == 10  # two images each
    assert rest["inference_stats"]["success"]["count"] == int(after["inference_stats"]["success"]["count"])
    assert rest["batch_stats"] and all(b["compute_infer"]["ns"] > 0 for b in rest["batch_stats"])
    every = http.get("/v2/models/stats").json()["model_stats"]
    assert {m["name"] for m in every} == {"digit", "sine", "sine_stream", "dates", "words"}
    assert len(client.get_inference_statistics(as_json=True)["model_stats"]) == 5
    with pytest.raises(InferenceServerException, match="NOT_FOUND"):
        client.get_model_config("nope")
    assert http.get("/v2/models/nope/stats").status_code == 404


def test_timeout_parameter_is_honoured(urls: tuple[str, str], client: triton.InferenceServerClient) -> None:
    images = np.random.default_rng(0).random((256, 28, 28), dtype=np.float32)  # tens of ms of model time
    tensor = triton.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images)
    with pytest.raises(InferenceServerException, match="DEADLINE_EXCEEDED"):
        client.infer("digit", [tensor], timeout=1000, headers=AUTH)  # 1 ms, in microseconds as Triton's
    assert client.infer("digit", [tensor], timeout=30_000_000, headers=AUTH).as_numpy("digit").shape == (256,)
    import tritonclient.http as triton_http

    rest = triton_http.InferenceServerClient(urls[0].removeprefix("http://"))
    rest_tensor = triton_http.InferInput("images", list(images.shape), "FP32")
    rest_tensor.set_data_from_numpy(images)
    with pytest.raises(InferenceServerException, match="within"):
        rest.infer("digit", [rest_tensor], timeout=1000, headers=dict(AUTH))  # it adds to the dict
    bad = httpx.post(f"{urls[0]}/v2/models/digit/infer", headers=AUTH, json={
        "parameters": {"timeout": "soon"},
        "inputs": [{"name": "images", "shape": [1, 28, 28], "datatype": "FP32", "data": [0.0] * 784}]})
    assert bad.status_code == 400 and "timeout" in bad.json()["error"]


def test_repository_calls_over_grpc(client: triton.InferenceServerClient) -> None:
    index = client.get_model_repository_index(headers=AUTH, as_json=True)["models"]
    assert {(m["name"], m["state"]) for m in index} == {(name, "READY") for name in
                                                         ("digit", "sine", "sine_stream", "dates", "words")}
    with pytest.raises(InferenceServerException, match="UNAUTHENTICATED"):
        client.get_model_repository_index()
    with pytest.raises(InferenceServerException, match="SEQSERVE_MODEL_CONTROL=explicit"):
        client.load_model("digit", headers=AUTH)  # this server does not allow it


def test_stream_carries_sequences_in_order(client: triton.InferenceServerClient, urls: tuple[str, str]) -> None:
    values = [float(np.sin(0.2 * t)) for t in range(12)]
    answers: queue.Queue[tuple[object, object]] = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)), headers=AUTH)
    try:
        for index, value in enumerate(values):  # sent back to back: the server runs a sequence's steps in order
            tensor = triton.InferInput("values", [1, 1], "FP32")
            tensor.set_data_from_numpy(np.array([[value]], dtype=np.float32))
            client.async_stream_infer("sine_stream", [tensor], request_id=str(index), sequence_id=42,
                                      sequence_start=index == 0, sequence_end=index == len(values) - 1)
        got = [answers.get(timeout=30) for _ in values]
    finally:
        client.stop_stream()
    assert all(error is None for _, error in got), [e for _, e in got if e]
    last = next(r for r, _ in got if r.get_response().id == str(len(values) - 1))  # type: ignore[attr-defined]
    whole = typed(urls[0], "/predict/sine/stream", {"values": values})["forecast"]
    np.testing.assert_allclose(last.as_numpy("forecast")[0][:16], whole, atol=1e-5)  # type: ignore[attr-defined]


def test_a_request_that_fails_unforeseen_inside_a_stream_still_gets_its_answer() -> None:
    """An error no check foresaw (here a task raising KeyError) answers its own request inside the stream,
    and the stream goes on."""
    from tests.conftest import make_client, wait_ready

    port = free_port()
    with make_client(grpc_port=port, models="digit") as app_client:
        wait_ready(app_client)
        model = app_client.app.state.registry.get("digit").model  # type: ignore[attr-defined]
        original = model.parse_tensors

        def flaky(inputs):  # type: ignore[no-untyped-def]
            if inputs["images"].shape[0] == 1:
                raise KeyError("unforeseen")
            return original(inputs)

        model.parse_tensors = flaky
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        answers: queue.Queue[tuple[object, object]] = queue.Queue()
        client.start_stream(callback=lambda result, error: answers.put((result, error)))
        try:
            one = triton.InferInput("images", [1, 28, 28], "FP32")
            one.set_data_from_numpy(np.asarray([DIGIT_EXAMPLE], dtype=np.float32))
            client.async_stream_infer("digit", [one], request_id="fails")
            client.async_stream_infer("digit", digit_inputs(), request_id="works")
            got = [answers.get(timeout=30) for _ in range(2)]
        finally:
            client.stop_stream()
        errors = [e for _, e in got if e is not None]
        results = [r.get_response().id for r, e in got if e is None]  # type: ignore[attr-defined]
        assert len(errors) == 1 and "internal error" in str(errors[0]) and results == ["works"]


@contextlib.contextmanager
def socket_watch(port: int) -> Iterator[set[int]]:
    """The client ports of every connection to `port` seen while the block runs (sampled from `ss`)."""
    seen: set[int] = set()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out = subprocess.run(["ss", "-tnH", "state", "established", f"( dport = :{port} )"],
                                 capture_output=True, text=True).stdout
            seen.update(int(line.split()[-2].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip())
            stop.wait(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()


def test_a_channel_past_its_age_reconnects_without_a_failed_call() -> None:
    grpc_port = free_port()
    process, _ = spawn_server(SEQSERVE_GRPC_PORT=str(grpc_port), SEQSERVE_GRPC_MAX_CONNECTION_AGE_S="0.3",
                              SEQSERVE_MODELS="digit")
    try:
        client = triton.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        images = triton.InferInput("images", [1, 28, 28], "FP32")
        images.set_data_from_numpy(np.array([DIGIT_EXAMPLE], dtype=np.float32))
        digits = []
        with socket_watch(grpc_port) as peers:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                digits.append(int(client.infer("digit", [images]).as_numpy("digit")[0]))
        assert set(digits) == {7} and len(digits) > 20
        assert len(peers) >= 2  # the channel was told to go and came back on new connections
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
