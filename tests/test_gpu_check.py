from __future__ import annotations

import subprocess
import sys

import onnxruntime as ort
import pytest

from tests.conftest import ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/gpu_check.py", "--seconds", "0.05", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_comparison_logic_cpu_against_cpu() -> None:
    result = run("--device", "cpu")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digit/1: provider CPUExecutionProvider" in result.stdout
    assert "identical translations" in result.stdout and "identical digit" in result.stdout
    assert result.stdout.strip().endswith("OK")


def test_without_a_gpu_it_says_cuda_is_not_usable() -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build may have CUDA")
    result = run()
    assert result.returncode == 2
    assert "CUDA not usable" in result.stdout
