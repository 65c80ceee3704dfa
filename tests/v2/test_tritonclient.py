"""The real tritonclient against a real server: binary tensor data on and off, answers equal the typed API's."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from app.tasks.digit import DIGIT_EXAMPLE


@pytest.fixture(scope="module")
def client(server: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=server.removeprefix("http://"))


def test_server_and_model_health(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    for name in ("digit", "sine", "dates", "words"):
        assert client.is_model_ready(name)
        assert client.is_model_ready(name, "1")
    assert not client.is_model_ready("nope")
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]


def test_model_metadata(client: triton.InferenceServerClient) -> None:
    digit = client.get_model_metadata("digit")
    assert digit["platform"] == "onnxruntime_onnx"
    assert digit["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert [o["name"] for o in digit["outputs"]] == ["probabilities", "digit"]
    assert client.get_model_metadata("dates", "1")["inputs"][0]["datatype"] == "BYTES"


@pytest.mark.parametrize("binary", [True, False])
def test_digit(client: triton.InferenceServerClient, server: str, binary: bool) -> None:
    images = np.array([DIGIT_EXAMPLE, DIGIT_EXAMPLE], dtype=np.float32)
    tensor = triton.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images, binary_data=binary)
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary),
               triton.InferRequestedOutput("digit", binary_data=binary)]
    result = client.infer("digit", [tensor], outputs=outputs)
    typed = httpx.post(f"{server}/predict/digit", json={"images": images.tolist()}).json()["predictions"]
    assert result.as_numpy("digit").tolist() == [p["digit"] for p in typed] == [7, 7]
    np.testing.assert_allclose(result.as_numpy("probabilities"), [p["probabilities"] for p in typed], atol=1e-6)


@pytest.mark.parametrize("binary", [True, False])
def test_sine(client: triton.InferenceServerClient, server: str, binary: bool) -> None:
    series = np.sin(0.2 * np.arange(64, dtype=np.float32))[None].repeat(2, axis=0)
    inputs = [triton.InferInput("series", list(series.shape), "FP32"), triton.InferInput("horizon", [1], "INT64")]
    inputs[0].set_data_from_numpy(series, binary_data=binary)
    inputs[1].set_data_from_numpy(np.array([8], dtype=np.int64), binary_data=binary)
    result = client.infer("sine", inputs, outputs=[triton.InferRequestedOutput("forecast", binary_data=binary)])
    typed = httpx.post(f"{server}/predict/sine", json={"series": series.tolist(), "horizon": 8}).json()
    np.testing.assert_allclose(result.as_numpy("forecast"), typed["forecasts"], atol=1e-5)


@pytest.mark.parametrize("binary", [True, False])
def test_translate(client: triton.InferenceServerClient, server: str, binary: bool) -> None:
    words = ["3 March 1998", "1er mai 2001", "03/04/98", "tomorrow", "March 2020", "31/04/2020"]
    tensor = triton.InferInput("texts", [len(words)], "BYTES")
    tensor.set_data_from_numpy(np.array([w.encode() for w in words], dtype=np.object_), binary_data=binary)
    order = triton.InferInput("date_order", [1], "BYTES")
    order.set_data_from_numpy(np.array([b"MDY"], dtype=np.object_), binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("translations", "scores",
                                                                                 "confidences", "precisions",
                                                                                 "reasons")]
    result = client.infer("dates", [tensor, order], outputs=outputs)
    typed = httpx.post(f"{server}/predict/translate", json={"texts": words, "date_order": "MDY"}).json()

    def texts(name: str) -> list[str]:
        return [t.decode() if isinstance(t, bytes) else t for t in result.as_numpy(name)]

    decoded = texts("translations")
    assert decoded == [t["text"] or "" for t in typed["translations"]]  # an abstention is the empty text
    assert decoded == ["1998-03-03", "2001-05-01", "1998-03-04", "", "2020-03", ""]
    assert texts("precisions") == ["day", "day", "day", "", "month", ""]
    assert texts("reasons") == [t["reason"] or "" for t in typed["translations"]]
    assert "no 31 April" in texts("reasons")[5]
    np.testing.assert_allclose(result.as_numpy("scores"), [t["score"] for t in typed["translations"]], atol=1e-5)
    np.testing.assert_allclose(result.as_numpy("confidences"), [t["confidence"] for t in typed["translations"]],
                               atol=1e-5)
    # the caller asks for days: a month and year is then no answer, with the reason
    precision = triton.InferInput("min_precision", [1], "BYTES")
    precision.set_data_from_numpy(np.array([b"day"], dtype=np.object_), binary_data=binary)
    result = client.infer("dates", [tensor, order, precision], outputs=outputs)
    assert texts("translations")[4] == "" and "month only" in texts("reasons")[4]


def test_errors_are_protocol_errors(client: triton.InferenceServerClient, server: str) -> None:
    tensor = triton.InferInput("texts", [1], "BYTES")
    tensor.set_data_from_numpy(np.array(["3 March 1998"], dtype=np.object_))
    order = triton.InferInput("date_order", [1], "BYTES")
    order.set_data_from_numpy(np.array(["DM"], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="must be one of DMY, MDY, YMD"):
        client.infer("dates", [tensor, order])
    response = httpx.post(f"{server}/v2/models/nope/infer", json={"inputs": []})
    assert response.status_code == 404 and "error" in response.json()
    response = httpx.post(f"{server}/v2/models/digit/infer", json={"inputs": [
        {"name": "images", "shape": [1, 28, 27], "datatype": "FP32", "data": [0.0] * (28 * 27)}]})
    assert response.status_code == 400 and "must have shape [-1, 28, 28]" in response.json()["error"]
    response = httpx.post(f"{server}/v2/models/digit/infer", content=b"{bad",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()


def test_model_configuration_and_statistics_extensions(client: triton.InferenceServerClient) -> None:
    extensions = client.get_server_metadata()["extensions"]
    assert {"model_configuration", "statistics", "model_repository"} <= set(extensions)
    config = client.get_model_config("digit")
    assert config["max_batch_size"] == 64 and config["input"][0]["dims"] == [28, 28]
    assert config["dynamic_batching"]["default_queue_policy"]["max_queue_size"] == 2048
    images = np.array([DIGIT_EXAMPLE], dtype=np.float32)
    tensor = triton.InferInput("images", [1, 28, 28], "FP32")
    tensor.set_data_from_numpy(images)
    before = client.get_inference_statistics("digit")["model_stats"][0]["inference_stats"]["success"]["count"]
    client.infer("digit", [tensor])
    stats = client.get_inference_statistics("digit", "1")["model_stats"][0]
    assert stats["inference_stats"]["success"]["count"] == before + 1
    assert stats["execution_count"] >= 1 and stats["last_inference"] > 0
    with pytest.raises(InferenceServerException):
        client.get_model_config("nope")
