"""The ISO date grammar, checked exhaustively against datetime.date, and decoding under it."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import numpy as np
import pytest

from app.processing.decoding import StepFn, beam_decode, greedy_decode
from app.processing.grammar import END, TokenGrammar, as_written_next, calendar_problem, date_precision, iso_date_next
from app.processing.text import CharVocab


def completions(prefix: str, length: int) -> set[str]:
    """Every text of exactly `length` characters the grammar allows from `prefix` (ignoring END before it)."""
    if len(prefix) == length:
        return {prefix}
    return {text for char in iso_date_next(prefix) if char != END for text in completions(prefix + char, length)}


def test_years_are_0001_to_9999() -> None:
    assert completions("", 4) == {f"{year:04d}" for year in range(1, 10_000)}


def test_every_date_of_a_whole_gregorian_cycle_and_nothing_else() -> None:
    # 400 years hold every case of the leap rule (2000 by 400, 2100 by 100, 2104 by 4, 2101 none).
    for year in range(2000, 2400):
        texts = completions(f"{year:04d}", 10)
        assert all(END in iso_date_next(text) and iso_date_next(text) == {END} for text in texts)
        first = dt.date(year, 1, 1)
        expected = {(first + dt.timedelta(days=k)).isoformat() for k in range(366 if calendar.isleap(year) else 365)}
        assert texts == expected, year


def test_the_29th_of_february_only_in_leap_years_for_every_year() -> None:
    for year in range(1, 10_000):
        assert ("9" in iso_date_next(f"{year:04d}-02-2")) == calendar.isleap(year), year
        assert iso_date_next(f"{year:04d}-02-") == frozenset("012")


def test_the_empty_text_means_no_date_and_may_end() -> None:
    assert END in iso_date_next("")
    assert END not in iso_date_next("2024-01-3")


VOCAB = CharVocab(tuple("-0123456789"))


def random_step(seed: int, vocab_size: int) -> StepFn:
    rng = np.random.default_rng(seed)

    def step(tokens: np.ndarray, hidden: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(0, 3, (tokens.size, vocab_size))
        logits -= np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return logits, hidden

    return step


def is_valid_or_empty(text: str) -> bool:
    if text == "":
        return True
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def test_greedy_and_beam_under_the_grammar_give_only_valid_dates() -> None:
    grammar = TokenGrammar.named("iso_date", VOCAB)
    for seed in range(20):
        greedy = greedy_decode(random_step(seed, VOCAB.size), np.zeros((64, 1)), 11, grammar)
        beams = beam_decode(random_step(seed, VOCAB.size), np.zeros((16, 1)), 11, 4, grammar)
        texts = [VOCAB.decode(h.ids) for h in greedy] + [VOCAB.decode(h.ids) for item in beams for h in item]
        assert all(is_valid_or_empty(text) for text in texts), [t for t in texts if not is_valid_or_empty(t)]
        assert all(h.score <= 0 for h in greedy)
    # Without the grammar the same random decoder writes invalid texts: the mask is what prevents them.
    free = greedy_decode(random_step(0, VOCAB.size), np.zeros((64, 1)), 11)
    assert not all(is_valid_or_empty(VOCAB.decode(h.ids)) for h in free)


def test_forbidden_tokens_are_removed_and_allowed_ones_keep_their_log_probability() -> None:
    grammar = TokenGrammar.named("iso_date", VOCAB)
    state = grammar.advance(grammar.start(1), np.array([VOCAB.index["2"]]))  # "2": the year goes on, digits only
    log_probs = np.log(np.full((1, VOCAB.size), 1.0 / VOCAB.size))
    out = grammar.constrain(log_probs, state)
    digits = [VOCAB.index[d] for d in "0123456789"]
    np.testing.assert_allclose(out[0, digits], log_probs[0, digits])
    assert np.isneginf(np.delete(out[0], digits)).all()


def test_states_are_shared_by_equal_prefixes() -> None:
    grammar = TokenGrammar.named("iso_date", VOCAB)
    ids = [VOCAB.index[c] for c in "2024-02-"]
    states = grammar.start(3)
    for token in ids:
        states = grammar.advance(states, np.full(3, token))
    assert len(set(states.tolist())) == 1
    allowed = grammar.constrain(np.zeros((1, VOCAB.size)), states[:1]) > -np.inf
    assert [VOCAB.chars[i - 3] for i in np.flatnonzero(allowed[0])] == ["0", "1", "2"]


def test_the_automaton_stays_small_whatever_dates_it_writes() -> None:
    grammar = TokenGrammar.named("iso_date", VOCAB)
    texts = [f"{year:04d}-{month:02d}-{day:02d}" for year in range(1, 10_000) for month, day in ((2, 29), (12, 31))
             if calendar.isleap(year) or month == 12]
    states = grammar.start(len(texts))
    for step in range(10):
        tokens = np.array([VOCAB.index[text[step]] for text in texts])
        assert not np.isneginf(grammar.constrain(np.zeros((len(texts), VOCAB.size)), states)[
            np.arange(len(texts)), tokens]).any()  # every character of every valid date stays allowed
        states = grammar.advance(states, tokens)
    assert grammar.size < 3_000, grammar.size  # one state per prefix would be tens of thousands


def test_unknown_grammar_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown output grammar"):
        TokenGrammar.named("roman_numerals", VOCAB)


# ------------------------------------------------------------------------- iso_date_as_written


def test_as_written_allows_a_date_a_month_a_year_or_nothing_with_any_two_digits() -> None:
    grammar = TokenGrammar.named("iso_date_as_written", VOCAB)
    for seed in range(10):
        greedy = greedy_decode(random_step(seed, VOCAB.size), np.zeros((64, 1)), 11, grammar)
        texts = [VOCAB.decode(h.ids) for h in greedy]
        assert all(re.fullmatch(r"(\d{4}(-\d\d(-\d\d)?)?)?", t) for t in texts), texts
    assert as_written_next("2024") == {"-", END} and as_written_next("2024-13") == {"-", END}
    assert as_written_next("2024-02-3") == frozenset("0123456789") and as_written_next("2024-02-31") == {END}
    assert grammar.size < 20  # only the prefix's length matters


@pytest.mark.parametrize(("text", "problem"), [
    ("2024-02-30", "no 30 February"), ("2020-04-31", "no 31 April"), ("2023-02-29", "2023 is not a leap year"),
    ("2100-02-29", "2100 is not a leap year"), ("2020-13-13", "no month 13"), ("2019-00-10", "no month 0"),
    ("2020-01-32", "no day 32"), ("2021-05-00", "no day 0"), ("0000", "no year 0"),
    ("2024-02-29", None), ("2000-02-29", None), ("2020-03", None), ("1998", None), ("2020-12-31", None),
])
def test_calendar_problem_names_what_is_wrong(text: str, problem: str | None) -> None:
    assert calendar_problem(text) == problem


def test_every_day_of_a_gregorian_cycle_has_no_problem_and_every_other_has_one() -> None:
    for year in (1900, 2000, 2023, 2024):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                assert (calendar_problem(text) is None) == is_valid_or_empty(text), text


def test_precision_follows_the_length() -> None:
    assert [date_precision(t) for t in ("2020-03-01", "2020-03", "2020", "")] == ["day", "month", "year", None]
