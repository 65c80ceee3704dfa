"""The manifest schema. A manifest names files only inside its own version folder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")


class ManifestError(ValueError):
    """A manifest or one of its artifacts is unusable; the message names the file."""


class ArtifactFile(BaseModel):
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("file")
    @classmethod
    def plain_file_name(cls, value: str) -> str:
        # A bare file name: no separators, no '..', so a manifest cannot reach outside its folder.
        if not SAFE_FILE.match(value) or value in (".", ".."):
            raise ValueError(f"artifact file must be a plain file name inside the version folder, got {value!r}")
        return value


class TensorSpec(BaseModel):
    name: str
    datatype: str
    shape: list[int]  # -1 for a dimension of any size
    optional: bool = False  # an input a request may leave out

    def describe(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class Graph(BaseModel):
    onnx: ArtifactFile
    torchscript: ArtifactFile | None = None
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


class StatePair(BaseModel):
    """A recurrent state the server carries between a stream's steps: graph input `input` takes what the
    previous step's output `output` gave. Axis `batch_axis` of both is the batch (0 by convention;
    PyTorch's LSTM and GRU states are [layers, batch, hidden]: 1). A new stream starts from `initial`, a
    .npy file of one stream's state (the batch axis of size 1) beside the model, or from zeros."""

    model_config = ConfigDict(extra="forbid")

    input: str
    output: str
    batch_axis: int = Field(0, ge=0)
    initial: ArtifactFile | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    version: int = Field(ge=1)
    task: str  # a registered task (app/tasks/): checked when the model is loaded
    description: str = ""
    artifacts: dict[str, Graph]
    inputs: list[TensorSpec] = []  # the public tensors (V2); a "tensor" task serves exactly these
    outputs: list[TensorSpec] = []
    state: list[StatePair] = []  # what a stream carries between steps (app/tasks/state.py)
    preprocessing: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    training: dict[str, Any] = {}
    _folder: Path | None = PrivateAttr(None)  # where it was read from: its files live there

    @property
    def folder(self) -> Path:
        if self._folder is None:
            raise ManifestError(f"{self.name}/{self.version}: a manifest not read from a version folder has no files")
        return self._folder


def read_manifest(folder: Path) -> Manifest:
    path = folder / "manifest.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        manifest = Manifest.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"{path}: invalid manifest: {problems}") from exc
    if manifest.name != folder.parent.name or str(manifest.version) != folder.name:
        raise ManifestError(
            f"{path}: says {manifest.name}/{manifest.version} but lives in {folder.parent.name}/{folder.name}"
        )
    manifest._folder = folder
    return manifest


def verified_path(folder: Path, artifact: ArtifactFile) -> Path:
    """The artifact's path, after checking it exists, stays inside `folder` and matches its sha256."""
    path = (folder / artifact.file).resolve()
    if path.parent != folder.resolve():
        raise ManifestError(f"{folder / artifact.file}: outside the version folder")
    if not path.is_file():
        raise ManifestError(f"{folder / artifact.file}: artifact file is missing")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != artifact.sha256:
        raise ManifestError(
            f"{folder / artifact.file}: sha256 {digest.hexdigest()} does not match the manifest's {artifact.sha256}"
        )
    return path
