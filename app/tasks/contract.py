"""A task's request, declared once: each `Input` is a JSON body field and the V2 tensor of the same name.

From the declaration come the OpenAPI request schema (`request_model`), the checks of a JSON body
(`json_values`) and of V2 tensors (`tensor_values`), and the signature V2 metadata shows. Both checks give
the task the same values (numbers as numpy arrays, scalars as Python values, texts as `str`), so its
`payload` makes one payload from either; limits come from the loaded model (its manifest and settings).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from app.errors import InputError
from app.repository.manifest import TensorSpec
from app.tensors import Tensor

REQUIRED: Any = object()  # an input without a default
Limit = int | float | str | None  # a number, or the name of the loaded model's attribute holding it
FLOATS = ("FP16", "FP32", "FP64")
INTEGERS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")


@dataclass(frozen=True)
class Signature:
    """A model's public tensors, as V2 metadata and `GET /models` show them."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        return {"inputs": [s.describe() for s in self.inputs], "outputs": [s.describe() for s in self.outputs]}


@dataclass(frozen=True)
class Input:
    name: str
    datatype: str  # a V2 datatype: FP32, INT64, BYTES, ...
    shape: tuple[int, ...]  # the tensor's, -1 for any size; JSON nests lists as deep (a scalar: `scalar`)
    description: str = ""
    scalar: bool = False  # one value: a JSON number or string, a one-element tensor of shape [1]
    default: Any = REQUIRED
    low: Limit = None  # the least value (of a scalar; of an array's elements, checked by the task)
    high: Limit = None  # the greatest value
    items: Limit = None  # the most entries along the first dimension (JSON list length, tensor dim 0)
    choices: tuple[str, ...] | None = None  # the strings a scalar text may be
    nullable: bool = False  # JSON null means the default
    opaque: bool = False  # handed to the task as sent (a state token, which the task checks itself)
    ragged: bool = False  # JSON rows of a [-1, -1] input may differ in length (each becomes its own array)
    json_shape: tuple[int, ...] | None = None  # where JSON nests otherwise (a stream's [T] values, a [1, T] tensor)
    where: Literal["both", "json", "tensor"] = "both"

    @property
    def json(self) -> bool:
        return self.where != "tensor"

    @property
    def tensor(self) -> bool:
        return self.where != "json"

    @property
    def nesting(self) -> tuple[int, ...]:
        """The shape of the JSON field's nested lists."""
        return self.json_shape if self.json_shape is not None else self.shape

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def spec(self) -> TensorSpec:
        return TensorSpec(name=self.name, datatype=self.datatype, shape=[1] if self.scalar else list(self.shape),
                          optional=not self.required)


def limit(value: Limit, model: Any) -> Any:
    """A declared limit: a number as it is, a name read from the loaded model (None without one)."""
    if isinstance(value, str):
        return getattr(model, value) if model is not None else None
    return value


def signature_of(inputs: Sequence[Input], outputs: list[TensorSpec]) -> Signature:
    return Signature([i.spec() for i in inputs if i.tensor], list(outputs))


def json_arrays(inputs: Sequence[Input]) -> dict[str, tuple[int, ...]]:
    """Numeric JSON fields of fixed-shape items, which the body reader may hand over as one numpy array."""
    return {i.name: i.nesting[1:] for i in inputs if i.json and not i.scalar and i.datatype in FLOATS
            and len(i.nesting) > 1 and all(d > 0 for d in i.nesting[1:])}


# --- the OpenAPI request schema

def request_model(name: str, inputs: Sequence[Input], model: Any, example: dict[str, Any]) -> type[BaseModel]:
    """The typed request body for OpenAPI, with the limits of `model` when one is loaded."""
    fields: dict[str, Any] = {}
    for i in (i for i in inputs if i.json):
        kind = _json_type(i)
        if i.nullable:
            kind = kind | None
        constraints: dict[str, Any] = {"description": i.description}
        if i.scalar and i.datatype != "BYTES":
            constraints.update(ge=limit(i.low, model), le=limit(i.high, model))
        elif not i.scalar:
            constraints.update(min_length=1, max_length=limit(i.items, model))
        fields[i.name] = (kind, Field(... if i.required else i.default, **constraints))
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})
    built: type[BaseModel] = create_model(name, __config__=config, **fields)
    return built


FLOAT32_MAX = 3.4028234663852886e38


