"""Output grammars: which characters may come next, so decoding can only produce well-formed answers.

A grammar is named in a model's manifest (`output_grammar`); the decoder masks every character the
grammar forbids at each step, before choosing, so a malformed answer cannot be produced at all.

`iso_date` allows only calendar-valid full dates. `iso_date_as_written` allows what a text can say: a
full date, a month (`2020-03`) or a year (`2020`), with any two digits for month and day, so a model can
write down the day a text names even where no such day exists; `calendar_problem` then names what is
wrong with it ("no 31 April") and the translator abstains with that reason instead of moving the date.
"""

from __future__ import annotations

import calendar
import threading
from collections.abc import Callable
from dataclasses import dataclass

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


def iso_date_same_future(prefix: str) -> str:
    """A prefix with the same continuations: once the year is written only its leap-ness matters, so the
    automaton stays small (docs/dates.md counts its states), not one state per prefix."""
    if len(prefix) < 4:
        return prefix
    return ("2000" if calendar.isleap(int(prefix[:4])) else "2001") + prefix[4:]


def as_written_next(prefix: str) -> frozenset[str]:
    """Characters that may follow `prefix` in YYYY, YYYY-MM or YYYY-MM-DD with any digits; END where the
    text may stop (the empty text too: "no date")."""
    n = len(prefix)
    if n in (0, 4, 7):
        return frozenset(DIGITS) | {END} if n == 0 else frozenset({"-", END})
    if n == 10:
        return frozenset({END})
    return frozenset(DIGITS) if n < 10 else frozenset()


def as_written_same_future(prefix: str) -> str:
    """Only the prefix's length decides what may follow."""
    return "".join("0" if char.isdigit() else char for char in prefix)


PRECISIONS = ("day", "month", "year")  # finest first
_PRECISION_BY_LENGTH = {10: "day", 7: "month", 4: "year"}


def date_precision(text: str) -> str | None:
    """`day`, `month` or `year` for an ISO 8601 date of that precision; None for anything else."""
    return _PRECISION_BY_LENGTH.get(len(text)) if text else None


def calendar_problem(text: str) -> str | None:
    """What is wrong with a date written YYYY[-MM[-DD]] as a calendar date ("no 31 April", "2023 is not a leap
    year", "no month 13"); None when it is a real day, month or year."""
    year = int(text[:4])
    if year == 0:
        return "no year 0"
    if len(text) == 4:
        return None
    month = int(text[5:7])
    if not 1 <= month <= 12:
        return f"no month {month}"
    if len(text) == 7:
        return None
    day = int(text[8:10])
    if day == 0 or day > 31:
        return f"no day {day}"
    if day > _days_in_month(year, month):
        if month == 2 and day == 29:
            return f"{year} is not a leap year"
        return f"no {day} {calendar.month_name[month]}"
    return None


@dataclass(frozen=True)
class OutputGrammar:
    next_chars: NextFn
    same_future: Callable[[str], str]  # a representative prefix with the same continuations
    problem: Callable[[str], str | None] | None = None  # what is wrong with a grammatical answer, if anything


GRAMMARS: dict[str, OutputGrammar] = {
    "iso_date": OutputGrammar(iso_date_next, iso_date_same_future),
    "iso_date_as_written": OutputGrammar(as_written_next, as_written_same_future, calendar_problem),
}


class TokenGrammar:
    """A character grammar over a target vocabulary, run as an automaton over token ids.

    Each distinct prefix met while decoding becomes an integer state, with its row of additive
    penalties (0 where a token is allowed, -inf where not) and its row of transitions, built once on
    first use. Decoding then costs two table lookups and an addition per step, whatever the batch:
    the grammar must not make a request noticeably slower than the model alone.
    """

    START = 0  # the state of the empty prefix

    def __init__(self, next_chars: NextFn, vocab: CharVocab, same_future: Callable[[str], str] = str,
                 problem: Callable[[str], str | None] | None = None) -> None:
        self.next_chars = next_chars
        self.same_future = same_future
        self.problem = problem
        self.vocab = vocab
        self._lock = threading.Lock()  # states are built on first use, maybe by two batches at once
        self._prefixes: list[tuple[int, ...]] = []
        self._ids: dict[tuple[int, ...], int] = {}
        self._next = np.zeros((0, vocab.size), dtype=np.int64)  # -1: not built yet
        self._penalties = np.zeros((0, vocab.size), dtype=np.float32)
        self._state(())

    @classmethod
    def named(cls, name: str, vocab: CharVocab) -> TokenGrammar:
        if name not in GRAMMARS:
            raise ValueError(f"unknown output grammar {name!r}; known: {', '.join(sorted(GRAMMARS))}")
        grammar = GRAMMARS[name]
        return cls(grammar.next_chars, vocab, grammar.same_future, grammar.problem)

    def allowed(self, prefix: tuple[int, ...]) -> np.ndarray:
        """[V] booleans: which token may follow `prefix`."""
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

    def _state(self, prefix: tuple[int, ...]) -> int:
        state = self._ids.get(prefix)
        if state is None:
            state = self._ids[prefix] = len(self._prefixes)
            self._prefixes.append(prefix)
            if state == len(self._penalties):  # grow the tables by doubling
                size = max(16, 2 * state)
                penalties = np.zeros((size, self.vocab.size), dtype=np.float32)
                penalties[:state] = self._penalties
                following = np.full((size, self.vocab.size), -1, dtype=np.int64)
                following[:state] = self._next
                self._penalties, self._next = penalties, following
            self._penalties[state] = np.where(self.allowed(prefix), 0.0, -np.inf)
        return state

    def start(self, count: int) -> np.ndarray:
        return np.full(count, self.START, dtype=np.int64)

    def advance(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """The states after each row's state emits its token."""
        following: np.ndarray = self._next[states, tokens]
        if (following < 0).any():
            with self._lock:
                for row in np.flatnonzero(following < 0).tolist():
                    state, token = int(states[row]), int(tokens[row])
                    if self._next[state, token] < 0:
                        text = self.same_future(self.vocab.decode((*self._prefixes[state], token)))
                        built = self._state(tuple(self.vocab.encode(text)))
                        self._next[state, token] = built  # after _state, which may have grown the table
                    following[row] = self._next[state, token]
        return following

    @property
    def size(self) -> int:
        """States built so far."""
        return len(self._prefixes)

    def constrain(self, log_probs: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Forbidden tokens get -inf; allowed ones keep the model's log-probability, so a text's score stays
        the probability the model gives it (what the model put on invalid texts is not handed back)."""
        masked: np.ndarray = log_probs + self._penalties[states]
        return masked
