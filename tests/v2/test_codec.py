"""The V2 REST codec without HTTP: JSON and binary tensors in, the response's JSON and binary parts out."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from app.errors import BadRequest
from app.tensors import Tensor, encode_bytes
from app.v2.codec import encode_infer_response, parse_infer_request


def test_json_and_binary_inputs_read_alike() -> None:
    images = np.arange(6, dtype=np.float32).reshape(1, 2, 3)
    as_json = orjson.dumps({"id": "7", "inputs": [
        {"name": "x", "datatype": "FP32", "shape": [1, 2, 3], "data": images.ravel().tolist()},
        {"name": "t", "datatype": "BYTES", "shape": [2], "data": ["a", "bé"]}],
        "parameters": {"timeout": 2_000_000, "sequence_id": 5, "sequence_start": True}})
    parsed = parse_infer_request(as_json, None)
    header = orjson.dumps({"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [1, 2, 3], "parameters": {"binary_data_size": 24}},
        {"name": "t", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 12}}]})
    binary = parse_infer_request(header + images.tobytes() + encode_bytes([b"a", "bé".encode()]), len(header))
    for request in (parsed, binary):
        np.testing.assert_array_equal(request.inputs["x"].data, images)
        assert request.inputs["t"].data == [b"a", "bé".encode()]
    assert parsed.id == "7" and parsed.timeout_s == 2.0
    assert parsed.sequence is not None and (parsed.sequence.id, parsed.sequence.start) == ("5", True)


@pytest.mark.parametrize(("body", "header", "words"), [
    (b"{bad", None, "not valid JSON"),
    (b'{"inputs": []}', None, "non-empty 'inputs'"),
    (b'{"inputs": [{"name": "x", "datatype": "FP17", "shape": [1], "data": [1]}]}', None, "unknown datatype"),
    (b'{"inputs": [{"name": "x", "datatype": {}, "shape": [1], "data": [1]}]}', None, "unknown datatype"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1]}]}', None, "do not make shape"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]}', None, "non-negative"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": ["a"]}]}', None, "not all FP32"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}', None, "no 'data'"),
    (b'{"inputs": []}', 99, "does not fit"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": {"timeout": -1}}',
     None, "'timeout'"),
    # what the document declares an object, a list or a string is one (null included)
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": [1]}', None,
     "'parameters' must be an object"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "parameters": null}', None,
     "'parameters' must be an object"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": 3}]}', None,
     "input 'x': 'parameters' must be an object"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "outputs": {}}', None,
     "'outputs' must be a list"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "outputs": [{"name": "y", '
     b'"parameters": []}]}', None, "output 'y': 'parameters' must be an object"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "id": null}', None,
     "'id' must be a string"),
])
def test_bodies_that_break_the_protocol_are_400(body: bytes, header: int | None, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        parse_infer_request(body, header)


def test_outputs_go_out_binary_where_asked() -> None:
    request = parse_infer_request(orjson.dumps({"inputs": [{"name": "x", "datatype": "INT64", "shape": [1],
                                                            "data": [1]}],
                                                "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}),
                                  None)
    y = Tensor("y", "FP32", [2], np.array([1.5, 2.5], dtype=np.float32))
    body, headers = encode_infer_response("m", 3, request, [y])
    length = int(headers["inference-header-content-length"])
    head = orjson.loads(body[:length])
    assert head == {"model_name": "m", "model_version": "3", "outputs": [
        {"name": "y", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}}]}
    assert struct.unpack("<2f", body[length:]) == (1.5, 2.5)
    plain, plain_headers = encode_infer_response("m", 3, parse_infer_request(
        b'{"inputs": [{"name": "x", "datatype": "INT64", "shape": [1], "data": [1]}]}', None), [y])
    assert orjson.loads(plain)["outputs"][0]["data"] == [1.5, 2.5]
    assert plain_headers == {"content-type": "application/json"}


def test_a_shape_whose_size_overflows_int64_is_400() -> None:
    binary = orjson.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2**62, 2**62, 4],
                                       "parameters": {"binary_data_size": 0}}]})
    with pytest.raises(BadRequest, match="do not make shape"):  # int64 arithmetic makes that shape's size 0
        parse_infer_request(binary, len(binary))
    typed = orjson.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2**62, 2**62, 4], "data": []}]})
    with pytest.raises(BadRequest, match="do not make shape"):
        parse_infer_request(typed, None)


@pytest.mark.parametrize(("body", "header", "words"), [
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]},'
     b' {"name": "x", "datatype": "FP32", "shape": [1], "data": [2]}]}', None, "'x' is sent twice"),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1],'
     b' "parameters": {"binary_data_size": 4}}]}\x00\x00\x80\x3f', 113, "'x': both 'data' and binary_data_size"),
])
def test_a_tensor_sent_twice_or_two_ways_is_refused(body: bytes, header: int | None, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        parse_infer_request(body, header)