def _json_type(i: Input) -> Any:
    if i.scalar:
        if i.datatype == "BYTES":
            return Literal[i.choices] if i.choices else str
        return int if i.datatype in INTEGERS else float
    kind: Any
    if i.datatype == "BYTES":
        kind = Annotated[str, Field(min_length=1, pattern=r"\S")]  # a blank text is refused
    elif i.datatype == "FP32":  # finite, and within float32 (or the declared bounds)
        low, high = limit(i.low, None), limit(i.high, None)
        kind = Annotated[float, Field(ge=-FLOAT32_MAX if low is None else low,
                                      le=FLOAT32_MAX if high is None else high)]
    else:
        kind = float
    for size in reversed(i.nesting[1:]):  # inner dimensions: a fixed size is the list's length
        kind = Annotated[list[kind], Field(min_length=size, max_length=size)] if size > 0 else list[kind]
    return list[kind]


# --- the checks

class Contract:
    """The checks of one declaration, prepared once (a task builds it when its class is made)."""

    def __init__(self, inputs: Sequence[Input]) -> None:
        self.inputs = tuple(inputs)
        self.fields = [i for i in inputs if i.json]
        self.field_names = frozenset(i.name for i in self.fields)
        self.tensors = [i for i in inputs if i.tensor]
        self.tensor_names = frozenset(i.name for i in self.tensors)

    def json_values(self, body: dict[str, Any], model: Any) -> dict[str, Any]:
        """A JSON body's fields as the declaration says they are, or an InputError naming what is wrong."""
        refuse_unknown(body, self.field_names, "field")
        values: dict[str, Any] = {}
        for i in self.fields:
            raw = body.get(i.name)
            if raw is None and (i.name not in body or i.nullable):
                values[i.name] = _absent(i, "field")
            elif i.opaque:
                values[i.name] = raw
            elif i.scalar:
                values[i.name] = _scalar(i, raw, model)
            else:
                values[i.name] = _json_array(i, raw, model)
        return values

    def tensor_values(self, tensors: dict[str, Tensor], model: Any) -> dict[str, Any]:
        """V2 input tensors as the declaration says they are, or an InputError naming the input."""
        refuse_unknown(tensors, self.tensor_names, "input")
        values: dict[str, Any] = {}
        for i in self.tensors:
            tensor = tensors.get(i.name)
            values[i.name] = _absent(i, "input") if tensor is None else _tensor(i, tensor, model)
        return values


def refuse_unknown(given: Iterable[str], names: frozenset[str], form: str) -> None:
    if names.issuperset(given):
        return
    unknown = sorted(set(given) - names)
    raise InputError(f"unknown {form}(s) {', '.join(map(repr, unknown))}; expected {sorted(names)}")


def _absent(i: Input, form: str) -> Any:
    if i.required:
        raise InputError(f"missing {form} {i.name!r}")
    return i.default


def _tensor(i: Input, tensor: Tensor, model: Any) -> Any:
    if tensor.datatype != i.datatype:
        raise InputError(f"input {i.name!r} must be {i.datatype}, got {tensor.datatype}")
    shape = [1] if i.scalar else list(i.shape)
    if len(tensor.shape) != len(shape) or any(d not in (-1, s) for d, s in zip(shape, tensor.shape, strict=True)):
        raise InputError(f"input {i.name!r} must have shape {shape} (-1: any size), got {tensor.shape}")
    data = tensor.data
    if i.datatype == "BYTES":
        assert isinstance(data, list)
        try:
            texts = [item.decode("utf-8") for item in data]
        except UnicodeDecodeError:
            raise InputError(f"input {i.name!r} must be UTF-8") from None
        return _scalar(i, texts[0], model) if i.scalar else _items(i, texts, model)
    assert isinstance(data, np.ndarray)
    if i.scalar:
        return _scalar(i, data.ravel()[0].item(), model)
    if i.datatype in FLOATS and not np.isfinite(data).all():
        raise InputError(f"input {i.name!r} contains NaN or infinity")
    return _items(i, data, model)


def _scalar(i: Input, value: Any, model: Any) -> Any:
    if i.datatype == "BYTES":
        if not isinstance(value, str):
            raise InputError(f"{i.name!r} must be a string, got {value!r}")
        if i.choices and value not in i.choices:
            raise InputError(f"{i.name!r} must be one of {', '.join(i.choices)}, got {value!r}")
        return value
    low, high = limit(i.low, model), limit(i.high, model)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{i.name!r} must be an integer" + _range(low, high) + f", got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{i.name!r} must be an integer" + _range(low, high) + f", got {value!r}")
    return value


