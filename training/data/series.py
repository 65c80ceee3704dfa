"""Noisy sinusoids of unknown frequency, amplitude, phase, offset and noise."""

from __future__ import annotations

import numpy as np

FREQUENCY = (0.02, 0.3)  # radians per step
AMPLITUDE = (0.2, 5.0)
OFFSET = (-5.0, 5.0)
NOISE_SD = (0.0, 0.1)  # relative to the amplitude


def sine_batch(rng: np.random.Generator, batch: int, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (observed [B, length], clean [B, length], amplitude [B, 1]) float64."""
    freq = rng.uniform(*FREQUENCY, size=(batch, 1))
    amp = np.exp(rng.uniform(np.log(AMPLITUDE[0]), np.log(AMPLITUDE[1]), size=(batch, 1)))
    phase = rng.uniform(0, 2 * np.pi, size=(batch, 1))
    offset = rng.uniform(*OFFSET, size=(batch, 1))
    noise = rng.uniform(*NOISE_SD, size=(batch, 1)) * amp
    t = np.arange(length)[None, :]
    clean = amp * np.sin(freq * t + phase) + offset
    return clean + noise * rng.standard_normal((batch, length)), clean, amp
