"""The data plane: the one door every protocol calls, for inference and prediction, stream steps,
metadata, readiness, configuration, statistics and model control.

Adapters (typed REST and its fast path, V2 REST, gRPC, WebSocket) turn bytes into these calls and the
answers or `ServeError`s back into bytes. Here, once for all of them: versions are parsed, a model version
is found and its request submitted to its batcher with no `await` in between (so an unload cannot slip
between the two), every request is recorded through its `Call`, and deadlines are capped by the server's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.dataplane import describe
from app.dataplane.calls import Call, Calls
from app.draining import Drain
from app.errors import BadRequest, Conflict, InputError, ModelNotFound, ServeError
from app.metrics import Metrics
from app.repository.control import ModelControl
from app.repository.registry import Registry
from app.repository.version import ModelVersion
from app.sequences import SequenceRequest, SequenceStore
from app.settings import Settings
from app.tasks import PLUGIN_PROBLEMS, TaskModel
from app.tasks.contract import refuse_unknown
from app.tensors import Tensor

Task = type[TaskModel[Any, Any]]


def parse_version(raw: str | int | None) -> int | None:
    """A version as any protocol sends it: None or "" for the newest, else a positive integer (or its
    digits). Anything else can never name a version: InputError, the same meaning on every protocol."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        version = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit():
        version = int(raw)
    else:
        raise InputError(f"version must be an integer >= 1, got {raw!r}")
    if version < 1:
        raise InputError(f"version must be an integer >= 1, got {raw!r}")
    return version


def timeout_parameter(value: Any) -> float | None:
    """Triton's `timeout` request parameter: microseconds, 0 for none; the server's own limit still caps it."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"parameter 'timeout' must be a non-negative integer (microseconds), got {value!r}")
    return value / 1e6 if value else None


@dataclass
class Inference:
    """A tensor request, as every tensor protocol decodes it."""

    inputs: dict[str, Tensor]
    outputs: list[str] | None = None  # the outputs asked for; None or [] for all
    timeout_s: float | None = None  # the caller's deadline, capped by the server's
    sequence: SequenceRequest | None = None  # sequence_id / _start / _end, for stateful models


STREAM_FIELDS = frozenset({"inputs", "state"})  # a stream step's body, or a tensor stream's frame


@dataclass
class Stream:
    """A stateful model's stream held by a connection (WebSocket): the state moves on with each step."""

    entry: ModelVersion
    state: Any = None  # None until the first step: that one may bring a token to resume
    tensors: bool = False  # frames of the graph's tensors (`/models/{name}/stream/ws`), not a task's typed fields


@dataclass
class Readiness:
    ready: bool
    status: str  # ready | loading | unavailable | draining
    models: dict[str, str]
    problems: list[str]


