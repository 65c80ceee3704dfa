from __future__ import annotations

import numpy as np
import pytest

from training.export import max_difference


def test_parity_is_measured_relative_to_large_values() -> None:
    expected = np.array([-30.0, -0.5, 0.001], dtype=np.float32)
    assert max_difference(expected, np.array([-30.003, -0.5, 0.001])) == pytest.approx(1e-4, rel=1e-3)
    assert max_difference(expected, np.array([-30.0, -0.5002, 0.001])) == pytest.approx(2e-4, rel=1e-3)
    assert max_difference(np.zeros(0), np.zeros(0)) == 0.0
