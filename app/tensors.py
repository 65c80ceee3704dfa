"""Named tensors, the form every tensor protocol (V2 REST, gRPC) hands to the data plane and gets back,
and the BYTES element framing both protocols share (each element prefixed by its 4-byte length)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import BadRequest

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}


class TensorError(BadRequest):
    """Tensor data that does not follow the protocol's framing (400 / INVALID_ARGUMENT)."""


@dataclass
class Tensor:
    name: str
    datatype: str  # a DTYPES key, or BYTES
    shape: list[int]
    data: np.ndarray | list[bytes]  # BYTES tensors hold their elements as a flat list


def element_count(shape: list[int]) -> int:
    """Elements of a shape, in Python integers: numpy's int64 product wraps around for a shape such as
    [2**62, 2**62, 4], and a wrapped count could pass the size checks."""
    return math.prod(shape)


def decode_bytes(raw: bytes, count: int, name: str) -> list[bytes]:
    items, offset = [], 0
    for _ in range(count):
        if offset + 4 > len(raw):
            raise TensorError(f"input {name!r}: BYTES data ends early")
        (length,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise TensorError(f"input {name!r}: BYTES element overruns the data")
        items.append(raw[offset : offset + length])
        offset += length
    if offset != len(raw):
        raise TensorError(f"input {name!r}: {len(raw) - offset} bytes left over after {count} BYTES elements")
    return items


def encode_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)
