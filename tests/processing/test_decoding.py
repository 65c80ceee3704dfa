"""Greedy and beam search around a tiny hand-built one-step decoder."""

from __future__ import annotations

import math

import numpy as np

from app.processing.decoding import beam_decode, greedy_decode
from app.processing.text import EOS, SOS

A, B = 3, 4
VOCAB = 5


def table(first: dict[int, float]) -> dict[int, dict[int, float]]:
    """Next-token probabilities given the last token. After A the choice is nearly even (EOS just ahead),
    after B the sequence ends almost surely: greedy takes A first, a beam finds B EOS more probable."""
    return {SOS: first, A: {EOS: 0.34, A: 0.33, B: 0.33}, B: {EOS: 0.98, A: 0.01, B: 0.01}}


ITEMS = [table({A: 0.6, B: 0.4}), table({A: 0.1, B: 0.9})]  # item 1 prefers B from the start


def make_step(calls: list[list[int]]):  # type: ignore[no-untyped-def]
    def step(tokens: np.ndarray, hidden: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(rows.tolist())
        log_probs = np.full((len(tokens), VOCAB), -np.inf)
        for i, (token, row) in enumerate(zip(tokens.tolist(), rows.tolist(), strict=True)):
            for nxt, p in ITEMS[row][token].items():
                log_probs[i, nxt] = math.log(p)
        return log_probs, hidden + 1

    return step


def test_greedy_takes_the_best_token_each_step_and_drops_finished_rows() -> None:
    calls: list[list[int]] = []
    hypotheses = greedy_decode(make_step(calls), np.zeros((2, 1)), max_len=5)
    assert [h.ids for h in hypotheses] == [(A, EOS), (B, EOS)]
    assert math.isclose(hypotheses[0].score, math.log(0.6) + math.log(0.34))
    assert math.isclose(hypotheses[1].score, math.log(0.9) + math.log(0.98))
    assert calls == [[0, 1], [0, 1]]  # both finish at step 2; nothing runs after


def test_greedy_stops_at_max_len_without_eos() -> None:
    def never_ends(tokens: np.ndarray, hidden: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_probs = np.full((len(tokens), VOCAB), -10.0)
        log_probs[:, A] = -0.1
        return log_probs, hidden

    (hypothesis,) = greedy_decode(never_ends, np.zeros((1, 1)), max_len=4)
    assert hypothesis.ids == (A, A, A, A)
    assert math.isclose(hypothesis.score, -0.4)


def test_beam_finds_the_more_probable_sequence_greedy_misses() -> None:
    calls: list[list[int]] = []
    results = beam_decode(make_step(calls), np.zeros((2, 1)), max_len=5, beam_size=2)
    first, second = results
    assert first[0].ids == (B, EOS)  # 0.4 * 0.98 = 0.392 beats greedy's A EOS = 0.6 * 0.34 = 0.204
    assert math.isclose(first[0].score, math.log(0.4) + math.log(0.98))
    assert first[1].ids == (A, EOS)
    assert [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    assert second[0].ids == (B, EOS)
    assert all(set(rows) <= {0, 1} for rows in calls)  # every row fed to the decoder is one of the two items


def test_beam_of_one_equals_greedy() -> None:
    greedy = greedy_decode(make_step([]), np.zeros((2, 1)), max_len=5)
    beam = beam_decode(make_step([]), np.zeros((2, 1)), max_len=5, beam_size=1)
    assert [h.ids for h in greedy] == [b[0].ids for b in beam]
    np.testing.assert_allclose([h.score for h in greedy], [b[0].score for b in beam])
