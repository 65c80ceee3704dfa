"""The one request pipeline every protocol calls: find the model version -> the task parses ->
its batcher runs it -> the task answers. Protocol adapters (typed REST and its fast path, V2 REST)
turn bytes into these calls and the answers or `ServeError`s back into bytes; they hold no task
knowledge, and the tasks hold no protocol knowledge beyond their JSON and tensor forms."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from app.errors import Conflict, InputError
from app.repository.registry import ModelVersion, Registry
from app.sequences import SequenceRequest, SequenceStore
from app.settings import Settings
from app.tasks import TaskModel
from app.tensors import Tensor

Context = MutableMapping[str, Any]  # the request's state: the data plane records the model for the metrics


class DataPlane:
    def __init__(self, registry: Registry, settings: Settings) -> None:
        self.registry = registry
        self.timeout_s = settings.request_timeout_s
        self.sequences = SequenceStore(settings.sequence_ttl_min * 60, settings.max_sequences)
        self._sequences_running: set[tuple[str, str]] = set()

    def find(self, name: str, version: int | None, task: type[TaskModel[Any, Any]] | None = None,
             context: Context | None = None) -> ModelVersion:
        """The ready version asked for (the newest when `version` is None); ModelNotFound otherwise."""
        entry = self.registry.get(name, version, task=task.task if task is not None else None)
        if context is not None:
            context["model"] = entry.key
        return entry

    async def run(self, entry: ModelVersion, payload: Any, timeout_s: float | None = None) -> Any:
        """`timeout_s`: the caller's own deadline, capped by the server's."""
        assert entry.batcher is not None  # a ready version has one
        limit = self.timeout_s if timeout_s is None else min(self.timeout_s, timeout_s)
        return await entry.batcher.submit(payload, limit)

    async def answer(self, entry: ModelVersion, payload: Any) -> dict[str, Any]:
        """Run a payload and give the typed JSON answer, naming the model version that gave it."""
        assert entry.model is not None
        result = await self.run(entry, payload)
        return {"model": entry.name, "version": entry.version, **entry.model.answer_json(result)}

    async def predict(self, task: type[TaskModel[Any, Any]], body: dict[str, Any], model: str | None,
                      version: int | None, context: Context | None = None) -> dict[str, Any]:
        """A typed JSON body for `task` -> its JSON answer."""
        entry = self.find(model_name(task, body, model), version, task, context)
        assert entry.model is not None
        return await self.answer(entry, entry.model.parse_json(body))

    async def infer(self, entry: ModelVersion, inputs: dict[str, Tensor], timeout_s: float | None = None,
                    sequence: SequenceRequest | None = None) -> list[Tensor]:
        """Tensors for any model (found with `find`) -> its output tensors. With `sequence`, a stateful
        model's state comes from and goes back to the process's sequence store (app/sequences.py)."""
        model = entry.model
        assert model is not None
        payload = model.parse_tensors(inputs)
        if sequence is None:
            return model.answer_tensors(await self.run(entry, payload, timeout_s))
        if any(name in inputs for name in model.state_inputs):
            raise InputError("send the state as tensors or name a sequence, not both")
        running = (entry.key, sequence.id)
        if running in self._sequences_running:
            raise Conflict(f"a step of sequence {sequence.id!r} is still running; send its steps one at a time")
        self._sequences_running.add(running)
        try:
            state = self.sequences.begin(sequence, entry.key, model.initial_state())
            result = await self.run(entry, model.with_state(payload, state), timeout_s)
            self.sequences.keep(sequence, entry.key, model.state_of(result))
        finally:
            self._sequences_running.discard(running)
        return model.answer_tensors(result)


def model_name(task: type[TaskModel[Any, Any]], body: dict[str, Any], query_model: str | None) -> str:
    """?model= or the body's model field (tasks that have one), never two different names."""
    named = body.get(task.model_field) if task.model_field else None
    if named is not None and not isinstance(named, str):
        raise InputError(f"{task.model_field!r} must be a string")
    if named is not None and query_model is not None and named != query_model:
        raise InputError(f"?model={query_model} and the body's {task.model_field!r} ({named!r}) disagree; give one")
    if named is not None:
        return named
    return query_model if query_model is not None else task.default_model  # "" names no model: 404, not the default
