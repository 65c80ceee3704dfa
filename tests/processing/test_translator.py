"""The translator's answers around a scripted decoder: what it refuses, and why, without a trained model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.processing.grammar import TokenGrammar
from app.processing.months import MonthNames
from app.processing.text import EOS, CharVocab
from app.processing.translator import NO_DATE, NO_SUCH_DATE, Translator, at_least
from training.data.dates import month_names

VOCAB = CharVocab(tuple("-0123456789"))


class ScriptedBackend:
    """An encoder-decoder that writes `text` for every source, each character with probability `p`."""

    def __init__(self, text: str, p: float = 0.9) -> None:
        self.ids = [*VOCAB.encode(text), EOS]
        self.p = p

    def run(self, graph: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        batch = feeds["source"].shape[0] if graph == "encoder" else feeds["token"].shape[0]
        if graph == "encoder":
            return [np.zeros((batch, 1, 2)), np.zeros((batch, 1, 2)), np.zeros((batch, 1))]
        step = feeds["hidden"][:, 0].astype(int)  # the hidden state counts the characters written
        log_probs = np.full((batch, VOCAB.size), math.log((1 - self.p) / (VOCAB.size - 1)))
        for row, k in enumerate(step):
            log_probs[row, self.ids[min(k, len(self.ids) - 1)]] = math.log(self.p)
        return [log_probs, (feeds["hidden"] + 1), np.zeros((batch, 1))]


def translate(text: str, grammar: str = "iso_date_as_written", p: float = 0.9, abstain_below: float = 0.0,
              temperature: float = 1.0):  # type: ignore[no-untyped-def]
    translator = Translator(ScriptedBackend(text, p), VOCAB, 11, TokenGrammar.named(grammar, VOCAB), abstain_below,
                            temperature)
    return translator.translate([[5, 6]], beam_size=1)[0]


@pytest.mark.parametrize(("text", "problem"), [("2023-02-29", "2023 is not a leap year"),
                                                ("2020-04-31", "no 31 April"), ("2020-13-13", "no month 13")])
def test_a_day_that_does_not_exist_is_refused_with_its_reason(text: str, problem: str) -> None:
    answer = translate(text)
    assert answer.text is None and answer.precision is None
    assert answer.reason == f"{NO_SUCH_DATE}: {problem}"
    assert answer.beams[0][0] == text  # what the model read stays visible


@pytest.mark.parametrize(("text", "precision"), [("2024-02-29", "day"), ("2020-03", "month"), ("1998", "year")])
def test_real_dates_months_and_years_are_answered_at_their_precision(text: str, precision: str) -> None:
    answer = translate(text)
    assert (answer.text, answer.precision, answer.reason) == (text, precision, None)
    assert at_least(answer, "year") == answer
    coarser = {"day": [], "month": ["day"], "year": ["day", "month"]}[precision]
    for asked in coarser:
        refused = at_least(answer, asked)
        assert refused.text is None and refused.reason == f"the text gives the {precision} only; {asked} " \
            "precision was asked for"
        assert refused.beams == answer.beams


def test_the_strict_grammar_moves_an_impossible_day_where_the_as_written_one_refuses_it() -> None:
    assert translate("2023-02-29", grammar="iso_date").text not in (None, "2023-02-29")
    assert translate("2023-02-29").text is None


def test_no_date_and_low_confidence() -> None:
    assert translate("").reason == NO_DATE
    sure = translate("1998-03-03", p=0.99)
    assert sure.confidence == pytest.approx(math.exp(sure.score))
    calibrated = translate("1998-03-03", p=0.99, temperature=2.0)
    assert calibrated.confidence == pytest.approx(math.exp(sure.score / 2.0)) and calibrated.text == "1998-03-03"
    unsure = translate("1998-03-03", p=0.6, abstain_below=0.5)
    assert unsure.text is None and unsure.reason is not None and "not sure" in unsure.reason


def test_a_month_the_text_does_not_name_is_dropped_and_kept_in_the_beams() -> None:
    source = CharVocab(tuple("abcdefghijklmnopqrstuvwxyz0123456789 ,."))
    translator = Translator(ScriptedBackend("1961-01"), VOCAB, 11, TokenGrammar.named("iso_date_as_written", VOCAB),
                            0.0, months=(MonthNames.from_manifest(month_names()), source))
    invented, named = translator.translate([source.encode("vintage 1961, bordeaux"), source.encode("jan 1961")], 1)
    assert (invented.text, invented.precision, invented.beams[0][0]) == ("1961", "year", "1961-01")
    assert (named.text, named.precision) == ("1961-01", "month")


def test_a_day_the_text_does_not_state_is_dropped_and_kept_in_the_beams() -> None:
    source = CharVocab(tuple("abcdefghijklmnopqrstuvwxyz0123456789 ,.-/"))
    translator = Translator(ScriptedBackend("2026-02-02"), VOCAB, 11,
                            TokenGrammar.named("iso_date_as_written", VOCAB), 0.0,
                            months=(MonthNames.from_manifest(month_names()), source))
    invented, stated = translator.translate([source.encode("lot 4411 exp 2026-02"), source.encode("exp 02/02/2026")], 1)
    assert (invented.text, invented.precision, invented.beams[0][0]) == ("2026-02", "month", "2026-02-02")
    assert (stated.text, stated.precision) == ("2026-02-02", "day")
    # A day that does not exist is refused for what it is, before any check cuts it to its month.
    refused = Translator(ScriptedBackend("2026-02-31"), VOCAB, 11, TokenGrammar.named("iso_date_as_written", VOCAB),
                         0.0, months=(MonthNames.from_manifest(month_names()), source)).translate(
        [source.encode("lot 4411 exp 2026-02")], 1)[0]
    assert (refused.text, refused.reason) == (None, f"{NO_SUCH_DATE}: no 31 February")
    day_asked = at_least(invented, "day")
    assert day_asked.text is None and day_asked.reason == \
        "the text gives the month only; day precision was asked for"
