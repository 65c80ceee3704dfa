"""Recurrent state carried between a stream's steps: the one implementation every stateful model uses.

A manifest declares its state as pairs of graph tensors (`"state": [{"input": "h", "output": "h_out"}]`,
app/repository/manifest.py): the output of one step is the input of the next. `StateSpec` checks the pairs
against the graph, starts a stream from their initial values, stacks the states of a batch's streams along
each pair's batch axis and splits the outputs back per stream, and seals one stream's state into a signed
token (app/state_token.py) bound to its task, model and version, or opens such a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import InputError
from app.repository.manifest import Manifest, ManifestError, StatePair, TensorSpec, verified_path
from app.state_token import StateTokenError, StateTokenVersionError, sign, unseal
from app.tensors import DTYPES


@dataclass
class Carried:
    """One stream's state: each state input's array with its batch axis of size 1, and the steps taken."""

    arrays: dict[str, np.ndarray]
    steps: int = 0


@dataclass(frozen=True)
class Slot:
    input: str
    output: str
    batch_axis: int
    initial: np.ndarray = field(repr=False)  # one stream's: the batch axis of size 1


def joined_shape(a: list[int], b: list[int]) -> list[int] | None:
    """The one shape two declared shapes allow (-1 takes the other's size), or None where they differ."""
    if len(a) != len(b) or any(x != y and -1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return [max(x, y) for x, y in zip(a, b, strict=True)]


class StateSpec:
    def __init__(self, manifest: Manifest, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> None:
        self.model = {"task": manifest.task, "model": manifest.name, "version": manifest.version}
        by_input, by_output = {s.name: s for s in inputs}, {s.name: s for s in outputs}
        self.slots: list[Slot] = []
        for pair in manifest.state:
            self.slots.append(self._slot(manifest, pair, by_input, by_output))
        for side in ("input", "output"):
            names = [getattr(slot, side) for slot in self.slots]
            if len(set(names)) != len(names):
                raise ManifestError(f"{manifest.name}/{manifest.version}: a state {side} is named in two pairs: "
                                    f"{sorted({n for n in names if names.count(n) > 1})}")
        self.inputs = [slot.input for slot in self.slots]
        self.outputs = [slot.output for slot in self.slots]

    @staticmethod
    def _slot(manifest: Manifest, pair: StatePair, by_input: dict[str, TensorSpec],
              by_output: dict[str, TensorSpec]) -> Slot:
        where = f"{manifest.name}/{manifest.version}: state {pair.input!r} -> {pair.output!r}"
        if pair.input not in by_input:
            raise ManifestError(f"{where}: the graph has no input {pair.input!r} (its inputs: {sorted(by_input)})")
        if pair.output not in by_output:
            raise ManifestError(f"{where}: the graph has no output {pair.output!r} (its outputs: {sorted(by_output)})")
        given, taken = by_input[pair.input], by_output[pair.output]
        if given.datatype != taken.datatype:
            raise ManifestError(f"{where}: datatypes differ: input {pair.input!r} is {given.datatype}, output "
                                f"{pair.output!r} is {taken.datatype}")
        if given.datatype not in DTYPES:
            raise ManifestError(f"{where}: a state is numeric, not {given.datatype}")
        shape = joined_shape(given.shape, taken.shape)
        if shape is None:
            raise ManifestError(f"{where}: shapes differ: input {pair.input!r} is {given.shape}, output "
                                f"{pair.output!r} is {taken.shape}")
        if pair.batch_axis >= len(shape):
            raise ManifestError(f"{where}: batch axis {pair.batch_axis} of a {len(shape)}-dimensional state")
        one = [1 if axis == pair.batch_axis else size for axis, size in enumerate(shape)]
        if any(size < 0 for size in one):
            raise ManifestError(f"{where}: every axis but the batch axis must have a fixed size, got {shape}")
        dtype = DTYPES[given.datatype]
        if pair.initial is None:
            initial = np.zeros(one, dtype=dtype)
        else:
            path = verified_path(manifest.folder, pair.initial)
            try:
                initial = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ManifestError(f"{where}: {path.name} is not a .npy array ({exc})") from exc
            if list(initial.shape) != one or initial.dtype != dtype:
                raise ManifestError(f"{where}: {path.name} holds {initial.dtype} {list(initial.shape)}; one stream's "
                                    f"state is {np.dtype(dtype)} {one}")
        return Slot(pair.input, pair.output, pair.batch_axis, initial)

    # --- one stream

    def initial(self) -> Carried:
        return Carried({slot.input: slot.initial.copy() for slot in self.slots})

    def from_tensors(self, values: dict[str, Any]) -> Carried | None:
        """State sent as input tensors (V2): all of them, or none (None: the caller's choice of state)."""
        given = {slot.input: values[slot.input] for slot in self.slots if values.get(slot.input) is not None}
        if not given:
            return None
        if len(given) != len(self.slots):
            raise InputError(f"send all of the state inputs {self.inputs} or none (a new stream)")
        for slot in self.slots:
            if given[slot.input].shape != slot.initial.shape:
                raise InputError(f"state input {slot.input!r} must have shape {list(slot.initial.shape)} (one stream)")
        return Carried({name: np.asarray(array, dtype=self._dtype(name)) for name, array in given.items()})

    def _dtype(self, name: str) -> np.dtype[Any]:
        return next(slot.initial.dtype for slot in self.slots if slot.input == name)

    def seal(self, keys: Sequence[bytes], carried: Carried) -> str:
        """The stream's state as a token signed with the first key: the arrays' bytes, in the pairs' order."""
        blob = b"".join(np.ascontiguousarray(carried.arrays[slot.input], dtype=self._little(slot)).tobytes()
                        for slot in self.slots)
        return sign(keys[0], {**self.model, "steps": carried.steps, "state": self.inputs}, blob)

    @staticmethod
    def _little(slot: Slot) -> np.dtype[Any]:
        return slot.initial.dtype.newbyteorder("<")

    def open(self, keys: Sequence[bytes], token: Any) -> Carried:
        """The state a token carries, if this very model version signed it; a new stream's for None."""
        if token is None:
            return self.initial()
        payload, blob = unseal(keys, token)
        if payload.get("task") != self.model["task"] or payload.get("model") != self.model["model"]:
            raise StateTokenError(f"state token belongs to model {payload.get('model')!r} (task "
                                  f"{payload.get('task')!r}), not {self.model['model']!r}", "other_model")
        if payload.get("version") != self.model["version"]:
            signed, name, version = payload.get("version"), self.model["model"], self.model["version"]
            raise StateTokenVersionError(f"state token comes from {name} version {signed}, this is version {version}: "
                                         f"send ?version={signed} while that version serves, or start a new stream "
                                         "(state null)")
        steps = payload.get("steps")
        sizes = [slot.initial.nbytes for slot in self.slots]
        if payload.get("state") != self.inputs or not isinstance(steps, int) or len(blob) != sum(sizes):
            raise StateTokenError(f"state token does not hold the state {self.inputs} ({sum(sizes)} bytes) and its "
                                  "step count", "state")
        arrays, start = {}, 0
        for slot, size in zip(self.slots, sizes, strict=True):
            flat = np.frombuffer(blob, dtype=self._little(slot), count=slot.initial.size, offset=start)
            arrays[slot.input] = flat.astype(slot.initial.dtype).reshape(slot.initial.shape)
            start += size
        return Carried(arrays, steps)

    # --- a batch of streams

    def stack(self, states: Sequence[Carried]) -> dict[str, np.ndarray]:
        """The state feeds of a batch: each stream's state, along its batch axis, in order."""
        return {slot.input: np.concatenate([s.arrays[slot.input] for s in states], axis=slot.batch_axis)
                for slot in self.slots}

    def split(self, outputs: dict[str, np.ndarray], before: Sequence[Carried]) -> list[Carried]:
        """Each stream's next state from a batch's state outputs (`before`: the states the batch ran on)."""
        return [Carried({slot.input: np.take(outputs[slot.output], [row], axis=slot.batch_axis)
                         for slot in self.slots}, carried.steps + 1)
                for row, carried in enumerate(before)]
