"""Fuzzing every route of every protocol with what a careless or hostile client sends: no input may be
answered with a server error (HTTP 5xx, gRPC INTERNAL or UNKNOWN, WebSocket close 1011), every request of a
gRPC stream gets its answer, and the server stays healthy. Requests are valid ones with parts replaced by
arbitrary values, and arbitrary ones; the runs are derandomised, so CI sees the same cases every time."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import free_port, spawn_server

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
MODELS = ["digit", "sine", "sine_stream", "dates", "words", "nope", "", "../digit", "dígit"]
DATATYPES = ["BOOL", "UINT8", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "fp32", "", "STRING"]
NAMES = ["images", "series", "horizon", "texts", "beam_size", "date_order", "values", "state", "h", "c", "count",
         "mean", "m2", "pixels", ""]

json_leaves = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
               | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=6)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=30)

VALID = {
    "/predict/digit": {"images": [DIGIT_EXAMPLE]},
    "/predict/sine": {"series": [[0.1 * i for i in range(32)]], "horizon": 8},
    "/predict/sine/stream": {"values": [0.1, 0.2], "horizon": 4, "state": None},
    "/predict/translate": {"texts": ["3 March 2021"], "beam_size": 2, "model": "dates"},
    "/v2/models/digit/infer": {"inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 28, 28],
                                           "data": DIGIT_EXAMPLE}]},
    "/v2/models/dates/infer": {"inputs": [{"name": "texts", "datatype": "BYTES", "shape": [1], "data": ["1 May"]}],
                               "parameters": {"timeout": 1000000}},
    "/v2/models/sine_stream/infer": {"inputs": [{"name": "values", "datatype": "FP32", "shape": [1, 2],
                                                 "data": [0.1, 0.2]}], "parameters": {"sequence_id": 7,
                                                                                      "sequence_start": True}},
    "/v2/repository/models/digit/load": {"parameters": {}},
}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_GRPC_PORT=str(grpc_port), SEQSERVE_MAX_BODY_BYTES=str(256 * 1024))
    try:
        yield url, f"127.0.0.1:{grpc_port}"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def mutate(value: Any, path: list[Any], replacement: Any) -> Any:
    """`value` with the part at `path` (keys and indexes, as far as they reach) replaced."""
    if not path:
        return replacement
    head, rest = path[0], path[1:]
    if isinstance(value, dict) and value:
        key = list(value)[head % len(value)] if isinstance(head, int) else head
        return {**value, key: mutate(value.get(key), rest, replacement)}
    if isinstance(value, list) and value:
        index = head % len(value) if isinstance(head, int) else 0
        return [*value[:index], mutate(value[index], rest, replacement), *value[index + 1:]]
    return replacement


# Where to replace: keys and indexes from the top (an integer picks the n-th key or item), so that a path
# reaches into the inputs of a V2 body as often as into a typed one.
paths = st.lists(st.integers(min_value=0, max_value=3) | st.sampled_from(["data", "shape", "datatype", "name"]),
                 min_size=1, max_size=4)


@settings(FUZZ, max_examples=300)
@given(route=st.sampled_from(sorted(VALID)), path=paths, replacement=json_values,
       content_type=st.sampled_from(["application/json", "application/json", "text/plain", "application/x-www-form-"
                                     "urlencoded", "application/octet-stream"]))
def test_http_routes_never_answer_a_server_error(servers: tuple[str, str], route: str, path: list[Any],
                                                 replacement: Any, content_type: str) -> None:
    body = json.dumps(mutate(VALID[route], path, replacement), allow_nan=True).encode()
    response = httpx.post(f"{servers[0]}{route}", content=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code < 500, (route, body[:300], response.text[:300])


@FUZZ
@given(route=st.sampled_from(sorted(VALID)), raw=st.binary(max_size=300))
def test_http_routes_take_any_bytes(servers: tuple[str, str], route: str, raw: bytes) -> None:
    response = httpx.post(f"{servers[0]}{route}", content=raw, headers={"Content-Type": "application/json"},
                          timeout=30)
    assert response.status_code < 500, (route, raw[:100], response.text[:300])


@FUZZ
@given(model=st.sampled_from(MODELS), version=st.sampled_from(["", "1", "0", "-1", "x", "99999999999999999999"]),
       suffix=st.sampled_from(["", "/ready", "/config", "/stats", "/versions/1"]))
def test_v2_metadata_routes_never_answer_a_server_error(servers: tuple[str, str], model: str, version: str,
                                                        suffix: str) -> None:
    path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + suffix
    assert httpx.get(f"{servers[0]}{path}", timeout=30).status_code < 500, path


contents = st.one_of(
    st.builds(lambda v: pb.InferTensorContents(fp32_contents=v), st.lists(st.floats(width=32), max_size=800)),
    st.builds(lambda v: pb.InferTensorContents(int64_contents=v), st.lists(st.integers(-(2**63), 2**63 - 1),
                                                                          max_size=8)),
    st.builds(lambda v: pb.InferTensorContents(bytes_contents=v), st.lists(st.binary(max_size=30), max_size=4)),
    st.builds(lambda v: pb.InferTensorContents(fp64_contents=v), st.lists(st.floats(), max_size=8)),
    st.builds(lambda v: pb.InferTensorContents(bool_contents=v), st.lists(st.booleans(), max_size=8)),
)
shapes = st.lists(st.sampled_from([0, 1, 2, 28, -1, 2**31, 2**62]) | st.integers(0, 40), max_size=4)


@st.composite
def infer_requests(draw: st.DrawFn) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=draw(st.sampled_from(MODELS)),
                                   model_version=draw(st.sampled_from(["", "", "1", "2", "x"])), id="fuzz")
    raw = draw(st.booleans())
    for _ in range(draw(st.integers(0, 3))):
        tensor = request.inputs.add(name=draw(st.sampled_from(NAMES)), datatype=draw(st.sampled_from(DATATYPES)),
                                    shape=draw(shapes))
        if raw:
            request.raw_input_contents.append(draw(st.binary(max_size=4000)))
        else:
            tensor.contents.CopyFrom(draw(contents))
    if draw(st.booleans()):
        request.raw_input_contents.append(draw(st.binary(max_size=16)))  # one too many, at times
    for name in draw(st.lists(st.sampled_from(["sequence_id", "sequence_start", "sequence_end", "timeout",
                                               "priority"]), max_size=3, unique=True)):
        parameter = request.parameters[name]
        choice = draw(st.integers(0, 2))
        if choice == 0:
            parameter.int64_param = draw(st.integers(-(2**63), 2**63 - 1))
        elif choice == 1:
            parameter.bool_param = draw(st.booleans())
        else:
            parameter.string_param = draw(st.text(max_size=10))
    for name in draw(st.lists(st.sampled_from(["forecast", "digit", "probabilities", "nope"]), max_size=2)):
        request.outputs.add(name=name)
    return request


SERVER_ERRORS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@FUZZ
@given(request=infer_requests())
def test_grpc_infer_never_answers_a_server_error(servers: tuple[str, str], request: pb.ModelInferRequest) -> None:
    with grpc.insecure_channel(servers[1]) as channel:
        try:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
        except grpc.RpcError as exc:
            assert exc.code() not in SERVER_ERRORS, (request, exc.details())


@settings(FUZZ, max_examples=15)
@given(requests=st.lists(infer_requests(), min_size=1, max_size=8))
def test_every_request_of_a_grpc_stream_is_answered(servers: tuple[str, str],
                                                    requests: list[pb.ModelInferRequest]) -> None:
    for index, request in enumerate(requests):
        request.id = str(index)
    with grpc.insecure_channel(servers[1]) as channel:
        answers = list(pb_grpc.GRPCInferenceServiceStub(channel).ModelStreamInfer(iter(requests), timeout=60))
    assert sorted(a.infer_response.id for a in answers) == sorted(r.id for r in requests)
    assert not [a.error_message for a in answers if a.error_message.startswith("internal error")]


frames = (st.builds(lambda v: json.dumps(v, allow_nan=True), json_values)
          | st.builds(lambda p, r: json.dumps(mutate(VALID["/predict/sine/stream"], p, r), allow_nan=True),
                      paths, json_values)
          | st.text(max_size=100) | st.binary(max_size=100))


@settings(FUZZ, max_examples=30)
@given(sent=st.lists(frames, min_size=1, max_size=5))
def test_websocket_frames_never_answer_a_server_error(servers: tuple[str, str], sent: list[str | bytes]) -> None:
    with connect(servers[0].replace("http://", "ws://") + "/predict/sine/stream/ws") as socket:
        try:
            for frame in sent:
                socket.send(frame)
                answer = json.loads(socket.recv(timeout=30))
                assert answer.get("status", 200) < 500, (frame, answer)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code != 1011, (sent, closed.rcvd)


def test_the_server_is_healthy_after_the_fuzzing(servers: tuple[str, str]) -> None:
    url = servers[0]
    assert httpx.get(f"{url}/health/ready", timeout=10).status_code == 200
    answer = httpx.post(f"{url}/predict/digit", json=VALID["/predict/digit"], timeout=30)
    assert answer.status_code == 200 and answer.json()["predictions"][0]["digit"] == 7
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert 'outcome="internal"' not in metrics
