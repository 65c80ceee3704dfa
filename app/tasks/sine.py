"""Sine forecasting: histories of any length in, `horizon` future values out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.processing.series import denormalise, normalise_window, to_patches
from app.tasks.base import InputError, TaskModel


@dataclass(frozen=True)
class SineRequest:
    windows: list[np.ndarray]  # float64, each the last <= max_history values of a series
    horizon: int


class SineModel(TaskModel[SineRequest, list[np.ndarray]]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read the limits once, as the translator does, rather than on every request.
        pre = self.manifest.preprocessing
        self.min_history = int(pre["min_history"])
        self.max_history = int(pre["max_history"])
        self.max_horizon = int(pre["max_horizon"])
        self.patch = int(pre["patch"])

    def check(self, series: Any, horizon: Any, max_items: int, max_length: int) -> SineRequest:
        if isinstance(horizon, bool) or not isinstance(horizon, int):
            raise InputError(f"'horizon' must be an integer, got {horizon!r}")
        if not 1 <= horizon <= self.max_horizon:
            raise InputError(f"'horizon' must be between 1 and {self.max_horizon}, got {horizon}")
        if not isinstance(series, list):
            raise InputError("'series' must be a list of series (lists of numbers)")
        if not series:
            raise InputError("'series' is empty; send at least one series")
        if len(series) > max_items:
            raise InputError(f"'series' has {len(series)} series; at most {max_items} per request")
        windows = []
        for index, values in enumerate(series):
            if not isinstance(values, list):
                raise InputError(f"series[{index}] must be a list of numbers")
            if not self.min_history <= len(values) <= max_length:
                raise InputError(
                    f"series[{index}] has {len(values)} values; between {self.min_history} and {max_length} needed"
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

    def predict_batch(self, payloads: list[SineRequest]) -> list[list[np.ndarray]]:
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
