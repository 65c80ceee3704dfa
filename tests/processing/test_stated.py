"""What of a dates answer the text states: an unnamed month leaves the year, an unstated day the month."""

from __future__ import annotations

import pytest

from app.processing.months import MonthNames
from app.processing.stated import stated
from training.data.dates import HANDWRITTEN_UNSEEN, generate_pairs, month_names, read_handwritten

MONTHS = MonthNames.from_manifest(month_names())


@pytest.mark.parametrize(("text", "answer", "kept"), [
    ("Copyright 2019 Acme Inc.", "2019-08", "2019"), ("Vintage 1961, Bordeaux", "1961-01-01", "1961"),
    ("Aug 2019", "2019-08", "2019-08"), ("3 mars 1998", "1998-03-03", "1998-03-03"), ("1998", "1998", "1998"),
    ("", "", ""), ("Lot 4411 EXP 2026-02", "2026-02-02", "2026-02"), ("Expiry: 11/25", "2025-11-11", "2025-11"),
    ("Vintage March 1961", "1961-03-01", "1961-03"), ("02/02/2026", "2026-02-02", "2026-02-02"),
    ("2023-13-01", "2023-13-01", "2023-13-01"),  # month 13: the calendar check refuses it, with its reason
    ("30 Feb 2023", "2023-02-30", "2023-02-30")])
def test_an_answer_keeps_what_its_text_states(text: str, answer: str, kept: str) -> None:
    assert stated(text, answer, MONTHS) == kept


@pytest.mark.parametrize("path", [None, HANDWRITTEN_UNSEEN])
def test_no_hand_written_answer_loses_its_day(path: object) -> None:
    pairs = read_handwritten() if path is None else read_handwritten(HANDWRITTEN_UNSEEN)
    full = [(text, iso) for text, _, iso in pairs if len(iso) == 10]
    assert full and [(text, iso) for text, iso in full if len(stated(text, iso, MONTHS)) == 7] == []


def test_no_generated_answer_loses_its_day() -> None:
    # Every layout the generator writes a day in: none of its answers may be cut to the month.
    full = [(text, iso) for text, _, iso in generate_pairs(4000, 11) if len(iso) == 10]
    assert len(full) > 3000
    assert [(text, iso) for text, iso in full if len(stated(text, iso, MONTHS)) == 7] == []
