"""Classical forecasters for the sine task, scored on the same series as the network."""

from __future__ import annotations

import numpy as np

FIT_FREQUENCIES = np.arange(0.005, 0.35, 0.0002)


def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(history[:, -1:], horizon, axis=1)


def autoregressive(history: np.ndarray, horizon: int, order: int = 8) -> np.ndarray:
    """Least-squares AR(order) with intercept per series, forecast recursively."""
    forecasts = np.empty((len(history), horizon))
    for row, series in enumerate(history):
        lags = np.lib.stride_tricks.sliding_window_view(series[:-1], order)
        design = np.hstack([lags, np.ones((len(lags), 1))])
        coef, *_ = np.linalg.lstsq(design, series[order:], rcond=None)
        window = list(series[-order:])
        for step in range(horizon):
            value = float(np.dot(coef[:-1], window[-order:]) + coef[-1])
            forecasts[row, step] = value
            window.append(value)
    return forecasts


def sinusoid_fit(history: np.ndarray, horizon: int) -> np.ndarray:
    """Least-squares a*sin(wt) + b*cos(wt) + c, with w the best on a fine frequency grid."""
    length = history.shape[1]
    t = np.arange(length + horizon)
    best_error = np.full(len(history), np.inf)
    forecasts = np.zeros((len(history), horizon))
    for w in FIT_FREQUENCIES:
        basis = np.stack([np.sin(w * t), np.cos(w * t), np.ones_like(t, dtype=float)], axis=1)
        fit_basis = basis[:length]
        coef = history @ np.linalg.pinv(fit_basis).T  # [B, 3]
        error = ((coef @ fit_basis.T - history) ** 2).sum(axis=1)
        better = error < best_error
        best_error[better] = error[better]
        forecasts[better] = coef[better] @ basis[length:].T
    return forecasts
