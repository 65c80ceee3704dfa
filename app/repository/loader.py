"""`load_model(folder, settings)`: the one way a version folder becomes a served model.

The registry, the tests, the benchmarks, the scripts and training's held-out evaluation all load
through it, so a manifest's metrics are measured by the code that serves the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.repository.manifest import Manifest, ManifestError, read_manifest, verified_path
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks import TASKS, TaskModel


def build_backend(manifest: Manifest, folder: Path, settings: Settings) -> Backend:
    label = f"{manifest.name}/{manifest.version}"
    if settings.backend == "torchscript":
        from app.runtime.torchscript import TorchScriptBackend

        graphs_ts = {}
        for graph, spec in manifest.artifacts.items():
            if spec.torchscript is None:
                raise ManifestError(f"{folder / 'manifest.json'}: graph {graph!r} has no torchscript artifact")
            graphs_ts[graph] = (verified_path(folder, spec.torchscript), [i.name for i in spec.inputs])
        return TorchScriptBackend(label, graphs_ts, settings.device, settings.intra_op_threads)
    from app.runtime.onnx import OnnxBackend

    graphs = {graph: verified_path(folder, spec.onnx) for graph, spec in manifest.artifacts.items()}
    return OnnxBackend(label, graphs, settings.device, settings.intra_op_threads)


def load_model(folder: Path, settings: Settings) -> TaskModel[Any, Any]:
    """Read and verify the manifest, open its graphs on the configured backend and device, and wrap
    them in the manifest's task, whose signature the manifest's public tensors must be. Raises
    ManifestError or BackendError saying what is wrong."""
    manifest = read_manifest(folder)
    task = TASKS.get(manifest.task)
    if task is None:
        raise ManifestError(f"{folder / 'manifest.json'}: unknown task {manifest.task!r}; known: {sorted(TASKS)}")
    model = task.for_manifest(manifest)(manifest, build_backend(manifest, folder, settings), settings)
    model.check_signature()
    return model
