"""What a task declares: its whole contract and its batch run, in one class per task module.

A task module is the only place that knows its payload. It says how a typed JSON body becomes a
payload and a result becomes the JSON answer (`parse_json`, `answer_json`, `request_model`,
`response_model` for OpenAPI), how V2 tensors map to the same payload and back (`signature`,
`parse_tensors`, `answer_tensors`), and how a batch of payloads runs (`run_batch`, `size`,
`warmup_payloads`). Subclasses register themselves under their `task` name: the manifest's `task`
picks one, and the typed routes, `GET /models`, V2 metadata and OpenAPI all read these declarations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from pydantic import BaseModel

from app.errors import InputError
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tensors import Tensor

P = TypeVar("P")
R = TypeVar("R")

TASKS: dict[str, type[TaskModel[Any, Any]]] = {}


@dataclass(frozen=True)
class Signature:
    """A model's public tensors, as V2 metadata and `GET /models` show them."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        return {"inputs": [s.describe() for s in self.inputs], "outputs": [s.describe() for s in self.outputs]}


class TaskModel(ABC, Generic[P, R]):
    task: ClassVar[str]  # the manifest's "task"
    route: ClassVar[str | None] = None  # the typed REST route; None serves through V2 only
    summary: ClassVar[str] = ""  # the typed route's one-line description
    default_model: ClassVar[str] = ""  # the model a typed request gets without ?model=
    model_field: ClassVar[str | None] = None  # a body field that may name the model (the translator's "model")
    response_model: ClassVar[type[BaseModel] | None] = None  # the typed answer, for OpenAPI
    state_inputs: ClassVar[tuple[str, ...]] = ()  # V2 inputs that carry state (stateful tasks)
    stateful: ClassVar[bool] = False  # steps carry state: the typed route takes a token, a WebSocket the stream
    state_field: ClassVar[str] = "state"  # the JSON field carrying a stateful task's state token
    upload_route: ClassVar[str | None] = None  # a multipart route taking one uploaded file (`parse_upload`)
    upload_summary: ClassVar[str] = ""
    # JSON body fields of fixed-shape numeric items (field -> one item's shape), which `parse_json` may get
    # as a float64 numpy array [n, *shape] instead of lists: the body reader skips a Python float per number.
    json_arrays: ClassVar[dict[str, tuple[int, ...]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "task" in cls.__dict__:
            TASKS[cls.task] = cls

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        self.manifest = manifest
        self.backend = backend
        self.settings = settings
        self.max_items = settings.max_items

    @cached_property
    def body_fields(self) -> frozenset[str]:
        request = self.request_model(self)
        return frozenset(request.model_fields) if request is not None else frozenset()

    # --- the typed JSON contract

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel] | None:
        """The typed request body for OpenAPI, with the limits of `model`'s manifest when one is loaded."""
        return None

    def parse_json(self, body: dict[str, Any]) -> P:
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) has no typed JSON route; use V2 infer")

    def answer_json(self, result: R) -> dict[str, Any]:
        raise NotImplementedError

    def parse_upload(self, data: bytes) -> P:
        """An uploaded file (the upload route's) -> a payload; runs off the event loop."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) takes no uploaded file")

    # --- the V2 tensor contract

    @abstractmethod
    def signature(self) -> Signature:
        """Inputs and outputs as tensors."""

    @abstractmethod
    def parse_tensors(self, inputs: dict[str, Tensor]) -> P:
        """V2 inputs -> the payload the JSON body would give, with the same checks."""

    @abstractmethod
    def answer_tensors(self, result: R) -> list[Tensor]:
        """A result as the signature's output tensors."""

    # --- state carried between requests (stateful tasks only): the V2 sequence parameters use these

    def initial_state(self) -> Any:
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state: sequence parameters "
                         "apply to stateful models only")

    def with_state(self, payload: P, state: Any) -> P:
        """The payload, to run on `state` instead of the one it came with."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state")

    def state_of(self, result: R) -> Any:
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state")

    def open_state(self, token: Any) -> Any:
        """The state a token of an earlier answer carries (None: a new stream's)."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state")

    def step_json(self, frame: dict[str, Any], state: Any) -> P:
        """A stream's next step from a JSON object (a WebSocket frame), to run on `state`."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state")

    # --- running

    @abstractmethod
    def run_batch(self, payloads: list[P]) -> list[R]:
        """Answers for several requests' payloads, in order."""

    @abstractmethod
    def size(self, payload: P) -> int:
        """How many items a payload carries (what the batch size counts)."""

    def work(self, payload: P) -> int:
        """How much computing a payload needs, in units whose cost is about the same (what the batcher
        learns a cost per unit of, to decide what may run on the event loop); items by default."""
        return self.size(payload)

    @abstractmethod
    def warmup_payloads(self, batch_sizes: list[int]) -> list[P]:
        """Realistic payloads of the given sizes, to run before the model is reported ready."""

    # --- helpers for parsing

    def reject_unknown(self, body: dict[str, Any]) -> None:
        if self.body_fields.issuperset(body):
            return
        unknown = sorted(set(body) - self.body_fields)
        if unknown:
            raise InputError(f"unknown field(s) {', '.join(map(repr, unknown))}; expected {sorted(self.body_fields)}")

    def only_known(self, inputs: dict[str, Tensor]) -> None:
        known = {spec.name for spec in self.signature().inputs}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise InputError(f"unknown input(s) {unknown}; expected {sorted(known)}")


def require(body: dict[str, Any], field: str) -> Any:
    if field not in body:
        raise InputError(f"missing field {field!r}")
    return body[field]


def tensor_scalar(inputs: dict[str, Tensor], name: str, default: int) -> int:
    """An optional one-element integer input."""
    tensor = inputs.get(name)
    if tensor is None:
        return default
    if not isinstance(tensor.data, np.ndarray) or tensor.data.size != 1 or tensor.data.dtype.kind not in "iu":
        raise InputError(f"input {name!r} must be one integer")
    return int(tensor.data.ravel()[0])
