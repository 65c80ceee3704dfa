"""The gRPC codec without a server: typed and raw contents read alike, deadlines and parameters taken."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import service_pb2 as pb

from app.grpc.codec import infer_response, inference, parse_inputs
from app.tensors import Tensor, TensorError, encode_bytes


def request(raw: bool) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="m")
    x = message.inputs.add(name="x", datatype="FP32", shape=[2])
    t = message.inputs.add(name="t", datatype="BYTES", shape=[1])
    if raw:
        message.raw_input_contents.append(np.array([1.0, 2.0], dtype=np.float32).tobytes())
        message.raw_input_contents.append(encode_bytes([b"hi"]))
    else:
        x.contents.fp32_contents.extend([1.0, 2.0])
        t.contents.bytes_contents.append(b"hi")
    return message


def test_typed_and_raw_contents_read_alike() -> None:
    for raw in (False, True):
        inputs = parse_inputs(request(raw))
        assert inputs["x"].data.tolist() == [1.0, 2.0] and inputs["t"].data == [b"hi"]


def test_the_sooner_deadline_and_the_sequence_are_taken() -> None:
    message = request(raw=False)
    message.parameters["timeout"].int64_param = 5_000_000
    message.parameters["sequence_id"].string_param = "s1"
    message.parameters["sequence_end"].bool_param = True
    message.outputs.add(name="y")
    taken = inference(message, deadline_s=2.0)
    assert taken.timeout_s == 2.0 and taken.outputs == ["y"]
    assert taken.sequence is not None and (taken.sequence.id, taken.sequence.end) == ("s1", True)
    assert inference(message, deadline_s=None).timeout_s == 5.0


@pytest.mark.parametrize(("change", "words"), [
    (lambda m: m.ClearField("inputs"), "no inputs"),
    (lambda m: m.raw_input_contents.append(b"\x00" * 8), "raw_input_contents for"),
    (lambda m: m.inputs[0].shape.append(-1), "negative dimension"),
    (lambda m: setattr(m.inputs[0], "datatype", "FP17"), "unknown datatype"),
    (lambda m: m.inputs[0].contents.fp32_contents.append(3.0), "do not make shape"),
])
def test_messages_that_break_the_protocol_are_invalid(change, words: str) -> None:  # type: ignore[no-untyped-def]
    message = request(raw=False)
    change(message)
    with pytest.raises(TensorError, match=words):
        parse_inputs(message)


def test_outputs_travel_raw() -> None:
    response = infer_response("m", 2, request(raw=False), [Tensor("y", "INT64", [2], np.array([3, 4]))])
    assert (response.model_name, response.model_version) == ("m", "2")
    assert np.frombuffer(response.raw_output_contents[0], dtype="<i8").tolist() == [3, 4]


def test_a_shape_whose_size_overflows_int64_is_invalid_not_internal() -> None:
    message = pb.ModelInferRequest(model_name="m")
    message.inputs.add(name="x", datatype="FP32", shape=[2**62, 2**62, 4])
    message.raw_input_contents.append(b"")  # int64 arithmetic makes that shape's size 0
    with pytest.raises(TensorError, match="do not make shape"):
        parse_inputs(message)
    typed = pb.ModelInferRequest(model_name="m")
    typed.inputs.add(name="x", datatype="FP32", shape=[2**62, 2**62, 4])
    with pytest.raises(TensorError, match="do not make shape"):
        parse_inputs(typed)


def test_a_tensor_sent_twice_or_two_ways_is_refused() -> None:
    twice = request(raw=False)
    twice.inputs.add(name="x", datatype="FP32", shape=[2]).contents.fp32_contents.extend([3.0, 4.0])
    with pytest.raises(TensorError, match="'x' is sent twice"):
        parse_inputs(twice)
    both = request(raw=True)
    both.inputs[0].contents.fp32_contents.extend([1.0, 2.0])
    with pytest.raises(TensorError, match="'x': both typed contents and raw_input_contents"):
        parse_inputs(both)
