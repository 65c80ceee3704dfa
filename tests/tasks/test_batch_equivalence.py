"""A batch gives every payload exactly the answer it gets alone, for every model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.repository.loader import load_model
from app.settings import Settings
from app.tasks.sine import SineRequest
from app.tasks.translate import TranslateModel
from tests.conftest import MODELS


def load(name: str):  # type: ignore[no-untyped-def]
    return load_model(MODELS / name / "1", Settings(model_dir=MODELS, device="cpu"))


def test_digit() -> None:
    model = load("digit")
    rng = np.random.default_rng(0)
    payloads = [rng.random((n, 28, 28), dtype=np.float32) for n in (1, 3, 2)]
    together = model.run_batch(payloads)
    for payload, batched in zip(payloads, together, strict=True):
        np.testing.assert_allclose(batched, model.run_batch([payload])[0], atol=1e-6)


def test_sine_with_mixed_lengths_and_horizons() -> None:
    model = load("sine")
    t = np.arange(600)
    payloads = [SineRequest([np.sin(0.1 * t[:n]) for n in (16, 300)], 5),
                SineRequest([np.cos(0.05 * t[:n]) + 2 for n in (300, 41, 16)], 64),
                SineRequest([3 * np.sin(0.2 * t[:256])], 16)]
    together = model.run_batch(payloads)
    for payload, batched in zip(payloads, together, strict=True):
        alone = model.run_batch([payload])[0]
        for a, b in zip(batched, alone, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
        assert [len(f) for f in batched] == [payload.horizon] * len(payload.windows)


@pytest.mark.parametrize("name", ["dates", "words"])
def test_translators_with_padding_and_mixed_beams(name: str) -> None:
    model = load(name)
    assert isinstance(model, TranslateModel)
    texts = (["3 March 1998", "Mittwoch, 14. Juli 1989", "1/2/03", "le 1er mai 2001 "] if name == "dates"
             else ["up", "hello", "king", "black"])
    payloads = [model.check(texts[:2], 1), model.check(texts[2:], 1), model.check(texts[1:3], 3),
                model.check(texts[:1], 3)]
    together = model.run_batch(payloads)
    for payload, batched in zip(payloads, together, strict=True):
        alone = model.run_batch([payload])[0]
        assert [t.beams and [b for b, _ in t.beams] for t in batched] == [[b for b, _ in t.beams] for t in alone]
        np.testing.assert_allclose([t.score for t in batched], [t.score for t in alone], atol=1e-5)


def test_sine_stream_with_mixed_step_lengths_and_states() -> None:
    from app.tasks.recurrent import Step

    def step(values: np.ndarray, state: Any, horizon: int) -> Step:
        return Step({"values": values.astype(np.float32)[None]}, state, {"horizon": horizon})

    model = load("sine_stream")
    rng = np.random.default_rng(0)
    started = model.run_batch([step(rng.normal(size=30), model.initial_state(), 16)])[0]
    steps = ((1, started.state, 4), (7, model.initial_state(), 64), (1, model.initial_state(), 16),
             (7, started.state, 1))
    payloads = [step(rng.normal(size=n), state, h) for n, state, h in steps]
    together = model.run_batch(payloads)
    for payload, batched in zip(payloads, together, strict=True):
        alone = model.run_batch([payload])[0]
        np.testing.assert_allclose(batched.outputs["forecast"], alone.outputs["forecast"], atol=1e-5)
        np.testing.assert_allclose(batched.state.arrays["h"], alone.state.arrays["h"], atol=1e-6)
        seen = payload.state.arrays["count"][0] + payload.feeds["values"].shape[1]
        assert batched.state.arrays["count"][0] == alone.state.arrays["count"][0] == seen
