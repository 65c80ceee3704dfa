"""simdjson's way for numeric bodies: taken for plain digit bodies, and never different from orjson's."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import ServeError
from app.http import numeric_json
from app.http.body import parse_json_object
from app.tasks.digit import DigitModel, check_images

SHAPES = {"images": (2, 3)}  # small items keep the cases readable; digit bodies use (28, 28)
ITEM = [[0.0, 0.5, 1], [0.25, 0, 1e-3]]


def orjson_way(raw: bytes) -> Any:
    return orjson.loads(raw)


def same(fast: dict[str, Any], slow: dict[str, Any]) -> bool:
    if fast.keys() != slow.keys():
        return False
    for key, value in fast.items():
        if isinstance(value, np.ndarray):
            expected = np.asarray(slow[key], dtype=np.float64)
            if value.dtype != np.float64 or value.shape != expected.shape or not np.array_equal(value, expected):
                return False
        elif value != slow[key] or type(value) is not type(slow[key]):
            return False
    return True


@pytest.mark.parametrize("body", [
    {"images": [ITEM]},
    {"images": [ITEM, ITEM, ITEM]},
    {"images": [[[1, 2, 3], [4, 5, 6]]], "model": "lstm"},  # integers come as floats, as numpy makes them
    {"images": [[[-1.5e300, 2e-300, 0], [9007199254740993, -0.0, 1]]], "n": 3, "ok": True, "none": None},
])
def test_plain_bodies_take_the_fast_way_and_read_as_orjson_reads_them(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    fast = numeric_json.decode(raw, SHAPES)
    assert fast is not None
    assert isinstance(fast["images"], np.ndarray)
    assert same(fast, orjson_way(raw))


@pytest.mark.parametrize("raw", [
    b'{"images": []}',  # no items: orjson's way says so
    b'{"images": [[[0, 1, 2], [3, 4]]]}',  # a short row
    b'{"images": [[[0, 1, 2], [3, 4, 5, 6]]]}',  # a long row
    b'{"images": [[[0, 1], [2, 3, 4], [5]]]}',  # ragged rows with the right count of numbers
    b'{"images": [[[0, [1], 2], [3, 4, 5]]]}',  # a one-element array where a number belongs
    b'{"images": [[[0, null, 2], [3, 4, 5]]]}',
    b'{"images": [[[0, true, 2], [3, 4, 5]]]}',
    b'{"images": [[[0, "1", 2], [3, 4, 5]]]}',
    b'{"images": [[[0, {}, 2], [3, 4, 5]]]}',
    b'{"images": [[[0, 1e999, 2], [3, 4, 5]]]}',  # out of float range
    b'{"images": [[[0, 123456789012345678901234567890, 2], [3, 4, 5]]]}',  # beyond 64 bits
    b'{"images": [[[0, 1, 2], [3, 4, 5]]], "images": [[[1, 1, 1], [1, 1, 1]]]}',  # repeated key
    b'{"images": [[[0, 1, 2], [3, 4, 5]]], "extra": [1]}',  # another field holding an array
    b'{"images": [[[0, 1, 2], [3, 4, 5]]], "extra": {"a": 1}}',
    b'{"images": "no"}',
    b'[{"images": []}]',
    b'{"images": [[[0, 1, 2], [3, 4, 5]]]',  # not JSON
    b'{"images": [[[0, 1, 2], [3, 4, 5]]]} x',
    b'{"images": [[[NaN, 1, 2], [3, 4, 5]]]}',
    b'{"other": 1}',
    b'{"model": "x[y]", "images": [[[0, 1, 2], [3, 4, 5]]]}',  # a bracket inside a string: orjson's way
])
def test_anything_else_is_left_to_orjson(raw: bytes) -> None:
    assert numeric_json.decode(raw, SHAPES) is None


def test_an_orphan_bracket_count_is_checked_not_assumed() -> None:
    # As many numbers as the shape wants, one nested too deep: the level walk passes, the count does not.
    raw = b'{"images": [[[0, 1, [2]], [3, 4, 5]]]}'
    assert numeric_json.decode(raw, SHAPES) is None


def test_a_parser_still_holding_a_document_is_replaced() -> None:
    raw = json.dumps({"images": [ITEM]}).encode()
    parser = numeric_json._local.parser = __import__("simdjson").Parser()
    held = parser.parse(raw)  # a live document: the parser refuses to parse again
    assert numeric_json.decode(raw, SHAPES) is None
    assert numeric_json.decode(raw, SHAPES) is not None  # the next call has a parser of its own
    del held


# Digit bodies end to end: both ways give the same images or the same error.
PIXEL = st.one_of(
    st.floats(min_value=0, max_value=1), st.integers(min_value=-2, max_value=300),
    st.floats(allow_nan=False), st.none(), st.booleans(), st.just("0.5"),
)
ROW = st.one_of(st.lists(st.just(0.5), min_size=28, max_size=28), st.lists(PIXEL, min_size=27, max_size=29))
IMAGE = st.one_of(
    st.lists(st.lists(st.just(0.25), min_size=28, max_size=28), min_size=28, max_size=28),
    st.lists(ROW, min_size=27, max_size=29),
)


def digit_outcome(raw: bytes, fast: bool) -> tuple[str, Any]:
    try:
        body = parse_json_object(raw, arrays={"images": (28, 28)} if fast else None)
        values = DigitModel.contract.json_values(body, SimpleNamespace(max_items=64))  # the digit task's checks
        images = check_images(values["images"])
    except ServeError as exc:
        return type(exc).__name__, str(exc)
    return "images", images.tobytes()


@settings(max_examples=150, deadline=None)
@given(st.lists(IMAGE, min_size=0, max_size=3))
def test_digit_bodies_read_the_same_either_way(images: list[Any]) -> None:
    raw = json.dumps({"images": images}).encode()
    assert digit_outcome(raw, fast=True) == digit_outcome(raw, fast=False)


def test_a_pixel_out_of_float32_range_is_the_same_error_either_way() -> None:
    image = [[0.5] * 28 for _ in range(28)]
    image[3][4] = 1e300
    raw = json.dumps({"images": [image]}).encode()
    assert numeric_json.decode(raw, {"images": (28, 28)}) is not None
    assert digit_outcome(raw, fast=True) == digit_outcome(raw, fast=False)
    assert "NaN or infinity" in digit_outcome(raw, fast=True)[1]
