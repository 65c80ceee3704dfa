"""What a task declares: its whole contract and its batch run, in one class per task module.

A task module is the only place that knows its payload. Its request is declared once, as `INPUTS`
(app/tasks/contract.py): the OpenAPI body, the JSON and tensor checks and the V2 signature all come from
it, and `payload(values)` makes one payload from the checked values of either protocol. It says how a
result becomes the JSON answer and the output tensors (`answer_json`, `answer_tensors`, `OUTPUTS`), and
how a batch of payloads runs (`run_batch`, `size`, `warmup_payloads`). Subclasses register themselves
under their `task` name: the manifest's `task` picks one, and the typed routes, `GET /models`, V2 metadata
and OpenAPI all read these declarations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from app.errors import InputError
from app.repository.manifest import Manifest, ManifestError, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks import contract
from app.tasks.contract import Contract, Input, Signature
from app.tensors import Tensor

P = TypeVar("P")
R = TypeVar("R")

TASKS: dict[str, type[TaskModel[Any, Any]]] = {}


class TaskModel(ABC, Generic[P, R]):
    task: ClassVar[str]  # the manifest's "task"
    route: ClassVar[str | None] = None  # the typed REST route; None serves through V2 only
    summary: ClassVar[str] = ""  # the typed route's one-line description
    default_model: ClassVar[str] = ""  # the model a typed request gets without ?model=
    model_field: ClassVar[str | None] = None  # a body field that may name the model (the translator's "model")
    response_model: ClassVar[type[BaseModel] | None] = None  # the typed answer, for OpenAPI
    INPUTS: ClassVar[tuple[Input, ...]] = ()  # the request, declared once
    OUTPUTS: ClassVar[tuple[TensorSpec, ...]] = ()  # the output tensors
    EXAMPLE: ClassVar[dict[str, Any]] = {}  # a typed request body that works, for the docs
    state_inputs: tuple[str, ...] = ()  # V2 inputs that carry state (stateful models)
    stateful: bool = False  # steps carry state: the typed route takes a token, a WebSocket the stream
    state_field: ClassVar[str] = "state"  # the JSON field carrying a stateful task's state token
    upload_route: ClassVar[str | None] = None  # a multipart route taking one uploaded file (`parse_upload`)
    upload_summary: ClassVar[str] = ""
    # Derived: JSON fields of fixed-shape numeric items, which the body reader may give as one numpy array.
    json_arrays: ClassVar[dict[str, tuple[int, ...]]] = {}
    contract: Contract  # the checks of `inputs()`, prepared once per class (per model where the manifest declares)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.json_arrays = contract.json_arrays(cls.INPUTS)
        cls.contract = Contract(cls.INPUTS)
        if "task" in cls.__dict__:
            TASKS[cls.task] = cls

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        self.manifest = manifest
        self.backend = backend
        self.settings = settings
        self.max_items = settings.max_items

    @classmethod
    def for_manifest(cls, manifest: Manifest) -> type[TaskModel[Any, Any]]:
        """The class that serves this manifest: the task's own, unless the task has forms (app/tasks/tensor.py)."""
        return cls

    # --- the declaration and what follows from it

    def inputs(self) -> tuple[Input, ...]:
        """The request's inputs: the class's, or the manifest's where it declares them (the tensor task)."""
        return self.contract.inputs

    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.OUTPUTS

    def signature(self) -> Signature:
        """Inputs and outputs as tensors (V2 metadata, `GET /models`)."""
        return contract.signature_of(self.inputs(), list(self.outputs()))

    @classmethod
    def declared_signature(cls) -> Signature:
        """The signature the task declares (what training writes into a manifest)."""
        return contract.signature_of(cls.INPUTS, list(cls.OUTPUTS))

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel] | None:
        """The typed request body for OpenAPI, with the limits of `model`'s manifest when one is loaded."""
        if not cls.route:
            return None
        return contract.request_model(cls.__name__.removesuffix("Model") + "Request", cls.INPUTS, model, cls.EXAMPLE)

    def check_signature(self) -> None:
        """The manifest's public tensors, where it declares them, must be the task's (the loader calls this)."""
        declared = {"inputs": self.manifest.inputs, "outputs": self.manifest.outputs}
        signature = self.signature()
        for kind, specs in (("inputs", signature.inputs), ("outputs", signature.outputs)):
            if declared[kind] and [(s.name, s.datatype, s.shape) for s in declared[kind]] != \
                    [(s.name, s.datatype, s.shape) for s in specs]:
                raise ManifestError(f"{self.manifest.name}/{self.manifest.version}: the manifest's {kind} "
                                    f"{[s.describe() for s in declared[kind]]} are not task {self.task}'s "
                                    f"{[s.describe() for s in specs]}")

    # --- requests: both protocols' checked values make one payload

    def parse_json(self, body: dict[str, Any]) -> P:
        if not self.route:
            raise InputError(f"model {self.manifest.name!r} (task {self.task}) has no typed JSON route; use V2 infer")
        return self.payload(self.contract.json_values(body, self))

    def parse_tensors(self, inputs: dict[str, Tensor]) -> P:
        return self.payload(self.contract.tensor_values(inputs, self))

    @abstractmethod
    def payload(self, values: dict[str, Any]) -> P:
        """Checked values (JSON or tensors) -> the payload, with the task's own checks."""

    def reject_unknown(self, body: dict[str, Any]) -> None:
        contract.refuse_unknown(body, self.contract.field_names, "field")

    # --- answers

    def answer_json(self, result: R) -> dict[str, Any]:
        raise NotImplementedError

    @abstractmethod
    def answer_tensors(self, result: R) -> list[Tensor]:
        """A result as the signature's output tensors."""

    def parse_upload(self, data: bytes) -> P:
        """An uploaded file (the upload route's) -> a payload; runs off the event loop."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) takes no uploaded file")

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

    def stream_step(self, frame: dict[str, Any], state: Any) -> P:
        """A step of a stream of the graph's tensors (`/models/{name}/stream`): `frame["inputs"]`, to run on `state`."""
        raise InputError(f"model {self.manifest.name!r} (task {self.task}) keeps no state")

    def stream_answer(self, result: R) -> dict[str, Any]:
        """Such a step's answer: the graph's outputs, one stream's, the state token, the steps taken."""
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

    def split(self, payload: P, most: int) -> list[P]:
        """A payload bigger than a batch, as parts of at most `most` items that run apart (`join` puts their
        results back together), so it holds the model no longer than one batch at a time; one part where a
        task's payload does not divide."""
        return [payload]

    def join(self, results: list[R]) -> R:
        """The results of `split`'s parts, in order -> the payload's result."""
        if len(results) != 1:
            raise NotImplementedError(f"task {self.task} splits no payload")
        return results[0]

    @abstractmethod
    def warmup_payloads(self, batch_sizes: list[int]) -> list[P]:
        """Realistic payloads of the given sizes, to run before the model is reported ready."""


__all__ = ["TASKS", "Input", "Signature", "TaskModel"]
