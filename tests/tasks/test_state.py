"""State declared in a manifest (app/tasks/state.py): the loader refuses pairs the graph cannot carry, naming
the tensor; a stream starts from zeros, or from values stored beside the model, sha256-verified."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.repository.loader import load_model
from app.repository.manifest import ManifestError
from app.settings import Settings
from tests.conftest import MODELS


def version_with(tmp_path: Path, change: Any) -> Path:
    """A copy of sine_stream/1 whose manifest `change` edits."""
    folder = tmp_path / "sine_stream" / "1"
    shutil.copytree(MODELS / "sine_stream" / "1", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest, folder)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def load(folder: Path) -> Any:
    return load_model(folder, Settings(model_dir=folder.parent.parent, device="cpu", warmup=False))


def pair(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in manifest["state"] if p["input"] == name)


def test_a_stream_starts_from_zeros_or_from_the_stored_initial_values(tmp_path: Path) -> None:
    assert load(MODELS / "sine_stream" / "1").initial_state().arrays["count"].tolist() == [0.0]

    def stored(manifest: dict[str, Any], folder: Path) -> None:
        np.save(folder / "count0.npy", np.array([5.0]))
        digest = hashlib.sha256((folder / "count0.npy").read_bytes()).hexdigest()
        pair(manifest, "count")["initial"] = {"file": "count0.npy", "sha256": digest}

    model = load(version_with(tmp_path, stored))
    assert model.initial_state().arrays["count"].tolist() == [5.0]
    assert model.open_state(None).arrays["count"].tolist() == [5.0]  # a token of null: a new stream


@pytest.mark.parametrize(("change", "words"), [
    (lambda m, f: pair(m, "count").update(output="h_out"), "datatypes differ: input 'count' is FP64, output 'h_out'"),
    (lambda m, f: pair(m, "h").update(output="count_out"), "datatypes differ"),
    (lambda m, f: pair(m, "h").update(input="hidden"), "the graph has no input 'hidden'"),
    (lambda m, f: pair(m, "c").update(output="c_next"), "the graph has no output 'c_next'"),
    (lambda m, f: pair(m, "h").update(batch_axis=3), "batch axis 3 of a 3-dimensional state"),
    (lambda m, f: pair(m, "h").update(batch_axis=0), "every axis but the batch axis must have a fixed size"),
    (lambda m, f: pair(m, "c").update(output="h_out"), "a state output is named in two pairs: ['h_out']"),
    (lambda m, f: m.update(state=m["state"][:4]), "task sine_stream carries the state"),
    (lambda m, f: pair(m, "count").update(initial={"file": "count0.npy", "sha256": "0" * 64}), "count0.npy"),
])
def test_the_loader_refuses_state_the_graph_cannot_carry(tmp_path: Path, change: Any, words: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(words)):
        load(version_with(tmp_path, change))


def test_stored_initial_values_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    def wrong(manifest: dict[str, Any], folder: Path) -> None:
        np.save(folder / "h0.npy", np.zeros((2, 128), np.float32))  # [layers, hidden]: no batch axis
        digest = hashlib.sha256((folder / "h0.npy").read_bytes()).hexdigest()
        pair(manifest, "h")["initial"] = {"file": "h0.npy", "sha256": digest}

    with pytest.raises(ManifestError, match=r"h0.npy holds float32 \[2, 128\]; one stream's state is float32 "
                                            r"\[2, 1, 128\]"):
        load(version_with(tmp_path, wrong))
