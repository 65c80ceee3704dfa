"""onnxruntime backend. Only `session.get_providers()` after creation tells which provider really runs:
onnxruntime-gpu lists CUDA as available even on machines where it cannot start."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from app.runtime.base import BackendError, Device

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


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
        providers = [CUDA, CPU] if wants_cuda else [CPU]
        self.sessions: dict[str, ort.InferenceSession] = {}
        active: set[str] = set()
        for graph, path in graphs.items():
            session = ort.InferenceSession(str(path), options, providers=providers)
            self.sessions[graph] = session
            active.add(session.get_providers()[0])
        self.provider = CUDA if active == {CUDA} else CPU
        if device != "cpu" and self.provider != CUDA:
            message = (f"{label}: CUDAExecutionProvider is not usable here (onnxruntime has "
                       f"{ort.get_available_providers()}); running on {CPU}")
            if device == "cuda":
                raise BackendError(message)
            self.warnings.append(message)
            logger.warning(message)
        self.output_names = {g: [o.name for o in s.get_outputs()] for g, s in self.sessions.items()}

    def run(self, graph: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.sessions[graph].run(self.output_names[graph], feeds))
