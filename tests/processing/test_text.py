"""The translators' one pre-processing: what it turns printable text into."""

from __future__ import annotations

import pytest

from app.processing.text import ORDER_MARKERS, normalise_text, source_text

KNOWN = set("abcdefghijklmnopqrstuvwxyz0123456789 ,.-/:'é")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("３ March １９９８", "3 march 1998"),  # full-width digits
        ("3\u00a0March\u20091998", "3 march 1998"),  # non-breaking and thin spaces
        ("3 March ’98", "3 march '98"),  # typographic apostrophe
        ("3–4—5\u2212", "3-4-5-"),  # en dash, em dash, minus
        ("3 March\x00\x07 1998\t\n", "3 march 1998"),  # control characters
        ("  3   MARCH   1998 ", "3 march 1998"),  # case and spacing
        ("3 Marçh 1998", "3 march 1998"),  # an unknown letter becomes its base letter
        ("3 Mārch 1998 ☃ ✓", "3 march 1998"),  # and what has none becomes a space
        ("Café", "café"),  # a known accented letter stays
        ("2019年7月23日", "2019 7 23"),
    ],
)
def test_printable_text_becomes_known_characters(raw: str, clean: str) -> None:
    assert normalise_text(raw, lowercase=True, known=KNOWN) == clean


def test_without_a_vocabulary_only_the_shared_steps_apply() -> None:
    assert normalise_text("３ ☃ March", lowercase=False) == "3 ☃ March"


def test_the_date_order_marker_comes_first_and_cannot_be_forged() -> None:
    known = KNOWN | set(ORDER_MARKERS.values())
    assert source_text("03/04/98", True, "MDY", known) == ORDER_MARKERS["MDY"] + "03/04/98"
    forged = ORDER_MARKERS["YMD"] + "03/04/98"
    assert source_text(forged, True, "DMY", known) == ORDER_MARKERS["DMY"] + "03/04/98"
    assert source_text("03/04/98", True, None, known) == "03/04/98"
    assert source_text("☃ ✓", True, "DMY", known) == ""  # nothing left: no marker either
