"""What every backend offers: run a named graph on numpy inputs, and say where it really runs."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

Device = Literal["auto", "cpu", "cuda"]


class BackendError(RuntimeError):
    """A backend could not be built as asked (missing library, CUDA unusable with device=cuda, ...)."""


class Backend(Protocol):
    name: str  # "onnx" or "torchscript"
    provider: str  # what really executes: "CUDAExecutionProvider", "CPUExecutionProvider", "torch:cpu", ...
    warnings: list[str]

    def run(self, graph: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run one graph; outputs in the manifest's order."""
        ...

