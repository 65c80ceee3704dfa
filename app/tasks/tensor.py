"""Any ONNX graph (and its TorchScript twin) served by its declared tensors: bring your own model.

The manifest's `inputs` and `outputs` are the graph's own, and V2 `infer` is its only route. When every
input's first dimension is -1 the model is batched along that axis: requests whose other dimensions
agree run together; otherwise each request runs alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.errors import InputError
from app.repository.manifest import Manifest, ManifestError
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import Signature, TaskModel
from app.tensors import DTYPES, Tensor

Feeds = dict[str, np.ndarray]


class TensorModel(TaskModel[Feeds, Feeds]):
    """Payload: the graph's inputs by name; result: its outputs by name."""

    task = "tensor"

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        if set(manifest.artifacts) != {"model"}:
            raise ManifestError(
                f"{manifest.name}: a tensor model has one graph, 'model'; found {sorted(manifest.artifacts)}")
        graph = manifest.artifacts["model"]
        for declared, actual, what in ((manifest.inputs, graph.inputs, "inputs"),
                                       (manifest.outputs, graph.outputs, "outputs")):
            if not declared or [s.name for s in declared] != [s.name for s in actual]:
                raise ManifestError(f"{manifest.name}: the manifest's {what} must name the graph's {what} in order "
                                    f"({[s.name for s in actual]})")
        for spec in [*manifest.inputs, *manifest.outputs]:
            if spec.datatype not in DTYPES:
                raise ManifestError(f"{manifest.name}: tensor {spec.name!r} has datatype {spec.datatype!r}; "
                                    f"a tensor model takes {sorted(DTYPES)}")
        self._signature = Signature(list(manifest.inputs), list(manifest.outputs))
        self.batched = all(spec.shape and spec.shape[0] == -1 for spec in manifest.inputs)

    def signature(self) -> Signature:
        return self._signature

    def parse_tensors(self, inputs: dict[str, Tensor]) -> Feeds:
        self.only_known(inputs)
        feeds: Feeds = {}
        rows = set()
        for spec in self._signature.inputs:
            tensor = inputs.get(spec.name)
            if tensor is None:
                raise InputError(f"missing input {spec.name!r}")
            if tensor.datatype != spec.datatype or not isinstance(tensor.data, np.ndarray):
                raise InputError(f"input {spec.name!r} must be {spec.datatype}, got {tensor.datatype}")
            shape = list(tensor.data.shape)
            if len(shape) != len(spec.shape) or any(d not in (-1, s) for d, s in zip(spec.shape, shape, strict=True)):
                raise InputError(f"input {spec.name!r} must have shape {spec.shape} (-1: any size), got {shape}")
            if tensor.data.dtype.kind == "f" and not np.isfinite(tensor.data).all():
                raise InputError(f"input {spec.name!r} contains NaN or infinity")
            feeds[spec.name] = tensor.data
            if self.batched:
                rows.add(shape[0])
        if len(rows) > 1:
            raise InputError(f"inputs disagree on the batch size (first dimension): {sorted(rows)}")
        if self.batched and next(iter(rows)) > self.max_items:
            raise InputError(f"batch of {next(iter(rows))}; at most {self.max_items} per request")
        return feeds

    def answer_tensors(self, result: Feeds) -> list[Tensor]:
        return [Tensor(spec.name, spec.datatype, list(result[spec.name].shape), result[spec.name])
                for spec in self._signature.outputs]

    def size(self, payload: Feeds) -> int:
        return len(next(iter(payload.values()))) if self.batched else 1

    def work(self, payload: Feeds) -> int:
        # A user's graph may take any length on any dynamic axis: its cost follows the elements fed.
        return sum(int(array.size) for array in payload.values())

    def run_batch(self, payloads: list[Feeds]) -> list[Feeds]:
        results: list[Feeds] = [{} for _ in payloads]
        # Only requests whose non-batch dimensions agree can be stacked into one run.
        groups: dict[tuple[Any, ...], list[int]] = {}
        for k, feeds in enumerate(payloads):
            key = tuple(feeds[n].shape[1:] for n in feeds) if self.batched else (k,)
            groups.setdefault(key, []).append(k)
        names = [spec.name for spec in self._signature.outputs]
        for members in groups.values():
            feeds = {name: np.concatenate([payloads[k][name] for k in members]) for name in payloads[members[0]]}
            outputs = self.backend.run("model", feeds)
            if len(members) == 1:
                results[members[0]] = dict(zip(names, outputs, strict=True))
                continue
            bounds = np.cumsum([self.size(payloads[k]) for k in members])[:-1]
            for name, output in zip(names, outputs, strict=True):
                for k, part in zip(members, np.split(output, bounds), strict=True):
                    results[k][name] = part
        return results

    def warmup_payloads(self, batch_sizes: list[int]) -> list[Feeds]:
        sizes = batch_sizes if self.batched else batch_sizes[:1]
        return [{spec.name: np.zeros([n if d == -1 and i == 0 else max(d, 1) for i, d in enumerate(spec.shape)],
                                     dtype=DTYPES[spec.datatype])
                 for spec in self._signature.inputs} for n in sizes]
