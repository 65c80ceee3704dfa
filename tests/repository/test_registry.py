"""Faults in the repository: each named, the healthy models still serve."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from app.repository.manifest import ManifestError, read_manifest, verified_path
from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import MODELS, make_client


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in ("digit", "sine"):
        shutil.copytree(MODELS / name / "1", tmp_path / name / "1")
    return tmp_path


def wait_loaded(client):  # type: ignore[no-untyped-def]
    for _ in range(200):
        body = client.get("/health/ready").json()
        if body["status"] != "loading":
            return body
        time.sleep(0.05)
    raise AssertionError("still loading")


def test_sha256_mismatch_refuses_that_model_only(repo: Path) -> None:
    onnx = repo / "sine" / "1" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"tampered")
    with make_client(model_dir=repo) as client:
        body = wait_loaded(client)
        assert client.get("/health/ready").status_code == 503
        assert "sha256" in body["models"]["sine/1"] and "model.onnx" in body["models"]["sine/1"]
        assert body["models"]["digit/1"] == "ready"
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
        response = client.post("/predict/sine", json={"series": [[1.0, 2.0] * 10]})
        assert response.status_code == 404
        assert "sha256" in response.json()["detail"] or "not loaded" in response.json()["detail"]
        models = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert models["sine"]["state"] == "failed" and "sha256" in models["sine"]["reason"]


def test_missing_artifact_is_named(repo: Path) -> None:
    (repo / "digit" / "1" / "model.onnx").unlink()
    with pytest.raises(ManifestError, match=r"model\.onnx: artifact file is missing"):
        manifest = read_manifest(repo / "digit" / "1")
        verified_path(repo / "digit" / "1", manifest.artifacts["model"].onnx)


def test_malformed_manifest_is_named(repo: Path) -> None:
    (repo / "digit" / "1" / "manifest.json").write_text("{not json")
    with make_client(model_dir=repo) as client:
        body = wait_loaded(client)
        assert "manifest.json" in body["models"]["digit/1"]
        assert body["models"]["sine/1"] == "ready"


def test_manifest_cannot_point_outside_its_folder(repo: Path) -> None:
    path = repo / "digit" / "1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["artifacts"]["model"]["onnx"]["file"] = "../../sine/1/model.onnx"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="plain file name"):
        read_manifest(repo / "digit" / "1")


def test_manifest_in_the_wrong_folder_is_refused(repo: Path) -> None:
    shutil.copytree(repo / "digit" / "1", repo / "digit" / "2")
    with pytest.raises(ManifestError, match="lives in digit/2"):
        read_manifest(repo / "digit" / "2")


def test_empty_repository_is_not_ready(tmp_path: Path) -> None:
    with make_client(model_dir=tmp_path) as client:
        body = wait_loaded(client)
        assert client.get("/health/ready").status_code == 503
        assert "holds no models" in body["problems"][0]


def test_versions_are_selectable(repo: Path) -> None:
    second = repo / "digit" / "2"
    shutil.copytree(repo / "digit" / "1", second)
    manifest = json.loads((second / "manifest.json").read_text())
    manifest["version"] = 2
    (second / "manifest.json").write_text(json.dumps(manifest))
    with make_client(model_dir=repo) as client:
        assert wait_loaded(client)["status"] == "ready"
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).json()["version"] == 2
        assert client.post("/predict/digit?version=1", json={"images": [DIGIT_EXAMPLE]}).json()["version"] == 1
