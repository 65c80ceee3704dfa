"""Tensors in and out of V2 bodies: JSON `data` arrays, or raw little-endian bytes after a JSON header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from app.dataplane import timeout_parameter
from app.sequences import SequenceRequest, sequence_request
from app.tensors import DTYPES, Tensor, TensorError, decode_bytes, element_count, encode_bytes

CodecError = TensorError  # the body does not follow the protocol: 400 {"error": ...}


@dataclass
class InferRequest:
    id: str | None
    inputs: dict[str, Tensor]
    binary_outputs: dict[str, bool]  # per requested output; missing means the request-wide default
    binary_default: bool
    requested: list[str] | None
    timeout_s: float | None = None  # the request's `timeout` parameter (microseconds on the wire)
    sequence: SequenceRequest | None = None  # sequence_id / _start / _end, for stateful models


def _element_count(shape: Any, name: str) -> int:
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise CodecError(f"input {name!r}: 'shape' must be a list of non-negative integers")
    return element_count(shape)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if data and isinstance(data[0], list):
        return [x for item in data for x in _flatten(item)]
    return data


def parse_infer_request(body: bytes, header_length: int | None) -> InferRequest:
    if header_length is None:
        header_bytes, binary = body, b""
    else:
        if not 0 < header_length <= len(body):
            raise CodecError(f"Inference-Header-Content-Length {header_length} does not fit a {len(body)}-byte body")
        header_bytes, binary = body[:header_length], body[header_length:]
    try:
        header = orjson.loads(header_bytes)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"request header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list) or not header["inputs"]:
        raise CodecError("request must be a JSON object with a non-empty 'inputs' list")

    inputs: dict[str, Tensor] = {}
    offset = 0
    for spec in header["inputs"]:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise CodecError("every input needs a 'name'")
        name, datatype = spec["name"], spec.get("datatype")
        if name in inputs:
            raise CodecError(f"input {name!r} is sent twice; send each input once")
        if not isinstance(datatype, str) or (datatype != "BYTES" and datatype not in DTYPES):
            raise CodecError(f"input {name!r}: unknown datatype {datatype!r}")
        shape: list[int] = spec.get("shape")  # type: ignore[assignment]  # checked just below
        count = _element_count(shape, name)
        parameters = object_field(spec, "parameters", f"input {name!r}: 'parameters'")
        size = parameters.get("binary_data_size")
        if size is not None and "data" in spec:
            raise CodecError(f"input {name!r}: both 'data' and binary_data_size; send the tensor one way")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise CodecError(f"input {name!r}: binary_data_size {size} exceeds the binary data sent")
            raw = binary[offset : offset + size]
            offset += size
            if datatype == "BYTES":
                data: np.ndarray | list[bytes] = decode_bytes(raw, count, name)
            else:
                dtype = DTYPES[datatype]
                if size != count * dtype.itemsize:
                    raise CodecError(f"input {name!r}: {size} bytes do not make shape {shape} of {datatype}")
                data = np.frombuffer(raw, dtype=dtype).reshape(shape)
        else:
            if "data" not in spec:
                raise CodecError(f"input {name!r}: no 'data' and no binary_data_size")
            flat = _flatten(spec["data"])
            if len(flat) != count:
                raise CodecError(f"input {name!r}: {len(flat)} values do not make shape {shape}")
            if datatype == "BYTES":
                if not all(isinstance(x, str) for x in flat):
                    raise CodecError(f"input {name!r}: BYTES data in JSON must be strings")
                data = [x.encode("utf-8") for x in flat]
            else:
                try:
                    data = np.asarray(flat, dtype=DTYPES[datatype]).reshape(shape)
                except (TypeError, ValueError):
                    raise CodecError(f"input {name!r}: data are not all {datatype} values") from None
        inputs[name] = Tensor(name, datatype, shape, data)
    if offset != len(binary):
        raise CodecError(f"{len(binary) - offset} bytes of binary data belong to no input")

    params = object_field(header, "parameters", "'parameters'")
    binary_default = bool(params.get("binary_data_output", False))
    binary_outputs: dict[str, bool] = {}
    requested = None
    if "outputs" in header:
        if not isinstance(header["outputs"], list):
            raise CodecError("'outputs' must be a list of the outputs asked for")
        requested = []
        for out in header["outputs"]:
            if not isinstance(out, dict) or not isinstance(out.get("name"), str):
                raise CodecError("every requested output needs a 'name'")
            requested.append(out["name"])
            out_params = object_field(out, "parameters", f"output {out['name']!r}: 'parameters'")
            if "binary_data" in out_params:
                binary_outputs[out["name"]] = bool(out_params["binary_data"])
    request_id = header.get("id")
    if "id" in header and not isinstance(request_id, str):
        raise CodecError("'id' must be a string")
    timeout_s = timeout_parameter(params.get("timeout"))
    sequence = sequence_request(params)
    return InferRequest(str(request_id) if request_id is not None else None, inputs, binary_outputs,
                        binary_default, requested, timeout_s, sequence)


def object_field(owner: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """A JSON object field ({} when absent); CodecError when it is anything else (null included)."""
    value = owner.get(key, {})
    if not isinstance(value, dict):
        raise CodecError(f"{what} must be an object")
    return value


def encode_infer_response(
    model: str, version: int, request: InferRequest, outputs: list[Tensor]
) -> tuple[bytes, dict[str, str]]:
    """The response body and its headers (`outputs`: those asked for); binary when any output asks for it."""
    entries, blobs = [], []
    for tensor in outputs:
        entry: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": tensor.shape}
        if request.binary_outputs.get(tensor.name, request.binary_default):
            if tensor.datatype == "BYTES":
                assert isinstance(tensor.data, list)
                blob = encode_bytes(tensor.data)
            else:
                assert isinstance(tensor.data, np.ndarray)
                blob = np.ascontiguousarray(tensor.data, dtype=DTYPES[tensor.datatype]).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif tensor.datatype == "BYTES":
            assert isinstance(tensor.data, list)
            entry["data"] = [item.decode("utf-8") for item in tensor.data]
        else:
            assert isinstance(tensor.data, np.ndarray)
            entry["data"] = tensor.data.ravel().tolist()
        entries.append(entry)
    body: dict[str, Any] = {"model_name": model, "model_version": str(version), "outputs": entries}
    if request.id is not None:
        body["id"] = request.id
    header = orjson.dumps(body)
    if not blobs:
        return header, {"content-type": "application/json"}
    return header + b"".join(blobs), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(header)),
    }
