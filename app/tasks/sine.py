"""Sine forecasting: histories of any length in, `horizon` future values out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from app.errors import InputError
from app.processing.series import denormalise, normalise_window, to_patches
from app.repository.manifest import Manifest, TensorSpec
from app.runtime.base import Backend
from app.settings import Settings
from app.tasks.base import Signature, TaskModel, require, tensor_scalar
from app.tensors import Tensor

DEFAULT_HORIZON = 16
SINE_EXAMPLE: Any = [round(2.0 * math.sin(0.15 * t) + 1.0, 3) for t in range(64)]

SIGNATURE = Signature(
    inputs=[TensorSpec(name="series", datatype="FP32", shape=[-1, -1]),
            TensorSpec(name="horizon", datatype="INT64", shape=[1], optional=True)],
    outputs=[TensorSpec(name="forecast", datatype="FP32", shape=[-1, -1])],
)


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

    def __init__(self, manifest: Manifest, backend: Backend, settings: Settings) -> None:
        super().__init__(manifest, backend, settings)
        pre = manifest.preprocessing
        self.min_history = int(pre["min_history"])
        self.max_history = int(pre["max_history"])
        self.max_horizon = int(pre["max_horizon"])
        self.patch = int(pre["patch"])
        self.max_length = settings.max_series_length

    @classmethod
    def request_model(cls, model: TaskModel[Any, Any] | None) -> type[BaseModel]:
        limits = model if isinstance(model, SineModel) else None

        class SineRequest(BaseModel):
            model_config = ConfigDict(
                extra="forbid", json_schema_extra={"examples": [{"series": [SINE_EXAMPLE], "horizon": DEFAULT_HORIZON}]}
            )

            series: list[list[float]] = Field(
                description="Histories, oldest value first"
                + (f"; each at least {limits.min_history} values (the model reads the last {limits.max_history})"
                   if limits else "") + ".",
                min_length=1,
            )
            horizon: int = Field(DEFAULT_HORIZON, ge=1, le=limits.max_horizon if limits else None,
                                 description="How many future values to forecast.")

        return SineRequest

    def parse_json(self, body: dict[str, Any]) -> SineRequest:
        self.reject_unknown(body)
        return self.check(require(body, "series"), body.get("horizon", DEFAULT_HORIZON))

    def answer_json(self, result: list[np.ndarray]) -> dict[str, Any]:
        return {"forecasts": result}

    def signature(self) -> Signature:
        return SIGNATURE

    def parse_tensors(self, inputs: dict[str, Tensor]) -> SineRequest:
        self.only_known(inputs)
        series = inputs.get("series")
        if series is None or not isinstance(series.data, np.ndarray) or series.data.ndim != 2:
            raise InputError("input 'series' must be an FP32 tensor of shape [n, length]")
        return self.check(series.data.astype(np.float64).tolist(), tensor_scalar(inputs, "horizon", DEFAULT_HORIZON))

    def answer_tensors(self, result: list[np.ndarray]) -> list[Tensor]:
        forecast = np.stack(result).astype(np.float32)
        return [Tensor("forecast", "FP32", list(forecast.shape), forecast)]

    def check(self, series: Any, horizon: Any) -> SineRequest:
        if isinstance(horizon, bool) or not isinstance(horizon, int):
            raise InputError(f"'horizon' must be an integer, got {horizon!r}")
        if not 1 <= horizon <= self.max_horizon:
            raise InputError(f"'horizon' must be between 1 and {self.max_horizon}, got {horizon}")
        if not isinstance(series, list):
            raise InputError("'series' must be a list of series (lists of numbers)")
        if not series:
            raise InputError("'series' is empty; send at least one series")
        if len(series) > self.max_items:
            raise InputError(f"'series' has {len(series)} series; at most {self.max_items} per request")
        windows = []
        for index, values in enumerate(series):
            if not isinstance(values, list):
                raise InputError(f"series[{index}] must be a list of numbers")
            if not self.min_history <= len(values) <= self.max_length:
                raise InputError(
                    f"series[{index}] has {len(values)} values; between {self.min_history} and {self.max_length} "
                    "needed"
                )
            try:
                array = np.asarray(values, dtype=np.float64)
            except (ValueError, TypeError, OverflowError):
                raise InputError(f"series[{index}] must contain only numbers") from None
            if array.ndim != 1:
                raise InputError(f"series[{index}] must be a flat list of numbers")
            if not np.isfinite(array).all():
                raise InputError(f"series[{index}] contains NaN or infinity")
            if np.abs(array).max() > 1e12:
                raise InputError(f"series[{index}] has values beyond ±1e12")
            windows.append(array[-self.max_history :])
        return SineRequest(windows, horizon)

    def size(self, payload: SineRequest) -> int:
        return len(payload.windows)

    def run_batch(self, payloads: list[SineRequest]) -> list[list[np.ndarray]]:
        # An LSTM's answer depends on every step it reads, so windows are grouped by length, never padded.
        results: list[list[np.ndarray]] = [[np.empty(0)] * len(p.windows) for p in payloads]
        by_length: dict[int, list[tuple[int, int]]] = {}
        for p, payload in enumerate(payloads):
            for i, window in enumerate(payload.windows):
                by_length.setdefault(len(window), []).append((p, i))
        for members in by_length.values():
            windows = np.stack([payloads[p].windows[i] for p, i in members])
            normalised, mean, scale = normalise_window(windows)
            patches = to_patches(normalised, self.patch)
            forecast = denormalise(self.backend.run("model", {"patches": patches})[0], mean, scale)
            for row, (p, i) in enumerate(members):
                results[p][i] = forecast[row, : payloads[p].horizon]
        return results

    def warmup_payloads(self, batch_sizes: list[int]) -> list[SineRequest]:
        t = np.arange(self.max_history, dtype=np.float64)
        return [SineRequest([np.sin(0.1 * t + k) for k in range(n)], self.max_horizon) for n in batch_sizes]
