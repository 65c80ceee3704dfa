"""The month check: a month a dates model writes must be named in the text, or the answer keeps its year."""

from __future__ import annotations

import pytest

from app.processing.months import MonthNames, number_can_be, typo_distance
from training.data.dates import month_names

MONTHS = MonthNames.from_manifest(month_names())


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("aout", "aout", 0), ("auot", "aout", 1), ("apirl", "april", 1), ("juuly", "july", 1), ("mai", "may", 1),
    ("", "jan", 3), ("sept", "", 4), ("kitten", "sitting", 3)])
def test_typo_distance_counts_edits_and_swaps(a: str, b: str, distance: int) -> None:
    assert typo_distance(a, b) == distance == typo_distance(b, a)


@pytest.mark.parametrize(("run", "month", "can"), [
    ("8", 8, True), ("08", 8, True), ("12", 8, False), ("20190805", 8, True), ("20190905", 8, False),
    ("2019", 1, False), ("1961", 1, False), ("0108", 8, True), ("4411", 4, True)])
def test_a_number_can_hold_a_month_but_a_year_cannot(run: str, month: int, can: bool) -> None:
    assert number_can_be(run, month) is can


@pytest.mark.parametrize(("text", "month"), [
    ("3 March 1998", 3), ("3 mars 1998", 3), ("1er août 2001", 8), ("01JUN05", 6), ("28.II.2023", 2),
    ("2019-08-05", 8), ("20190805", 8), ("Sept. 4, 1999", 9), ("from Apirl 3rd, 2090", 4), ("le 3 aûot 1906", 8),
    ("Juuly 10, 2048", 7), ("am 3. Oktober 1990", 10), ("2023年3月15日", 3), ("Expiry: 11/25", 11)])
def test_months_the_text_names_are_found(text: str, month: int) -> None:
    assert MONTHS.named(text, month)


@pytest.mark.parametrize(("text", "month"), [
    ("Copyright 2019 Acme Inc. All rights reserved.", 8), ("Vintage 1961, Bordeaux", 1), ("in 1998", 3),
    ("3 March 1998", 4), ("week 32 of 2022", 2)])
def test_months_the_text_does_not_name_are_not(text: str, month: int) -> None:
    assert not MONTHS.named(text, month)


def test_without_swaps_it_is_levenshtein_as_the_generator_counts() -> None:
    assert typo_distance("auot", "aout", swaps=False) == 2
    assert typo_distance("kitten", "sitting", swaps=False) == 3
