"""A recurrent graph that carries its state between calls: task `tensor` with a manifest `state`, no task code.

Each payload is one stream's step: the graph's other inputs (one row: axis 0, the batch, of size 1) and the
stream's state (app/tasks/state.py). Steps of different streams that arrive together run as one batch,
grouped by the shapes of their inputs: the inputs stacked along axis 0, the states along their batch axes.
The state travels as the client chooses: a signed token (`POST /models/{name}/stream`, its WebSocket), the
server's V2 sequence store (`sequence_id`), or the state tensors themselves over V2 (the graph's state
inputs in, its state outputs out). Tasks with their own routes (sine_stream) build on this class.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import InputError
from app.repository.manifest import Graph, Manifest, ManifestError, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import TaskModel
from app.tasks.contract import REQUIRED, Contract, Input, json_numbers, refuse_unknown, run_grouped
from app.tasks.state import Carried, StateSpec
from app.tensors import DTYPES, Tensor

Feeds = dict[str, np.ndarray]


@dataclass
class Step:
    feeds: Feeds  # the graph's inputs other than the state, one stream's: axis 0 of size 1
    state: Carried
    extra: dict[str, Any] = field(default_factory=dict)  # what a task on top keeps beside (sine_stream's horizon)


@dataclass
class StepResult:
    outputs: Feeds  # the graph's outputs other than the state, one stream's
    state: Carried  # the state after the step
    extra: dict[str, Any] = field(default_factory=dict)


def only_graph(manifest: Manifest, kind: str) -> Graph:
    """The one graph, 'model', of a model with no task code (the tensor task, plain or recurrent)."""
    if set(manifest.artifacts) != {"model"}:
        raise ManifestError(f"{manifest.name}: {kind} has one graph, 'model'; found {sorted(manifest.artifacts)}")
    return manifest.artifacts["model"]


class RecurrentModel(TaskModel[Step, StepResult]):
    stateful = True

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        graph = only_graph(manifest, "a recurrent model")
        self.state = StateSpec(manifest, graph.inputs, graph.outputs)
        if not self.state.slots:
            raise ManifestError(f"{manifest.name}/{manifest.version}: task {manifest.task} carries state: the manifest "
                                "must declare it (\"state\": [{\"input\": ..., \"output\": ...}])")
        self.state_inputs = tuple(self.state.inputs)
        self.step_inputs = [s for s in graph.inputs if s.name not in self.state.inputs]
        self.step_outputs = [s for s in graph.outputs if s.name not in self.state.outputs]
        self.graph_outputs = [s.name for s in graph.outputs]
        for spec in [*self.step_inputs, *self.step_outputs]:
            if spec.datatype not in DTYPES or not spec.shape:
                raise ManifestError(f"{manifest.name}/{manifest.version}: tensor {spec.name!r} must be numeric with "
                                    "the batch as its first axis")
        # The app always sets a key (one per process at least); a model loaded on its own signs with one of its own.
        self.keys = settings.signing_keys or [secrets.token_urlsafe(32).encode()]  # the first signs
        if not type(self).INPUTS:  # no task code: the graph's own tensors are the request, the state optional
            self.contract = Contract([Input(s.name, s.datatype, tuple(s.shape), where="tensor",
                                            default=None if s.name in self.state.inputs else REQUIRED)
                                      for s in graph.inputs])

    def outputs(self) -> tuple[TensorSpec, ...]:
        return type(self).OUTPUTS or tuple(self.manifest.artifacts["model"].outputs)

    # --- state, as the data plane carries it

    def initial_state(self) -> Carried:
        return self.state.initial()

    def open_state(self, token: Any) -> Carried:
        return self.state.open(self.keys, token)

    def seal_state(self, state: Carried) -> str:
        return self.state.seal(self.keys, state)

    def with_state(self, payload: Step, state: Carried) -> Step:
        return Step(payload.feeds, state, payload.extra)

    def state_of(self, result: StepResult) -> Carried:
        return result.state

    # --- requests

    def payload(self, values: dict[str, Any]) -> Step:
        """V2: one stream's step; the state from the state tensors when sent, else a new stream's."""
        feeds = {spec.name: values[spec.name] for spec in self.step_inputs}
        if any(array.shape[0] != 1 for array in feeds.values()):
            raise InputError(f"model {self.manifest.name!r} carries state: one stream's step per request, so every "
                             "input's first dimension (the batch) must be 1")
        state = self.state.from_tensors(values)
        return Step(feeds, state if state is not None else self.initial_state())

    def stream_step(self, frame: dict[str, Any], state: Carried) -> Step:
        """A stream route's step: `inputs` holds one stream's tensors, without the batch axis."""
        inputs = frame.get("inputs")
        if not isinstance(inputs, dict):
            raise InputError("'inputs' must be an object: tensor name -> one stream's values (nested lists)")
        refuse_unknown(inputs, frozenset(spec.name for spec in self.step_inputs), "input")
        feeds = {}
        for spec in self.step_inputs:
            if spec.name not in inputs:
                raise InputError(f"'inputs' lacks {spec.name!r}; this model's step inputs are "
                                 f"{[s.name for s in self.step_inputs]}")
            feeds[spec.name] = self._one_row(spec, inputs[spec.name])
        return Step(feeds, state)

    def _one_row(self, spec: TensorSpec, value: Any) -> np.ndarray:
        """One stream's value of a step input (the declared shape without its batch axis) -> one row of it."""
        shape, path = tuple(spec.shape[1:]), f"inputs.{spec.name}"
        # The typed routes' reading of nested JSON numbers: shape, nulls, ragged lists; a scalar as a list of one.
        array = json_numbers(path, value, shape) if shape else json_numbers(path, [value], (1,))[0]
        dtype = np.dtype(DTYPES[spec.datatype])
        if dtype.kind in "iu" and array.size and not (np.iinfo(dtype).min <= array.min()
                                                      and array.max() <= np.iinfo(dtype).max):
            raise InputError(f"{path} holds a number beyond {spec.datatype}'s range")
        with np.errstate(over="ignore"):  # a float beyond the datatype's range becomes inf: refused just below
            typed = array.astype(dtype)
        if dtype.kind == "f" and not np.isfinite(typed).all():
            raise InputError(f"{path} holds a number beyond {spec.datatype}'s range")
        return typed[None]

    # --- answers

    def stream_answer(self, result: StepResult) -> dict[str, Any]:
        return {"outputs": {name: array[0] for name, array in result.outputs.items()},
                "state": self.seal_state(result.state), "steps": result.state.steps}

    def answer_tensors(self, result: StepResult) -> list[Tensor]:
        arrays = {**result.outputs, **{slot.output: result.state.arrays[slot.input] for slot in self.state.slots}}
        return [Tensor(spec.name, spec.datatype, list(arrays[spec.name].shape), arrays[spec.name])
                for spec in self.outputs()]

    # --- running

    def size(self, payload: Step) -> int:
        return 1

    def work(self, payload: Step) -> int:
        return sum(int(array.size) for array in payload.feeds.values())

    def run_batch(self, payloads: list[Step]) -> list[StepResult]:
        # Streams whose inputs have the same shapes run together; their states always stack.
        return run_grouped(payloads, lambda step: tuple(array.shape for array in step.feeds.values()), self._run)

    def _run(self, group: list[Step]) -> list[StepResult]:
        feeds = {name: np.concatenate([step.feeds[name] for step in group]) for name in group[0].feeds}
        states = [step.state for step in group]
        outputs = dict(zip(self.graph_outputs, self.backend.run("model", {**feeds, **self.state.stack(states)}),
                           strict=True))
        after = self.state.split(outputs, states)
        return [StepResult({spec.name: outputs[spec.name][row : row + 1] for spec in self.step_outputs},
                           after[row], step.extra) for row, step in enumerate(group)]

    def warmup_payloads(self, batch_sizes: list[int]) -> list[Step]:
        feeds = {spec.name: np.zeros([1, *(max(d, 1) for d in spec.shape[1:])], dtype=DTYPES[spec.datatype])
                 for spec in self.step_inputs}
        return [Step(feeds, self.initial_state()) for _ in batch_sizes]
