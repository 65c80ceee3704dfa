from __future__ import annotations

import numpy as np
import pytest
import torch

from training.export import _max_diff


def test_parity_is_measured_relative_to_large_values() -> None:
    expected = torch.tensor([-30.0, -0.5, 0.001])
    assert _max_diff(expected, np.array([-30.003, -0.5, 0.001])) == pytest.approx(1e-4, rel=1e-3)
    assert _max_diff(expected, np.array([-30.0, -0.5002, 0.001])) == pytest.approx(2e-4, rel=1e-3)
    assert _max_diff(torch.zeros(0), np.zeros(0)) == 0.0
