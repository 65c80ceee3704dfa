"""Output grammars: which characters may come next, so decoding can only produce valid answers.

A grammar is named in a model's manifest (`output_grammar`); the decoder masks every character the
grammar forbids at each step, before choosing, so an invalid answer cannot be produced at all.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from app.processing.text import EOS, CharVocab

END = ""  # the grammar's name for end of text (<eos>)
DIGITS = "0123456789"

NextFn = Callable[[str], frozenset[str]]


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def iso_date_next(prefix: str) -> frozenset[str]:
    """Characters that may follow `prefix` in a calendar-valid ISO 8601 date YYYY-MM-DD (year 0001-9999,
    leap years included); END where the text may stop. The empty text is allowed: it means "no date"."""
    n = len(prefix)
    if n == 0:
        return frozenset(DIGITS) | {END}
    if n < 3:
        return frozenset(DIGITS)
    if n == 3:
        return frozenset(DIGITS[1:]) if prefix == "000" else frozenset(DIGITS)
    if n in (4, 7):
        return frozenset("-")
    if n == 5:
        return frozenset("01")
    if n == 6:
        return frozenset(DIGITS[1:]) if prefix[5] == "0" else frozenset("012")
    last_day = _days_in_month(int(prefix[:4]), int(prefix[5:7]))
    if n == 8:
        return frozenset(DIGITS[: last_day // 10 + 1])
    if n == 9:
        tens = int(prefix[8])
        if tens == 0:
            return frozenset(DIGITS[1:])
        return frozenset(DIGITS[: min(9, last_day - 10 * tens) + 1])
    return frozenset({END}) if n == 10 else frozenset()


GRAMMARS: dict[str, NextFn] = {"iso_date": iso_date_next}


class TokenGrammar:
    """A character grammar over a target vocabulary: `mask(prefixes)` gives the allowed token ids."""

    def __init__(self, next_chars: NextFn, vocab: CharVocab) -> None:
        self.next_chars = next_chars
        self.vocab = vocab
        self._allowed = lru_cache(maxsize=1 << 16)(self._allowed_uncached)

    @classmethod
    def named(cls, name: str, vocab: CharVocab) -> TokenGrammar:
        if name not in GRAMMARS:
            raise ValueError(f"unknown output grammar {name!r}; known: {', '.join(sorted(GRAMMARS))}")
        return cls(GRAMMARS[name], vocab)

    def _allowed_uncached(self, prefix: tuple[int, ...]) -> np.ndarray:
        allowed = np.zeros(self.vocab.size, dtype=bool)
        index = self.vocab.index
        for char in self.next_chars(self.vocab.decode(prefix)):
            if char == END:
                allowed[EOS] = True
            elif char in index:
                allowed[index[char]] = True
        if not allowed.any():
            # The vocabulary cannot continue this prefix: stop rather than emit an invalid character.
            allowed[EOS] = True
        return allowed

    def mask(self, prefixes: list[tuple[int, ...]]) -> np.ndarray:
        """[N, V] booleans: which token may follow each prefix of token ids."""
        return np.stack([self._allowed(p) for p in prefixes])


def constrain(log_probs: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Forbidden tokens get -inf and the rest are renormalised, so scores stay log-probabilities."""
    masked = np.where(allowed, log_probs, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    total = top + np.log(np.exp(masked - top).sum(axis=1, keepdims=True))
    renormalised: np.ndarray = masked - total
    return renormalised