def _range(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    return f" >= {low}" if low is not None else (f" <= {high}" if high is not None else "")


def _items(i: Input, items: Any, model: Any) -> Any:
    """Items along the first dimension: at least one, at most the declared limit."""
    if len(items) == 0:
        raise InputError(f"{i.name!r} is empty; send at least one")
    most = limit(i.items, model)
    if most is not None and len(items) > most:
        raise InputError(f"{i.name!r} has {len(items)} items; at most {most} per request")
    return items


def _json_array(i: Input, raw: Any, model: Any) -> Any:
    """A JSON array field: strings as a list of `str`; numbers as one float64 array of the declared rank
    (or, ragged, a list of one array per row)."""
    if isinstance(raw, np.ndarray):  # read straight into numpy by the body reader: shape already checked
        return _items(i, raw, model)
    if not isinstance(raw, list):
        raise InputError(f"{i.name!r} must be a list" + (" of strings" if i.datatype == "BYTES" else " of numbers"
                                                         if len(i.nesting) == 1 else " of lists"))
    _items(i, raw, model)
    if i.datatype == "BYTES":
        for index, text in enumerate(raw):
            if not isinstance(text, str):
                raise InputError(f"{i.name}[{index}] must be a string")
        return raw
    if i.ragged:
        return [json_numbers(f"{i.name}[{index}]", row, i.nesting[1:]) for index, row in enumerate(raw)]
    return json_numbers(i.name, raw, i.nesting)


def json_numbers(path: str, raw: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Nested JSON lists of numbers at `path` ("images", "series[2]") -> a float64 array of `shape` (-1: any
    size), or what is wrong."""
    what = path if "[" in path else repr(path)
    if not isinstance(raw, list):
        raise InputError(f"{what} must be a list of numbers")
    try:
        array = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        array = None  # ragged, or not all numbers
    if array is None or array.ndim != len(shape) or any(d not in (-1, s) for d, s in zip(shape, array.shape,
                                                                                         strict=False)):
        if len(shape) == 1:
            count = "" if shape[0] < 0 else f"{shape[0]} "
            raise InputError(f"{what} must be a flat list of {count}numbers" if array is not None
                             else f"{what} must contain only numbers")
        wanted = _wanted(shape[1:])
        for index, item in enumerate(raw):
            if not _nests(item, shape[1:]):
                raise InputError(f"{path}[{index}] must be {wanted}, got {_outline(item)}")
        raise InputError(f"{what} must contain only numbers")
    if not np.isfinite(array).all():  # JSON has no NaN or infinity: a null read as NaN
        raise InputError(f"{what} must contain only numbers, found null")
    return array


def _wanted(shape: tuple[int, ...]) -> str:
    sizes = ["any number of" if d < 0 else str(d) for d in shape]
    if len(shape) == 1:
        return f"{sizes[0]} numbers"
    if len(shape) == 2:
        return f"{sizes[0]} rows of {sizes[1]} numbers"
    return " x ".join(sizes) + " numbers"


def _nests(item: Any, shape: tuple[int, ...]) -> bool:
    if not shape:
        return not isinstance(item, list)  # a value that is no number is "not only numbers", not a nesting error
    return isinstance(item, list) and shape[0] in (-1, len(item)) and all(_nests(x, shape[1:]) for x in item)


def _outline(item: Any) -> str:
    if not isinstance(item, list):
        return type(item).__name__
    rows = [len(row) if isinstance(row, list) else type(row).__name__ for row in item[:28]]
    return f"{len(item)} rows of lengths {rows}" if item else "an empty list"


# --- running

T = TypeVar("T")
R = TypeVar("R")


def run_grouped(items: Sequence[T], key: Callable[[T], Hashable], run: Callable[[list[T]], list[R]]) -> list[R]:
    """One model run per group of items sharing a key (an LSTM's steps must not be padded), the results
    given back in the items' order."""
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    results: list[Any] = [None] * len(items)
    for indices in groups.values():
        for index, result in zip(indices, run([items[k] for k in indices]), strict=True):
            results[index] = result
    return results


def scatter(results: Sequence[R], sizes: Sequence[int]) -> list[list[R]]:
    """Flat per-item results back into one list per payload of `sizes` items."""
    out, start = [], 0
    for size in sizes:
        out.append(list(results[start : start + size]))
        start += size
    return out
