"""Sine forecasting: histories of any length in, `horizon` future values out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from app.errors import InputError
from app.processing.series import denormalise, normalise_window, to_patches
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import TaskModel
from app.tasks.contract import Input, run_grouped, scatter
from app.tensors import Tensor

DEFAULT_HORIZON = 16
SINE_EXAMPLE: Any = [round(2.0 * math.sin(0.15 * t) + 1.0, 3) for t in range(64)]


class SineResponse(BaseModel):
    model: str
    version: int
    forecasts: list[list[float]]


@dataclass(frozen=True)
class SineRequest:
    windows: list[np.ndarray]  # float64, each the last <= max_history values of a series
    horizon: int


class SineModel(TaskModel[SineRequest, list[np.ndarray]]):
    """Payload: windows and a horizon; result: one forecast per window."""

    task = "sine"
    route = "/predict/sine"
    summary = "Forecast noisy sinusoids"
    default_model = "sine"
    response_model = SineResponse
    INPUTS = (
        Input("series", "FP32", (-1, -1), "Histories, oldest value first; each at least the model's min_history "
              "values (it reads the last max_history).", items="max_items", ragged=True),
        Input("horizon", "INT64", (1,), "How many future values to forecast.", scalar=True, default=DEFAULT_HORIZON,
              low=1, high="max_horizon"),
    )
    OUTPUTS = (TensorSpec(name="forecast", datatype="FP32", shape=[-1, -1]),)
    EXAMPLE: ClassVar[dict[str, Any]] = {"series": [SINE_EXAMPLE], "horizon": DEFAULT_HORIZON}

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        pre = manifest.preprocessing
        self.min_history = int(pre["min_history"])
        self.max_history = int(pre["max_history"])
        self.max_horizon = int(pre["max_horizon"])
        self.patch = int(pre["patch"])
        self.max_length = settings.max_series_length

    def payload(self, values: dict[str, Any]) -> SineRequest:
        windows = []
        for index, array in enumerate(values["series"]):  # a list of rows (JSON) or a [n, length] tensor
            if not self.min_history <= len(array) <= self.max_length:
                raise InputError(f"series[{index}] has {len(array)} values; between {self.min_history} and "
                                 f"{self.max_length} needed")
            if np.abs(array).max() > 1e12:
                raise InputError(f"series[{index}] has values beyond ±1e12")
            windows.append(np.asarray(array[-self.max_history :], dtype=np.float64))
        return SineRequest(windows, values["horizon"])

    def answer_json(self, result: list[np.ndarray]) -> dict[str, Any]:
        return {"forecasts": result}

    def answer_tensors(self, result: list[np.ndarray]) -> list[Tensor]:
        forecast = np.stack(result).astype(np.float32)
        return [Tensor("forecast", "FP32", list(forecast.shape), forecast)]

    def size(self, payload: SineRequest) -> int:
        return len(payload.windows)

    def split(self, payload: SineRequest, most: int) -> list[SineRequest]:
        windows = payload.windows
        return [SineRequest(windows[i : i + most], payload.horizon) for i in range(0, len(windows), most)]

    def join(self, results: list[list[np.ndarray]]) -> list[np.ndarray]:
        return [forecast for part in results for forecast in part]

    def run_batch(self, payloads: list[SineRequest]) -> list[list[np.ndarray]]:
        # An LSTM's answer depends on every step it reads, so windows are grouped by length, never padded.
        windows = [(window, payload.horizon) for payload in payloads for window in payload.windows]
        forecasts = run_grouped(windows, lambda item: len(item[0]), self._forecast)
        return scatter(forecasts, [len(payload.windows) for payload in payloads])

    def _forecast(self, windows: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
        normalised, mean, scale = normalise_window(np.stack([window for window, _ in windows]))
        forecast = denormalise(self.backend.run("model", {"patches": to_patches(normalised, self.patch)})[0],
                               mean, scale)
        return [forecast[row, :horizon] for row, (_, horizon) in enumerate(windows)]

    def warmup_payloads(self, batch_sizes: list[int]) -> list[SineRequest]:
        t = np.arange(self.max_history, dtype=np.float64)
        return [SineRequest([np.sin(0.1 * t + k) for k in range(n)], self.max_horizon) for n in batch_sizes]


SIGNATURE = SineModel.declared_signature()
