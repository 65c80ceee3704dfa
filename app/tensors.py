"""Named tensors, the form every tensor protocol (V2 REST, gRPC) hands to a task and gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"), "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}


@dataclass
class Tensor:
    name: str
    datatype: str  # a DTYPES key, or BYTES
    shape: list[int]
    data: np.ndarray | list[bytes]  # BYTES tensors hold their elements as a flat list
