"""`python -m training all --profile smoke`: the whole pipeline, end to end, in seconds."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, make_client, wait_ready
from tests.training.test_data import make_mnist_dir


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    result = subprocess.run(
        [sys.executable, "-m", "training", "all", "--profile", "smoke", "--out", str(out), "--threads", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_every_model_folder_is_complete(smoke_repo: Path) -> None:
    for name, graphs in {"digit": ["model"], "sine": ["model"], "sine_stream": ["model"],
                         "dates": ["encoder", "decoder"], "words": ["encoder", "decoder"]}.items():
        folder = smoke_repo / name / "1"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["name"] == name and manifest["version"] == 1
        assert manifest["training"]["command"].startswith("python -m training all --profile smoke")
        assert sorted(manifest["artifacts"]) == sorted(graphs)
        for graph in manifest["artifacts"].values():
            for fmt in ("onnx", "torchscript"):
                path = folder / graph[fmt]["file"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == graph[fmt]["sha256"]
            assert max(graph["parity_max_abs_diff"].values()) <= 1e-4
        rows = list(csv.DictReader((folder / "metrics.csv").open()))
        assert rows and "train_loss" in rows[0]
        assert (folder / "training.png").stat().st_size > 1000
        assert manifest["metrics"]["eval_set"]
    assert (smoke_repo / "sine" / "1" / "forecasts.png").exists()
    assert (smoke_repo / "dates" / "1" / "attention.png").exists()
    sine = json.loads((smoke_repo / "sine" / "1" / "manifest.json").read_text())["metrics"]
    for baseline in ("last_value", "ar8", "sinusoid_fit"):
        assert sine[f"rmse_h16_{baseline}"] > 0
    stream = json.loads((smoke_repo / "sine_stream" / "1" / "manifest.json").read_text())
    assert stream["metrics"]["rmse_h16_window_sine_v1"] > 0  # compared with the window model trained before it
    assert stream["preprocessing"]["initial_state"]["count"] == 0


def test_dates_manifest_names_its_grammar_orders_and_measures(smoke_repo: Path) -> None:
    manifest = json.loads((smoke_repo / "dates" / "1" / "manifest.json").read_text())
    pre, metrics = manifest["preprocessing"], manifest["metrics"]
    assert pre["output_grammar"] == "iso_date_as_written" and pre["date_orders"] == ["DMY", "MDY", "YMD"]
    assert pre["default_date_order"] == "DMY" and pre["abstain_below"] == 0.67  # a wrong date costs 2 right
    assert metrics["abstain_below"] == pre["abstain_below"]
    assert metrics["confidence_temperature"] == pre["confidence_temperature"] > 0
    assert metrics["handwritten_dates"] >= 300 and metrics["handwritten_invalid_dates"] == 0
    assert metrics["handwritten_impossible"] >= 30 and metrics["handwritten_partial_dates"] >= 25
    assert metrics["test_impossible"] > 0 and metrics["test_partial"] > 0
    assert metrics["unseen_handwritten_dates"] >= 50 and metrics["unseen_handwritten_impossible"] >= 5
    assert metrics["unseen_handwritten_no_dates"] >= 5 and metrics["unseen_handwritten_partial_dates"] >= 5
    for key in ("test_exact_match", "handwritten_exact_match", "handwritten_no_date_abstained",
                "ambiguous_numeric_exact_match", "handwritten_partial_exact_match", "test_partial_exact_match",
                "unseen_handwritten_exact_match", "unseen_handwritten_no_date_abstained",
                "ece_test_uncalibrated", "ece_test_calibrated"):
        assert 0 <= metrics[key] <= 1
    words = json.loads((smoke_repo / "words" / "1" / "manifest.json").read_text())["preprocessing"]
    assert "output_grammar" not in words and "date_orders" not in words


def test_dates_measured_again_without_training(smoke_repo: Path) -> None:
    before = json.loads((smoke_repo / "dates" / "1" / "manifest.json").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "training", "translate", "--measure-only", "--version", "1", "--out", str(smoke_repo)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    after = json.loads((smoke_repo / "dates" / "1" / "manifest.json").read_text())
    assert after["metrics"] == before["metrics"]  # the same held-out texts, the same served code
    assert after["artifacts"] == before["artifacts"]
    assert after["training"]["metrics_measured_by"].startswith("python -m training translate --measure-only")


def test_smoke_models_are_servable(smoke_repo: Path) -> None:
    with make_client(model_dir=smoke_repo) as client:
        assert wait_ready(client)["status"] == "ready"
        response = client.post("/predict/translate", json={"texts": ["up"], "model": "words"})
        assert response.json()["translations"][0]["text"] == "down"
        first = client.post("/predict/sine/stream", json={"values": [0.1, 0.2]}).json()
        assert client.post("/predict/sine/stream", json={"values": [0.3], "state": first["state"]}).json()[
            "observed"] == 3


def test_digit_from_idx_files(tmp_path: Path) -> None:
    make_mnist_dir(tmp_path / "mnist")
    result = subprocess.run(
        [sys.executable, "-m", "training", "digit", "--profile", "smoke", "--out", str(tmp_path / "models"),
         "--mnist-dir", str(tmp_path / "mnist"), "--threads", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "models" / "digit" / "1" / "manifest.json").read_text())
    assert manifest["metrics"]["test_samples"] == 10
    assert "IDX" in manifest["training"]["data"]
