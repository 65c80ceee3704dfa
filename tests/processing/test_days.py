"""The day check: a day a dates model writes must come from a number of its own, or from words."""

from __future__ import annotations

import pytest

from app.processing.days import day_in_words, day_stated


@pytest.mark.parametrize(("text", "date", "month_in_words"), [
    ("02/02/2026", (2026, 2, 2), False), ("2026-02-02t10:00:00z", (2026, 2, 2), False),
    ("20260202", (2026, 2, 2), False), ("20260202103000", (2026, 2, 2), False), ("010605", (2005, 6, 1), False),
    ("01jun05", (2005, 6, 1), True), ("5 may 05", (2005, 5, 5), True), ("11.11.11", (2011, 11, 11), False),
    ("the twenty-first of may, 2020", (2020, 5, 21), True), ("le premier mai 2020", (2020, 5, 1), True),
    ("the 20th of may, two thousand twenty", (2020, 5, 20), True), ("28.ii.2023", (2023, 2, 28), True),
    ("[10/oct/2000:13:55:36 -0700]", (2000, 10, 10), True), ("exp 2 feb 2026", (2026, 2, 2), True)])
def test_a_day_the_text_writes_is_stated(text: str, date: tuple[int, int, int], month_in_words: bool) -> None:
    assert day_stated(text, *date, lambda: month_in_words)


@pytest.mark.parametrize(("text", "date", "month_in_words"), [
    ("lot 4411 exp 2026-02", (2026, 2, 2), False),  # the day is the month's 02 again
    ("expiry: 11/25", (2025, 11, 11), False), ("feb 2026", (2026, 2, 2), True),
    ("vintage march 1961", (1961, 3, 1), True), ("202602", (2026, 2, 2), False),
    ("2020", (2020, 2, 20), False)])  # a year's digits are the year's, not a day and month as well
def test_a_day_the_text_does_not_write_is_not(text: str, date: tuple[int, int, int], month_in_words: bool) -> None:
    assert not day_stated(text, *date, lambda: month_in_words)


def test_days_in_words() -> None:
    assert day_in_words(["the", "thirty", "first", "of"], 31)
    assert day_in_words(["twentyfirst"], 21)
    assert day_in_words(["the", "first", "of"], 1)
    assert not day_in_words(["twenty", "twenty"], 2)
    assert not day_in_words(["primo"], 2)
