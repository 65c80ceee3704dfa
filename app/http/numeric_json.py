"""JSON bodies whose big numeric arrays go straight into numpy, without a Python float per number.

orjson turns a digit image's 784 numbers into 784 Python floats (and 28 lists) that numpy then copies
and the interpreter frees again: profiled under load, that was a third of the event loop's time per
request. simdjson (pysimdjson) parses the body once and copies a named field's numbers into one buffer.

It only ever takes the fast way for a body it reads exactly as orjson would: a JSON object with no
repeated key whose named fields are arrays of the declared item shape with only numbers inside. Anything
else (bad JSON, other shapes, nulls, booleans, numbers out of range, a stray array) returns None, and the
caller parses with orjson as ever, so every error message and every accepted value stays the same.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import simdjson

Shapes = Mapping[str, tuple[int, ...]]  # body field -> the shape of one item: "images" -> (28, 28)

_local = threading.local()  # a parser holds one document at a time: one per thread


def decode(raw: bytes, arrays: Shapes) -> dict[str, Any] | None:
    """The body as orjson would decode it, except that each field of `arrays` holding items of its shape
    is a float64 array [n, *shape]; None when the body is not of that plain kind."""
    parser: simdjson.Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    try:
        document = parser.parse(raw)
    except RuntimeError:  # a document of this parser still referenced somewhere: start a new parser
        _local.parser = None
        return None
    except (ValueError, TypeError):  # not JSON, or JSON simdjson refuses (numbers out of range, ...)
        return None
    if not isinstance(document, simdjson.Object):
        return None
    keys = list(document.keys())
    if len(set(keys)) != len(keys):  # orjson keeps the last of repeated keys; simdjson lookups find the first
        return None
    body: dict[str, Any] = {}
    arrays_seen = 0
    for key in keys:
        value = document[key]
        shape = arrays.get(key)
        if shape is not None and isinstance(value, simdjson.Array):
            array = _numbers(value, shape)
            if array is None:
                return None
            body[key] = array
            arrays_seen += _arrays_in(array.shape)
        else:
            # Any other field may hold no array: the count of brackets below then proves the numeric
            # fields' items hold no nested array either (flattening would hide a one-element one).
            if isinstance(value, simdjson.Object | simdjson.Array):
                return None
            body[key] = value
    # No numeric field: orjson is as quick. A bracket inside a string lands here too, harmlessly.
    if arrays_seen == 0 or raw.count(b"[") != arrays_seen:
        return None
    return body


def _numbers(array: simdjson.Array, shape: tuple[int, ...]) -> np.ndarray | None:
    """[n, *shape] float64 from an array of n items of `shape` holding only numbers; None otherwise."""
    count = len(array)
    if count == 0:
        return None
    level: list[Any] = [array]
    for size in shape:  # every array at each depth has the declared length
        children: list[Any] = []
        for parent in level:
            for child in parent:
                if not isinstance(child, simdjson.Array) or len(child) != size:
                    return None
                children.append(child)
        level = children
    try:
        flat = np.frombuffer(array.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):  # a null, a boolean, a string or an object among the numbers
        return None
    full_shape = (count, *shape)
    if flat.size != math.prod(full_shape):
        return None
    return flat.reshape(full_shape)


def _arrays_in(shape: tuple[int, ...]) -> int:
    """How many JSON arrays an array of this shape is written with: 1 + d0 + d0*d1 + ..."""
    total, width = 1, 1
    for size in shape[:-1]:
        width *= size
        total += width
    return total
