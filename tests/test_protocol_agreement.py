"""The same request means the same on typed REST, V2 REST and gRPC: a version that can never be one, a
version that is not loaded, and a bad tensor each get one canonical code, whatever the protocol's shape."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from app.errors import code_of_status
from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import free_port, spawn_server

GOOD = np.asarray([DIGIT_EXAMPLE], dtype=np.float32)
BAD = np.full((1, 28, 28), 2.0, dtype=np.float32)  # pixels outside [0, 1]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, str]]:
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_GRPC_PORT=str(grpc_port), SEQSERVE_MODELS="digit")
    try:
        yield url, f"127.0.0.1:{grpc_port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def typed_rest(url: str, version: str | None, images: np.ndarray) -> str:
    query = {} if version is None else {"version": version}
    response = httpx.post(f"{url}/predict/digit", params=query, json={"images": images.tolist()})
    return code_of_status(response.status_code)


def v2_rest(url: str, version: str | None, images: np.ndarray) -> str:
    path = "/v2/models/digit" + ("" if version is None else f"/versions/{version}") + "/infer"
    body = {"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 28, 28], "data": images.ravel().tolist()}]}
    response = httpx.post(f"{url}{path}", json=body)
    assert "error" in response.json() or response.status_code == 200
    return code_of_status(response.status_code)


def grpc_call(address: str, version: str | None, images: np.ndarray) -> str:
    request = pb.ModelInferRequest(model_name="digit", model_version=version or "")
    request.inputs.add(name="images", datatype="FP32", shape=[1, 28, 28])
    request.raw_input_contents.append(images.tobytes())
    with grpc.insecure_channel(address) as channel:
        try:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
        except grpc.RpcError as exc:
            return str(exc.code().name).lower()
    return "ok"


@pytest.mark.parametrize(("version", "images", "expected"), [
    (None, GOOD, "ok"),
    ("1", GOOD, "ok"),
    ("0", GOOD, "invalid_argument"),  # can never name a version
    ("x", GOOD, "invalid_argument"),
    ("9", GOOD, "not_found"),  # could, but is not loaded
    (None, BAD, "invalid_argument"),
])
def test_every_protocol_gives_the_same_meaning(server: tuple[str, str], version: str | None, images: np.ndarray,
                                               expected: str) -> None:
    url, address = server
    answers = {"typed REST": typed_rest(url, version, images), "V2 REST": v2_rest(url, version, images),
               "gRPC": grpc_call(address, version, images)}
    assert answers == dict.fromkeys(answers, expected)
    assert httpx.get(f"{url}/health/ready").status_code == 200