class DataPlane:
    def __init__(self, registry: Registry, control: ModelControl, settings: Settings, metrics: Metrics) -> None:
        self.registry = registry
        self.control = control
        self.settings = settings
        self.timeout_s = settings.request_timeout_s
        self.calls = Calls(metrics, registry.activity)
        self.metrics = metrics
        self.drain = Drain(settings.drain_s)  # SIGTERM's first step (app/draining.py): readiness says no
        self.sequences = SequenceStore(settings.sequence_ttl_min * 60, settings.max_sequences,
                                       settings.max_client_sequences, observer=metrics)
        self._sequences_running: set[tuple[str, str]] = set()

    def call(self, protocol: str, route: str, sole_connection: bool = False, client: str = "") -> Call:
        """Open the record of one request; the adapter finishes it (or uses it as a context manager)."""
        return self.calls.open(protocol, route, sole_connection, client)

    # --- finding a model version

    def find(self, name: str, version: str | int | None = None, task: Task | None = None,
             call: Call | None = None) -> ModelVersion:
        """The ready version asked for (the newest when `version` is None or ""); ModelNotFound otherwise."""
        entry = self.registry.get(name, parse_version(version), task=task.task if task is not None else None)
        if call is not None:
            call.found(entry.name, entry.version)
        return entry

    def task_model(self, task: Task, model: str | None, body: dict[str, Any] | None = None) -> str:
        """The model a typed request names: ?model= or the body's model field (tasks that have one),
        never two different names; the task's default otherwise."""
        named = body.get(task.model_field) if task.model_field and body is not None else None
        if named is not None and not isinstance(named, str):
            raise InputError(f"{task.model_field!r} must be a string")
        if named is not None and model is not None and named != model:
            raise InputError(f"?model={model} and the body's {task.model_field!r} ({named!r}) disagree; give one")
        if named is not None:
            return named
        return model if model is not None else task.default_model  # "" names no model: 404, not the default

    # --- running

    async def run(self, entry: ModelVersion, payload: Any, timeout_s: float | None = None,
                  call: Call | None = None) -> Any:
        """Submit a payload to the version's batcher, for the call's client; `timeout_s`: the caller's
        deadline, capped by the server's."""
        assert entry.batcher is not None and entry.model is not None  # a ready version has both
        limit = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        result = await entry.batcher.submit(payload, limit, call.client if call is not None else "")
        if entry.model.stateful and call is not None:
            self.metrics.stream_step(call.protocol, entry.key)
        return result

    async def answer(self, entry: ModelVersion, payload: Any, call: Call | None = None) -> dict[str, Any]:
        """Run a payload and give the typed JSON answer, naming the model version that gave it."""
        assert entry.model is not None
        result = await self.run(entry, payload, call=call)
        return {"model": entry.name, "version": entry.version, **entry.model.answer_json(result)}

    async def predict(self, task: Task, body: dict[str, Any], model: str | None, version: str | None,
                      call: Call | None = None) -> dict[str, Any]:
        """A typed JSON body for `task` -> its JSON answer."""
        entry = self.find(self.task_model(task, model, body), version, task, call)
        assert entry.model is not None
        try:
            payload = entry.model.parse_json(body)
        except ServeError as exc:
            self._count_token_rejection(entry, exc)
            raise
        return await self.answer(entry, payload, call)

    async def predict_upload(self, task: Task, data: bytes, model: str | None, version: str | None,
                             call: Call | None = None) -> dict[str, Any]:
        """An uploaded file for `task` (a picture) -> its JSON answer; the file is decoded off the loop."""
        name = self.task_model(task, model)
        first = self.find(name, version, task, call)  # 404 before decoding
        assert first.model is not None
        payload = await asyncio.to_thread(first.model.parse_upload, data)
        entry = self.find(name, version, task, call)  # again after the await: what serves now runs it
        return await self.answer(entry, payload, call)

    async def infer(self, name: str, version: str | int | None, decode: Callable[[], Inference],
                    call: Call | None = None) -> tuple[ModelVersion, list[Tensor]]:
        """A tensor request for any model -> the version that answered and the outputs asked for.
        `decode` reads the request once the model is found (so an unknown model is 404 first). With a
        sequence, a stateful model's state comes from and goes back to the sequence store."""
        entry = self.find(name, version, call=call)
        request = decode()
        model = entry.model
        assert model is not None
        try:
            payload = model.parse_tensors(request.inputs)
        except ServeError as exc:
            self._count_token_rejection(entry, exc)
            raise
        if request.sequence is None:
            result = await self.run(entry, payload, request.timeout_s, call)
        else:
            result = await self._sequence_step(entry, request, payload, call)
        return entry, select_outputs(request.outputs, model.answer_tensors(result))

    async def _sequence_step(self, entry: ModelVersion, request: Inference, payload: Any,
                             call: Call | None) -> Any:
        model, sequence = entry.model, request.sequence
        assert model is not None and sequence is not None
        if any(name in request.inputs for name in model.state_inputs):
            raise InputError("send the state as tensors or name a sequence, not both")
        running = (entry.key, sequence.id)
        if running in self._sequences_running:
            raise Conflict(f"a step of sequence {sequence.id!r} is still running; send its steps one at a time")
        self._sequences_running.add(running)
        try:
            client = call.client if call is not None else ""
            state = self.sequences.begin(sequence, entry.key, model.initial_state(), client)
            result = await self.run(entry, model.with_state(payload, state), request.timeout_s, call)
            self.sequences.keep(sequence, entry.key, model.state_of(result), client)
        finally:
            self._sequences_running.discard(running)
        return result

    # --- streams held by a connection

    def open_stream(self, task: Task, model: str | None, version: str | None) -> Stream:
        """A connection's stream of `task`; `close_stream` when the connection ends."""
        stream = Stream(self.find(self.task_model(task, model), version, task))
        self.metrics.stream_opened(stream.entry.key, 1)
        return stream

    def find_stateful(self, name: str, version: str | None, call: Call | None = None) -> ModelVersion:
        """The version asked for, of a model that carries state; a model that keeps none has no stream to
        step: 404, as for a model that is not there."""
        entry = self.find(name, version, call=call)
        assert entry.model is not None
        if not entry.model.stateful:
            raise ModelNotFound(f"model {name!r} keeps no state between calls, so it has no stream: streams serve "
                                f"models whose manifest declares state (use /v2/models/{name}/infer)")
        return entry

    def open_model_stream(self, name: str, version: str | None) -> Stream:
        """A connection's stream of any model that carries state, in frames of its tensors."""
        stream = Stream(self.find_stateful(name, version), tensors=True)
        self.metrics.stream_opened(stream.entry.key, 1)
        return stream

    async def stream(self, name: str, version: str | None, body: dict[str, Any],
                     call: Call | None = None) -> dict[str, Any]:
        """One step of a stream of any stateful model, its state in the token it sends back:
        `{"inputs": {name: one stream's values}, "state": token | null}` -> outputs, a new token, steps."""
        entry = self.find_stateful(name, version, call)
        model = entry.model
        assert model is not None
        refuse_unknown(body, STREAM_FIELDS, "field")
        state = self._open_state(entry, body.get("state"))
        result = await self.run(entry, model.stream_step(body, state), call=call)
        return {"model": entry.name, "version": entry.version, **model.stream_answer(result)}

    def _open_state(self, entry: ModelVersion, token: Any) -> Any:
        """The state a token carries (a new stream's for None); a refused token is counted by reason."""
        assert entry.model is not None
        try:
            return entry.model.open_state(token)
        except ServeError as exc:
            self._count_token_rejection(entry, exc)
            raise

    def close_stream(self, stream: Stream) -> None:
        self.metrics.stream_opened(stream.entry.key, -1)

    def _count_token_rejection(self, entry: ModelVersion, exc: ServeError) -> None:
        """A state token refused while reading a request is counted by reason (app/state_token.py)."""
        reason = getattr(exc, "token_reason", None)
        if reason is not None:
            self.metrics.token_rejected(entry.key, reason)

    async def stream_step(self, stream: Stream, frame: dict[str, Any], call: Call | None = None) -> dict[str, Any]:
        """One frame of a stream -> its answer; the stream's state moves on only when the step ran. The
        first frame may carry the state token of an earlier answer, to resume."""
        entry = stream.entry
        model = entry.model
        assert model is not None
        if call is not None:
            call.found(entry.name, entry.version)
        first = stream.state is None
        if stream.tensors:
            refuse_unknown(frame, STREAM_FIELDS, "field")
        else:
            model.reject_unknown(frame)
        if model.state_field in frame and not first:
            raise InputError(f"this connection carries the state; send {model.state_field!r} only in the first "
                             "frame, to resume")
        current = self._open_state(entry, frame.get(model.state_field)) if first else stream.state
        payload = model.stream_step(frame, current) if stream.tensors else model.step_json(frame, current)
        result = await self.run(entry, payload, call=call)
        stream.state = model.state_of(result)
        answer = model.stream_answer(result) if stream.tensors else model.answer_json(result)
        return {"model": entry.name, "version": entry.version, **answer}

    # --- readiness, metadata, configuration, statistics

    def readiness(self) -> Readiness:
        registry = self.registry
        models = {entry.key: entry.state if entry.state != "failed" else f"failed: {entry.reason}"
                  for entry in registry.versions.values()}
        problems = [*PLUGIN_PROBLEMS, *registry.problems]  # a broken plugin is said, the other tasks serve
        if self.drain.draining:
            return Readiness(False, "draining", models, problems)
        status = "ready" if registry.ready else "loading" if not registry.loaded else "unavailable"
        return Readiness(registry.ready, status, models, problems)

    def model_ready(self, name: str, version: str | int | None = None) -> bool:
        try:
            self.find(name, version)
        except ModelNotFound:
            return False
        return True

    def knows(self, name: str) -> bool:
        """Whether any version of `name` is in the serving table (ready or not)."""
        return any(v.name == name for v in self.registry.versions.values())

    def versions(self) -> list[ModelVersion]:
        """Every version in the serving table, whatever its state."""
        return list(self.registry.versions.values())

    def serving(self, name: str | None = None) -> list[ModelVersion]:
        """The ready versions (of `name`), in name and version order."""
        return sorted((v for v in self.registry.versions.values() if v.state == "ready" and name in (None, v.name)),
                      key=lambda v: (v.name, v.version))

    def server_metadata(self) -> dict[str, Any]:
        return describe.server_metadata()

    def model_metadata(self, name: str, version: str | int | None = None) -> dict[str, Any]:
        entry = self.find(name, version)
        return describe.model_metadata(entry, [v.version for v in self.serving(name)])

    def model_config(self, name: str, version: str | int | None = None) -> dict[str, Any]:
        return describe.model_config(self.find(name, version), self.settings)

    def statistics(self, name: str | None = None, version: str | int | None = None) -> dict[str, Any]:
        """Of every version (no name), every version of `name`, or one version; 404 for a model that does not serve."""
        if not name:
            return describe.model_statistics(self.serving())
        if parse_version(version) is not None:
            return describe.model_statistics([self.find(name, version)])
        self.find(name)
        return describe.model_statistics(self.serving(name))

    # --- model control (the repository extension)

    def repository_index(self, ready_only: bool = False) -> list[dict[str, str]]:
        return self.control.index(ready_only)

    async def load(self, name: str, parameters: list[str]) -> None:
        await self.control.load(name, parameters)

    async def unload(self, name: str) -> None:
        await self.control.unload(name)


def select_outputs(requested: list[str] | None, outputs: list[Tensor]) -> list[Tensor]:
    """The outputs a request asked for (all when it names none), or BadRequest naming unknown ones."""
    if not requested:
        return outputs
    known = {t.name for t in outputs}
    unknown = [n for n in requested if n not in known]
    if unknown:
        raise BadRequest(f"unknown output(s) {unknown}; this model has {sorted(known)}")
    return [t for t in outputs if t.name in requested]
