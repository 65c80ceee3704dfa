"""Window normalisation for the sine forecaster: amplitude and offset must not matter to the network."""

from __future__ import annotations

import numpy as np

# A flat window has no scale to speak of; dividing by ~0 would blow up the noise.
MIN_SCALE = 1e-3


def normalise_window(window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise each row of `window` [B, T]; returns (normalised float32, mean [B, 1], scale [B, 1])."""
    window = np.asarray(window, dtype=np.float64)
    mean = window.mean(axis=1, keepdims=True)
    scale = np.maximum(window.std(axis=1, keepdims=True), MIN_SCALE)
    return ((window - mean) / scale).astype(np.float32), mean, scale


def denormalise(forecast: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    restored: np.ndarray = np.asarray(forecast, dtype=np.float64) * scale + mean
    return restored


def to_patches(normalised: np.ndarray, patch: int) -> np.ndarray:
    """[B, T] -> [B, T // patch, patch]: the network reads `patch` values a step. The oldest T % patch
    values are dropped, so the newest value always ends the last patch."""
    batch, length = normalised.shape
    return np.ascontiguousarray(normalised[:, length % patch :]).reshape(batch, length // patch, patch)
