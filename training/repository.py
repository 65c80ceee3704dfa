"""Write one model version into the repository: artifacts, manifest, metrics CSV and plots."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import onnx
import torch

from app.tasks import Signature
from training.export import ONNX_OPSET, ExportedGraph, sha256_of


def new_version_folder(models_dir: Path, name: str, version: int | None) -> Path:
    """models/<name>/<version>/, the next integer version unless one is given (then it is replaced)."""
    model_dir = models_dir / name
    if version is None:
        existing = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isascii() and p.name.isdigit()]
        version = max(existing, default=0) + 1
    folder = model_dir / str(version)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def write_history(folder: Path, history: list[dict[str, float]]) -> None:
    with (folder / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def command_line() -> str:
    return "python -m training " + " ".join(sys.argv[1:])


def write_manifest(
    folder: Path,
    *,
    name: str,
    task: str,
    description: str,
    graphs: list[ExportedGraph],
    signature: Signature,
    training: dict[str, Any],
    preprocessing: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The manifest that makes `folder` a servable version: artifacts with their sha256, the public
    tensors (`signature`: the task's own, or a "tensor" model's graph), the state a recurrent graph carries
    between steps (pairs of its tensors, app/repository/manifest.py), and how it was made. Metrics follow
    once the served model has been measured (`record_metrics`)."""
    artifacts = {}
    for graph in graphs:
        onnx_model = onnx.load(str(folder / graph.onnx_file), load_external_data=False)
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in onnx_model.graph.initializer):
            raise RuntimeError(f"{graph.onnx_file}: weights were saved outside the file")
        artifacts[graph.name] = {
            "onnx": {"file": graph.onnx_file, "sha256": sha256_of(folder / graph.onnx_file)},
            "torchscript": {"file": graph.torchscript_file, "sha256": sha256_of(folder / graph.torchscript_file)},
            "inputs": graph.inputs,
            "outputs": graph.outputs,
            "parity_max_abs_diff": graph.parity,
        }
    manifest = {
        "name": name,
        "version": int(folder.name),
        "task": task,
        "description": description,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "torch": torch.__version__.split("+")[0],
        "onnx_opset": ONNX_OPSET,
        "artifacts": artifacts,
        **signature.describe(),
        **({"state": state} if state else {}),
        "preprocessing": preprocessing or {},
        "metrics": {},
        "training": {"command": command_line(), **training},
    }
    _write(folder, manifest)
    return manifest


def set_preprocessing(folder: Path, preprocessing: dict[str, Any]) -> None:
    """Replace the manifest's preprocessing: for settings measured on the served model (a threshold)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["preprocessing"] = preprocessing
    _write(folder, manifest)


def record_metrics(folder: Path, metrics: dict[str, Any], wall_s: float, measured_by: str | None = None) -> None:
    """Add held-out metrics (measured on the served model) and the whole run's wall time; `measured_by`
    names the command that measured them again after training, when one did."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["metrics"] = metrics
    manifest["training"]["wall_s"] = round(wall_s, 1)
    if measured_by:
        manifest["training"]["metrics_measured_by"] = measured_by
    _write(folder, manifest)


def _write(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
