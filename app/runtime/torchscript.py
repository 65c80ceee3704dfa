"""TorchScript backend: the same graphs through torch.jit. torch is imported here only, lazily, so an
onnxruntime-only install never needs it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from app.runtime.base import BackendError, Device


class TorchScriptBackend:
    name = "torchscript"

    def __init__(
        self, label: str, graphs: dict[str, tuple[Path, list[str]]], device: Device, threads: int
    ) -> None:
        try:
            import torch
        except ImportError as exc:
            raise BackendError(f"{label}: backend=torchscript needs torch (pip install '.[torchscript]')") from exc
        self.warnings: list[str] = []
        self._torch = torch
        cuda = torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise BackendError(f"{label}: device=cuda but torch sees no usable CUDA device")
        if device == "auto" and not cuda:
            self.warnings.append(f"{label}: no CUDA device for torch; running on CPU")
        self.device = torch.device("cuda" if cuda and device != "cpu" else "cpu")
        torch.set_num_threads(threads)
        self.provider = f"torch:{self.device.type}"
        self.modules: dict[str, Any] = {}
        self.input_names: dict[str, list[str]] = {}
        with warnings.catch_warnings():
            # torch.jit is deprecated upstream; it is still the pickle-free format torch loads natively.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            for graph, (path, inputs) in graphs.items():
                module = torch.jit.load(str(path), map_location=self.device)  # type: ignore[no-untyped-call]
                module.eval()
                self.modules[graph] = module
                self.input_names[graph] = inputs

    def run(self, graph: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        args = [torch.from_numpy(np.ascontiguousarray(feeds[name])).to(self.device)
                for name in self.input_names[graph]]
        with torch.inference_mode():
            out = self.modules[graph](*args)
        outputs = out if isinstance(out, tuple) else (out,)
        return [t.cpu().numpy() for t in outputs]
