"""onnxruntime backend. Only `session.get_providers()` after creation tells which provider really runs:
onnxruntime-gpu lists CUDA as available even on machines where it cannot start."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.runtime.base import BackendError, Device

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@functools.cache
def load_cuda_libraries() -> str:
    """Load NVIDIA's CUDA and cuDNN runtime wheels (`onnxruntime-gpu[cuda,cudnn]`) from site-packages before
    the first CUDA session, so that no LD_LIBRARY_PATH is needed. Once per process; returns what onnxruntime
    said about libraries it could not load ("" when all loaded, or when this onnxruntime has no CUDA)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None or CUDA not in ort.get_available_providers():
        return ""
    said = io.StringIO()
    with contextlib.redirect_stdout(said):  # preload_dlls prints its failures instead of raising
        try:
            preload(cuda=True, cudnn=True, msvc=False)
        except (OSError, RuntimeError) as exc:
            print(exc)
    problems = " ".join(said.getvalue().split())
    if problems:
        logger.warning("onnxruntime.preload_dlls: %s", problems)
    return problems


def cuda_refusal(label: str) -> str:
    """Why a session asked for CUDA did not get it, phrased as the refusal it causes under device=cuda."""
    from onnxruntime.capi import build_and_package_info  # written into the wheel by onnxruntime's build

    built = getattr(build_and_package_info, "cuda_version", None)
    if CUDA not in ort.get_available_providers():
        why = f"this onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)"
    else:
        why = f"onnxruntime {ort.__version__} (built for CUDA {built}) could not start CUDAExecutionProvider: "
        try:
            ctypes.CDLL("libcuda.so.1")
            why += "no usable GPU or CUDA library here (onnxruntime's log says which)"
        except OSError:  # the driver's library, which the NVIDIA Container Toolkit mounts into a container
            why += ("the NVIDIA driver's libcuda.so.1 is not here (no driver; in a container: no --gpus, or no "
                    "NVIDIA Container Toolkit)")
        if problems := load_cuda_libraries():
            why += f"; libraries that did not load: {problems}"
    return (f"{label}: refused to load: SEQSERVE_DEVICE=cuda, but {why}. It was not started on the CPU "
            f"instead; set SEQSERVE_DEVICE=auto to allow that")


class OnnxBackend:
    name = "onnx"

    def __init__(self, label: str, graphs: dict[str, Path], device: Device, threads: int) -> None:
        self.warnings: list[str] = []
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Asking the CPU-only wheel for CUDA only earns a UserWarning; the check below still reports the fallback.
        wants_cuda = device != "cpu" and CUDA in ort.get_available_providers()
        if wants_cuda:
            load_cuda_libraries()
        providers = [CUDA, CPU] if wants_cuda else [CPU]
        self.sessions: dict[str, ort.InferenceSession] = {}
        active: set[str] = set()
        for graph, path in graphs.items():
            session = ort.InferenceSession(str(path), options, providers=providers)
            self.sessions[graph] = session
            active.add(session.get_providers()[0])
        self.provider = CUDA if active == {CUDA} else CPU
        if device == "cuda" and self.provider != CUDA:
            raise BackendError(cuda_refusal(label))
        if device == "auto" and self.provider != CUDA:
            message = (f"{label}: CUDAExecutionProvider is not usable here (onnxruntime has "
                       f"{ort.get_available_providers()}); running on {CPU}")
            self.warnings.append(message)
            logger.warning(message)
        self.output_names = {g: [o.name for o in s.get_outputs()] for g, s in self.sessions.items()}

    def run(self, graph: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.sessions[graph].run(self.output_names[graph], feeds))
