"""Any ONNX graph (and its TorchScript twin) served by its declared tensors: bring your own model.

The manifest's `inputs` and `outputs` are the graph's own, and V2 `infer` is its only route. When every
input's first dimension is -1 the model is batched along that axis: requests whose other dimensions
agree run together; otherwise each request runs alone. A manifest that declares `state` makes it a
recurrent model whose streams carry their state between calls (app/tasks/recurrent.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.errors import InputError
from app.repository.manifest import Manifest, ManifestError, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import TaskModel
from app.tasks.contract import Contract, Input, run_grouped
from app.tasks.recurrent import RecurrentModel, only_graph
from app.tensors import DTYPES, Tensor

Feeds = dict[str, np.ndarray]


class TensorModel(TaskModel[Feeds, Feeds]):
    """Payload: the graph's inputs by name; result: its outputs by name."""

    task = "tensor"

    @classmethod
    def for_manifest(cls, manifest: Manifest) -> type[TaskModel[Any, Any]]:
        # A graph whose manifest declares state steps streams instead (app/tasks/recurrent.py).
        return RecurrentModel if manifest.state else cls

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        graph = only_graph(manifest, "a tensor model")
        for declared, actual, what in ((manifest.inputs, graph.inputs, "inputs"),
                                       (manifest.outputs, graph.outputs, "outputs")):
            if not declared or [s.name for s in declared] != [s.name for s in actual]:
                raise ManifestError(f"{manifest.name}: the manifest's {what} must name the graph's {what} in order "
                                    f"({[s.name for s in actual]})")
        for spec in [*manifest.inputs, *manifest.outputs]:
            if spec.datatype not in DTYPES:
                raise ManifestError(f"{manifest.name}: tensor {spec.name!r} has datatype {spec.datatype!r}; "
                                    f"a tensor model takes {sorted(DTYPES)}")
        self.batched = all(spec.shape and spec.shape[0] == -1 for spec in manifest.inputs)
        # The manifest declares the request: every input required, the batch dimension bounded by max_items.
        self.contract = Contract([Input(spec.name, spec.datatype, tuple(spec.shape), where="tensor",
                                        items="max_items" if self.batched else None) for spec in manifest.inputs])

    def outputs(self) -> tuple[TensorSpec, ...]:
        return tuple(self.manifest.outputs)

    def payload(self, values: dict[str, Any]) -> Feeds:
        feeds: Feeds = values
        if self.batched and len({len(array) for array in feeds.values()}) > 1:
            rows = sorted({len(array) for array in feeds.values()})
            raise InputError(f"inputs disagree on the batch size (first dimension): {rows}")
        return feeds

    def answer_tensors(self, result: Feeds) -> list[Tensor]:
        return [Tensor(spec.name, spec.datatype, list(result[spec.name].shape), result[spec.name])
                for spec in self.manifest.outputs]

    def size(self, payload: Feeds) -> int:
        return len(next(iter(payload.values()))) if self.batched else 1

    def work(self, payload: Feeds) -> int:
        # A user's graph may take any length on any dynamic axis: its cost follows the elements fed.
        return sum(int(array.size) for array in payload.values())

    def split(self, payload: Feeds, most: int) -> list[Feeds]:
        # Only a graph batched on both sides answers parts that join back into the whole's answer.
        if not (self.batched and all(spec.shape and spec.shape[0] == -1 for spec in self.manifest.outputs)):
            return [payload]
        rows = self.size(payload)
        return [{name: array[i : i + most] for name, array in payload.items()} for i in range(0, rows, most)]

    def join(self, results: list[Feeds]) -> Feeds:
        return {name: np.concatenate([part[name] for part in results]) for name in results[0]}

    def run_batch(self, payloads: list[Feeds]) -> list[Feeds]:
        # Only requests whose non-batch dimensions agree can be stacked into one run.
        def key(feeds: Feeds) -> Any:
            return tuple(array.shape[1:] for array in feeds.values()) if self.batched else id(feeds)

        return run_grouped(payloads, key, self._run_stacked)

    def _run_stacked(self, group: list[Feeds]) -> list[Feeds]:
        names = [spec.name for spec in self.manifest.outputs]
        feeds = {name: np.concatenate([payload[name] for payload in group]) for name in group[0]}
        outputs = self.backend.run("model", feeds)
        if len(group) == 1:
            return [dict(zip(names, outputs, strict=True))]
        bounds = np.cumsum([self.size(payload) for payload in group])[:-1]
        parts = [np.split(output, bounds) for output in outputs]
        return [{name: part[k] for name, part in zip(names, parts, strict=True)} for k in range(len(group))]

    def warmup_payloads(self, batch_sizes: list[int]) -> list[Feeds]:
        sizes = batch_sizes if self.batched else batch_sizes[:1]
        return [{spec.name: np.zeros([n if d == -1 and i == 0 else max(d, 1) for i, d in enumerate(spec.shape)],
                                     dtype=DTYPES[spec.datatype])
                 for spec in self.manifest.inputs} for n in sizes]
