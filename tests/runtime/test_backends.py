"""onnxruntime and TorchScript run the same committed graphs to the same answers."""

from __future__ import annotations

import numpy as np
import pytest

from app.repository.loader import load_model
from app.runtime.base import BackendError
from app.runtime.onnx import OnnxBackend
from app.settings import Settings
from app.tasks.sine import SineRequest
from app.tasks.translate import TranslateModel
from tests.conftest import MODELS


def models_for(backend: str, name: str):  # type: ignore[no-untyped-def]
    settings = Settings(model_dir=MODELS, device="cpu", backend=backend)  # type: ignore[arg-type]
    return load_model(MODELS / name / "1", settings)


def test_digit_backends_agree() -> None:
    images = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)
    onnx = models_for("onnx", "digit").run_batch([images])[0]
    torchscript = models_for("torchscript", "digit").run_batch([images])[0]
    np.testing.assert_allclose(onnx, torchscript, atol=1e-5)


def test_sine_backends_agree() -> None:
    payload = SineRequest([np.sin(0.1 * np.arange(n)) for n in (16, 100, 256)], 64)
    onnx = models_for("onnx", "sine").run_batch([payload])[0]
    torchscript = models_for("torchscript", "sine").run_batch([payload])[0]
    for a, b in zip(onnx, torchscript, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_translate_backends_agree(beam_size: int) -> None:
    onnx, torchscript = models_for("onnx", "dates"), models_for("torchscript", "dates")
    assert isinstance(onnx, TranslateModel)
    payload = onnx.check(["3 March 1998", "Mon, 1 janvier 2001", "12/11/10"], beam_size)
    a, b = onnx.run_batch([payload])[0], torchscript.run_batch([payload])[0]
    assert [t.text for t in a] == [t.text for t in b]
    np.testing.assert_allclose([t.score for t in a], [t.score for t in b], atol=1e-4)


def test_cuda_required_but_absent_is_an_error() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime here may really have CUDA")
    with pytest.raises(BackendError) as refused:
        OnnxBackend("digit/1", {"model": MODELS / "digit" / "1" / "model.onnx"}, "cuda", 1)
    # says that it refused, and never that it runs on the CPU
    assert str(refused.value).startswith("digit/1: refused to load: SEQSERVE_DEVICE=cuda")
    assert "has no CUDAExecutionProvider" in str(refused.value) and "running on" not in str(refused.value)


def test_auto_falls_back_to_cpu_with_a_warning() -> None:
    backend = OnnxBackend("digit/1", {"model": MODELS / "digit" / "1" / "model.onnx"}, "auto", 1)
    assert backend.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")
    if backend.provider == "CPUExecutionProvider":
        assert "running on CPUExecutionProvider" in backend.warnings[0]
