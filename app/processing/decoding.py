"""Greedy and beam-search decoding around a one-step decoder, for a whole batch at once.

`step(tokens, hidden, rows)` runs the decoder for the given rows of the encoded batch (`rows` index
its memory) and returns (log_probs [N, V], hidden [N, D]). Finished sequences drop out of the batch,
so a long translation does not make its batch-mates pay for every step. With a `grammar`, each step's
distribution is restricted to the tokens the grammar allows after each prefix: only grammatical texts
can come out, and a score stays the log-probability the model gives its text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.processing.grammar import TokenGrammar
from app.processing.text import EOS, SOS

StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Hypothesis:
    ids: tuple[int, ...]
    score: float  # total log-probability of the ids, <eos> included when present


def greedy_decode(step: StepFn, hidden: np.ndarray, max_len: int,
                  grammar: TokenGrammar | None = None) -> list[Hypothesis]:
    batch = hidden.shape[0]
    hidden = hidden.copy()
    tokens = np.full(batch, SOS, dtype=np.int64)
    scores = np.zeros(batch, dtype=np.float64)
    outputs: list[list[int]] = [[] for _ in range(batch)]
    active = np.arange(batch)
    states = grammar.start(batch) if grammar is not None else np.zeros(0, dtype=np.int64)
    for _ in range(max_len):
        log_probs, new_hidden = step(tokens[active], hidden[active], active)
        if grammar is not None:
            log_probs = grammar.constrain(log_probs, states[active])
        best = log_probs.argmax(axis=1)
        scores[active] += log_probs[np.arange(active.size), best]
        for row, token in zip(active.tolist(), best.tolist(), strict=True):
            outputs[row].append(token)
        hidden[active] = new_hidden
        tokens[active] = best
        if grammar is not None:
            states[active] = grammar.advance(states[active], best)
        active = active[best != EOS]
        if active.size == 0:
            break
    return [Hypothesis(tuple(ids), float(score)) for ids, score in zip(outputs, scores, strict=True)]


def beam_decode(step: StepFn, hidden: np.ndarray, max_len: int, beam_size: int,
                grammar: TokenGrammar | None = None) -> list[list[Hypothesis]]:
    """Beam search per item; returns each item's hypotheses, best first (at most `beam_size`)."""
    batch, width = hidden.shape[0], beam_size
    beams_hidden = np.repeat(hidden, width, axis=0)  # row = item * width + beam
    source_rows = np.repeat(np.arange(batch), width)
    beam_scores = np.full((batch, width), -np.inf)
    beam_scores[:, 0] = 0.0  # all beams start identical: keep one so the first step does not repeat it
    tokens = np.full(batch * width, SOS, dtype=np.int64)
    beam_states = grammar.start(batch * width) if grammar is not None else np.zeros(0, dtype=np.int64)
    histories: list[list[tuple[int, ...]]] = [[() for _ in range(width)] for _ in range(batch)]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    active = np.arange(batch)

    for _ in range(max_len):
        rows = (active[:, None] * width + np.arange(width)).ravel()
        log_probs, new_hidden = step(tokens[rows], beams_hidden[rows], source_rows[rows])
        if grammar is not None:
            log_probs = grammar.constrain(log_probs, beam_states[rows])
        vocab = log_probs.shape[1]
        candidates = (beam_scores[active][:, :, None] + log_probs.reshape(active.size, width, vocab)).reshape(
            active.size, width * vocab
        )
        order = np.argsort(-candidates, axis=1, kind="stable")[:, : 2 * width]
        still_active = []
        for a, item in enumerate(active.tolist()):
            next_beams: list[tuple[int, int, float]] = []  # (parent, token, score)
            for rank, flat in enumerate(order[a].tolist()):
                score = float(candidates[a, flat])
                if score == -np.inf:
                    break
                parent, token = divmod(flat, vocab)
                if token == EOS:
                    if rank < width:
                        finished[item].append(Hypothesis((*histories[item][parent], EOS), score))
                elif len(next_beams) < width:
                    next_beams.append((parent, token, score))
                if len(next_beams) == width:
                    break
            best_finished = max((h.score for h in finished[item]), default=-np.inf)
            best_open = max((s for _, _, s in next_beams), default=-np.inf)
            # Scores only fall as sequences grow: an open beam can no longer beat the best finished one.
            done = len(finished[item]) >= width or not next_beams or best_finished >= best_open
            parents_hidden = new_hidden[a * width : (a + 1) * width]
            if grammar is not None and next_beams:
                parent_states = beam_states[item * width : (item + 1) * width].copy()
                beam_states[item * width : item * width + len(next_beams)] = grammar.advance(
                    parent_states[[p for p, _, _ in next_beams]], np.array([t for _, t, _ in next_beams]))
            histories[item] = [(*histories[item][p], t) for p, t, _ in next_beams] + [
                () for _ in range(width - len(next_beams))
            ]
            for j in range(width):
                row = item * width + j
                if j < len(next_beams):
                    parent, token, score = next_beams[j]
                    beams_hidden[row] = parents_hidden[parent]
                    tokens[row] = token
                    beam_scores[item, j] = score
                else:
                    beam_scores[item, j] = -np.inf
            if not done:
                still_active.append(item)
        active = np.array(still_active, dtype=np.int64)
        if active.size == 0:
            break

    results = []
    for item in range(batch):
        hypotheses = list(finished[item])
        if len(hypotheses) < width:  # ran out of steps: unfinished beams are answers too
            hypotheses += [
                Hypothesis(histories[item][j], float(beam_scores[item, j]))
                for j in range(width)
                if beam_scores[item, j] > -np.inf and item in active
            ]
        hypotheses.sort(key=lambda h: -h.score)
        results.append(hypotheses[:width])
    return results
