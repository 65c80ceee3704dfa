"""Tensors in and out of gRPC infer messages: typed `contents`, or `raw_input_contents` /
`raw_output_contents` (little-endian bytes; BYTES elements each prefixed by a 4-byte length, as in
the REST binary extension, whose helpers this shares)."""

from __future__ import annotations

from typing import Any

import numpy as np
from tritonclient.grpc import service_pb2 as pb

from app.dataplane import Inference, timeout_parameter
from app.sequences import sequence_request
from app.tensors import DTYPES, Tensor, decode_bytes, element_count, encode_bytes
from app.tensors import TensorError as CodecError

# Which field of InferTensorContents carries each datatype (FP16 travels raw only, as in Triton).
CONTENTS = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}


def parse_inputs(request: pb.ModelInferRequest) -> dict[str, Tensor]:
    if not request.inputs:
        raise CodecError("request has no inputs")
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise CodecError(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; send one per input")
    inputs: dict[str, Tensor] = {}
    for index, spec in enumerate(request.inputs):
        name, datatype, shape = spec.name, spec.datatype, [int(d) for d in spec.shape]
        if name in inputs:
            raise CodecError(f"input {name!r} is sent twice; send each input once")
        if raw and spec.HasField("contents"):
            raise CodecError(f"input {name!r}: both typed contents and raw_input_contents; send the tensor one way")
        if datatype != "BYTES" and datatype not in DTYPES:
            raise CodecError(f"input {name!r}: unknown datatype {datatype!r}")
        if any(d < 0 for d in shape):
            raise CodecError(f"input {name!r}: shape {shape} has a negative dimension")
        count = element_count(shape)
        data: np.ndarray | list[bytes]
        if raw:
            if datatype == "BYTES":
                data = decode_bytes(raw[index], count, name)
            else:
                dtype = DTYPES[datatype]
                if len(raw[index]) != count * dtype.itemsize:
                    raise CodecError(f"input {name!r}: {len(raw[index])} bytes do not make shape {shape} of {datatype}")
                data = np.frombuffer(raw[index], dtype=dtype).reshape(shape)
        else:
            field = CONTENTS.get(datatype)
            if field is None:
                raise CodecError(f"input {name!r}: {datatype} travels in raw_input_contents only")
            values: Any = getattr(spec.contents, field)
            if len(values) != count:
                raise CodecError(f"input {name!r}: {len(values)} values do not make shape {shape}")
            data = list(values) if datatype == "BYTES" else np.asarray(values, dtype=DTYPES[datatype]).reshape(shape)
        inputs[name] = Tensor(name, datatype, shape, data)
    return inputs


def parameters(request: pb.ModelInferRequest) -> dict[str, Any]:
    """The request's parameters as plain values."""
    values = {}
    for name, parameter in request.parameters.items():
        kind = parameter.WhichOneof("parameter_choice")
        values[name] = getattr(parameter, kind) if kind else None
    return values


def request_timeout(request: pb.ModelInferRequest, deadline_s: float | None) -> float | None:
    """The sooner of the request's `timeout` parameter and the call's gRPC deadline, in seconds."""
    parameter = request.parameters.get("timeout")
    timeout_s = None
    if parameter is not None:
        kind = parameter.WhichOneof("parameter_choice")
        value = getattr(parameter, kind) if kind else None
        timeout_s = timeout_parameter(value if kind in ("int64_param", "uint64_param") else str(value))
    if deadline_s is not None:
        timeout_s = deadline_s if timeout_s is None else min(timeout_s, deadline_s)
    return timeout_s


def inference(request: pb.ModelInferRequest, deadline_s: float | None) -> Inference:
    """An infer message as the data plane takes it; `deadline_s`: the call's gRPC deadline."""
    return Inference(parse_inputs(request), [out.name for out in request.outputs],
                     request_timeout(request, deadline_s), sequence_request(parameters(request)))


def infer_response(model: str, version: int, request: pb.ModelInferRequest,
                   outputs: list[Tensor]) -> pb.ModelInferResponse:
    """`outputs`: those asked for. They always travel raw, as Triton sends them (tritonclient reads both)."""
    response = pb.ModelInferResponse(model_name=model, model_version=str(version), id=request.id)
    for tensor in outputs:
        response.outputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        if tensor.datatype == "BYTES":
            assert isinstance(tensor.data, list)
            response.raw_output_contents.append(encode_bytes(tensor.data))
        else:
            assert isinstance(tensor.data, np.ndarray)
            response.raw_output_contents.append(
                np.ascontiguousarray(tensor.data, dtype=DTYPES[tensor.datatype]).tobytes())
    return response
