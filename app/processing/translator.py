"""A character translator's decoding: its encoder and decoder graphs run greedily or by beam search,
and the answer it gives or abstains from.

An answer is `text: None` with a reason when nothing of the text is left to read, when a grammar-masked
model finds no date (its best output is empty), when the date it reads does not exist (the grammar's
`problem`: "no 31 April"), when its confidence is below the model's `abstain_below`, or when the date is
coarser than the caller's `min_precision`. What of a dates model's real date the text does not state is
dropped (`app/processing/stated.py`): a month it does not name leaves the year alone, a day with no
number or words of its own leaves the month, and `beams` keep what the model wrote. Confidence is the
output's probability calibrated by the model's temperature: exp(score / temperature), measured to match
how often such answers are right (where a month or day is dropped, the probability of what the model
wrote, a lower bound on that of what is left).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.processing.decoding import Hypothesis, beam_decode, greedy_decode
from app.processing.grammar import PRECISIONS, TokenGrammar, date_precision
from app.processing.months import MonthNames
from app.processing.stated import stated
from app.processing.text import CharVocab, pad_batch
from app.runtime.base import Backend

NOTHING_TO_READ = "nothing is left of the text to read: no character of it is one the model knows"
NO_DATE = "the model finds no date in the text"


NO_SUCH_DATE = "the text names a date that does not exist"


@dataclass(frozen=True)
class Translation:
    text: str | None  # None: abstained, see `reason`
    score: float
    beams: list[tuple[str, float]]  # every hypothesis, best first (one for greedy)
    reason: str | None = None
    confidence: float = 1.0  # calibrated: exp(score / temperature)
    precision: str | None = None  # a date's: day, month or year (None: no date, or not a dates model)


def at_least(translation: Translation, min_precision: str | None) -> Translation:
    """The answer, or an abstention where its date is coarser than `min_precision` (day, month or year)."""
    precision = translation.precision
    if translation.text is None or min_precision is None or precision is None or \
            PRECISIONS.index(precision) <= PRECISIONS.index(min_precision):
        return translation
    return replace(translation, text=None, reason=f"the text gives the {precision} only; {min_precision} "
                                                   f"precision was asked for")


class Translator:
    def __init__(self, backend: Backend, target_vocab: CharVocab, max_target_len: int,
                 grammar: TokenGrammar | None, abstain_below: float, temperature: float = 1.0,
                 months: tuple[MonthNames, CharVocab] | None = None) -> None:
        self.backend = backend
        self.target_vocab = target_vocab
        self.max_target_len = max_target_len
        self.grammar = grammar
        self.abstain_below = abstain_below
        self.temperature = temperature
        self.months = months  # the month names, and the source vocabulary to read the text the answer is checked in

    def translate(self, sequences: list[list[int]], beam_size: int,
                  attention: list[np.ndarray] | None = None) -> list[Translation]:
        """Decode encoded texts; `attention`, when given, collects the decoder's attention per step."""
        readable = [k for k, seq in enumerate(sequences) if seq]
        answers = [Translation(None, 0.0, [], NOTHING_TO_READ, confidence=1.0) for _ in sequences]
        if readable:
            decoded = self._decode([sequences[k] for k in readable], beam_size, attention)
            for k, answer in zip(readable, decoded, strict=True):
                answers[k] = answer
        return answers

    def _decode(self, sequences: list[list[int]], beam_size: int,
                attention: list[np.ndarray] | None) -> list[Translation]:
        # Padding is exact here: the encoder reverses each sequence within its own length and
        # attention masks the padded steps, so a padded batch answers as its items would alone.
        ids, lengths = pad_batch(sequences)
        memory, keys, hidden = self.backend.run("encoder", {"source": ids, "lengths": lengths})

        def step(tokens: np.ndarray, state: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            log_probs, new_state, weights = self.backend.run("decoder", {
                "token": tokens, "hidden": state, "memory": memory[rows], "keys": keys[rows],
                "lengths": lengths[rows]})
            if attention is not None:
                attention.append(weights)
            return log_probs, new_state

        if beam_size == 1:
            hypotheses = [[h] for h in greedy_decode(step, hidden, self.max_target_len, self.grammar)]
        else:
            hypotheses = beam_decode(step, hidden, self.max_target_len, beam_size, self.grammar)
        return [self._translation(h, source) for h, source in zip(hypotheses, sequences, strict=True)]

    def _translation(self, hypotheses: list[Hypothesis], source: list[int]) -> Translation:
        beams = [(self.target_vocab.decode(h.ids), h.score) for h in hypotheses]
        text, score = beams[0]
        confidence = float(np.exp(score / self.temperature))
        if self.grammar is not None and text == "":
            return Translation(None, score, beams, NO_DATE, confidence)
        problem = self.grammar.problem(text) if self.grammar is not None and self.grammar.problem else None
        if problem is not None:
            return Translation(None, score, beams, f"{NO_SUCH_DATE}: {problem}", confidence)
        if self.months is not None:  # after the calendar: a day that does not exist is refused, not cut
            names, source_vocab = self.months
            text = stated(source_vocab.decode(source), text, names)
        if confidence < self.abstain_below:
            return Translation(None, score, beams, f"the model is not sure: confidence {confidence:.3f} is below "
                               f"its threshold {self.abstain_below}", confidence)
        precision = date_precision(text) if self.grammar is not None else None
        return Translation(text, score, beams, confidence=confidence, precision=precision)
