from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
import re

import pytest
from fastapi.testclient import TestClient

from app.processing.grammar import calendar_problem
from app.processing.text import normalise_text
from tests.conftest import MODELS
from training.data.dates import generate_pairs
from training.data.pairs import SEED_PAIRS


def translate(client: TestClient, texts: list[str], **options: object) -> list[dict[str, object]]:
    response = client.post("/predict/translate", json={"texts": texts, **options})
    assert response.status_code == 200, response.text
    translations: list[dict[str, object]] = response.json()["translations"]
    return translations


@pytest.mark.parametrize(
    ("text", "iso"),
    [("3 March 1998", "1998-03-03"), ("Tuesday, 3 March 1998", "1998-03-03"), ("03/03/98", "1998-03-03"),
     ("3 mars 1998", "1998-03-03"), ("December 25th, 2021", "2021-12-25"), ("14. Juli 1989", "1989-07-14"),
     ("1 de enero de 2000", "2000-01-01"), ("07/23/19", "2019-07-23"), ("August 28th, '60", "1960-08-28"),
     ("March 3, 1998 10:30", "1998-03-03"), ("2015-5-12", "2015-05-12"), ("1989 September 16", "1989-09-16")],
)
def test_readme_examples(client: TestClient, text: str, iso: str) -> None:
    response = client.post("/predict/translate", json={"texts": [text]})
    assert response.status_code == 200
    assert response.json()["translations"][0]["text"] == iso


def test_held_out_generated_dates(client: TestClient) -> None:
    # A seed the training run never used; texts with no date, or naming a day that does not exist, count as
    # right when the model abstains.
    pairs = generate_pairs(400, seed=987)
    hits = 0
    for order in ("DMY", "MDY", "YMD"):
        chunk = [(s, iso if not iso or calendar_problem(iso) is None else "") for s, o, iso in pairs if o == order]
        answers = translate(client, [s for s, _ in chunk], date_order=order)
        hits += sum((t["text"] or "") == iso for t, (_, iso) in zip(answers, chunk, strict=True))
    assert hits / len(pairs) >= 0.98, hits / len(pairs)


@pytest.mark.parametrize(
    ("text", "order", "iso"),
    [("03/04/98", "DMY", "1998-04-03"), ("03/04/98", "MDY", "1998-03-04"), ("03/04/98", None, "1998-04-03"),
     ("07/23/19", "DMY", "2019-07-23"), ("23/07/19", "MDY", "2019-07-23"), ("07/23/19", "YMD", "2019-07-23"),
     ("98/03/04", "DMY", "1998-03-04"), ("5.6.2024", "MDY", "2024-05-06"), ("5.6.2024", "DMY", "2024-06-05")],
)
def test_date_order_decides_only_what_the_numbers_leave_open(client: TestClient, text: str, order: str | None,
                                                             iso: str) -> None:
    options = {"date_order": order} if order else {}
    assert translate(client, [text], **options)[0]["text"] == iso


@pytest.mark.parametrize(
    "text",
    ["3 March 1998 ☃ ✓", "３ March １９９８", "3\u00a0March\u20091998", "3 March ’98", "3‐March—1998",
     "3 March 1998\x00\x07", "«3 March 1998»", "3 Marçh 1998", "3 March 1998 🎉"],
)
def test_printable_text_is_never_refused(client: TestClient, text: str) -> None:
    answer = translate(client, [text])[0]
    assert answer["text"] == "1998-03-03", (text, answer)


@pytest.mark.parametrize("text", ["tomorrow", "hello", "12", "🎉🎂", "March", "7/23"])
def test_no_date_is_an_abstention_with_a_reason(client: TestClient, text: str) -> None:
    answer = translate(client, [text])[0]
    assert answer["text"] is None and isinstance(answer["reason"], str) and answer["reason"], answer
    assert 0 <= answer["confidence"] <= 1  # type: ignore[operator]
    assert answer["precision"] is None


# Texts naming a day that does not exist, in several languages and layouts: never a date, and the reason
# names what is wrong.
@pytest.mark.parametrize(
    ("text", "order", "problem"),
    [("2024-02-30", "DMY", "no 30 February"), ("31/04/2020", "DMY", "no 31 April"),
     ("Feb 29 2023", "MDY", "2023 is not a leap year"), ("29.02.2100", "DMY", "2100 is not a leap year"),
     ("13/13/2020", "DMY", "no month 13"), ("2023-13-01", "DMY", "no month 13"),
     ("31 avril 2019", "DMY", "no 31 April"), ("30. Februar 2022", "DMY", "no 30 February"),
     ("31 de junio de 2018", "DMY", "no 31 June"), ("June 31st, 2021", "MDY", "no 31 June")],
)
def test_a_day_that_does_not_exist_is_no_answer_with_the_reason(client: TestClient, text: str, order: str,
                                                               problem: str) -> None:
    answer = translate(client, [text], date_order=order)[0]
    assert answer["text"] is None and answer["precision"] is None, answer
    assert answer["reason"] == f"the text names a date that does not exist: {problem}", answer
    assert answer["beams"][0]["text"]  # type: ignore[index]  # what the model read stays visible


@pytest.mark.parametrize(
    ("text", "iso", "precision"),
    [("March 2020", "2020-03", "month"), ("mars 2020", "2020-03", "month"), ("03/2020", "2020-03", "month"),
     ("Expiry: 11/25", "2025-11", "month"), ("1998", "1998", "year"), ("in the year 1998", "1998", "year"),
     ("week 32 of 2022", "2022", "year"), ("3 March 1998", "1998-03-03", "day"),
     # The model writes a day here and a month below; the text gives neither (app/processing/stated.py).
     ("Lot 4411 EXP 2026-02", "2026-02", "month"), ("Copyright 2019 Acme Inc. All rights reserved.", "2019", "year")],
)
def test_partial_dates_are_answered_at_their_precision(client: TestClient, text: str, iso: str,
                                                       precision: str) -> None:
    answer = translate(client, [text])[0]
    assert (answer["text"], answer["precision"], answer["reason"]) == (iso, precision, None), answer
    by_month = translate(client, [text], min_precision="month")[0]
    assert by_month["text"] == (iso if precision != "year" else None)
    by_day = translate(client, [text], min_precision="day")[0]
    if precision == "day":
        assert by_day == answer
    else:  # never completed with a day the text does not say
        assert by_day["text"] is None and by_day["reason"] == f"the text gives the {precision} only; day " \
            "precision was asked for", by_day
        assert by_day["beams"] == answer["beams"]


def test_answers_carry_a_calibrated_confidence(client: TestClient) -> None:
    temperature = json.loads((MODELS / "dates" / "1" / "manifest.json").read_text())["preprocessing"][
        "confidence_temperature"]
    assert temperature > 0
    for answer in translate(client, ["3 March 1998", "31/12/99", "12 13 14 15"], beam_size=3):
        assert 0 <= answer["confidence"] <= 1  # type: ignore[operator]
        assert answer["confidence"] == pytest.approx(math.exp(answer["score"] / temperature))  # type: ignore[operator]
        beams = sum(2.718281828459045 ** b["score"] for b in answer["beams"])  # type: ignore[attr-defined]
        assert beams <= 1 + 1e-6  # distinct answers of one distribution: probabilities sum to at most 1
    sure = translate(client, ["3 March 1998"])[0]
    assert sure["reason"] is None and sure["confidence"] > 0.9  # type: ignore[operator]


def test_any_text_gives_a_calendar_date_a_month_a_year_or_none(client: TestClient) -> None:
    rng = random.Random(0)
    alphabet = "0123456789/.-, :'abcdefghijklmnopqrstuvwxyzé日"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(200)]
    texts += ["31/02/2019", "29 February 2023", "2019-13-45", "00/00/0000", "99/99/99"]
    for beam_size, start in itertools.product((1, 3), range(0, len(texts), 100)):  # within a request's share
        for answer in translate(client, texts[start : start + 100], beam_size=beam_size):
            text = answer["text"]
            if text is not None:
                assert isinstance(text, str) and calendar_problem(text) is None, answer
                assert len(text) == {"day": 10, "month": 7, "year": 4}[answer["precision"]]  # type: ignore[index]
                if len(text) == 10:
                    assert dt.date.fromisoformat(text).isoformat() == text
            for beam in answer["beams"]:  # type: ignore[attr-defined]
                assert re.fullmatch(r"(\d{4}(-\d\d(-\d\d)?)?)?", beam["text"]), beam  # the grammar's shapes


def test_seed_word_pairs(client: TestClient) -> None:
    response = client.post("/predict/translate", json={"texts": [s for s, _ in SEED_PAIRS], "model": "words"})
    assert response.status_code == 200
    assert [t["text"] for t in response.json()["translations"]] == [t for _, t in SEED_PAIRS]


def test_beam_search_returns_ranked_beams(client: TestClient) -> None:
    response = client.post("/predict/translate", json={"texts": ["3 March 1998"], "beam_size": 4})
    assert response.status_code == 200
    translation = response.json()["translations"][0]
    assert translation["text"] == "1998-03-03"
    scores = [b["score"] for b in translation["beams"]]
    assert 1 < len(scores) <= 4
    assert scores == sorted(scores, reverse=True)
    assert translation["score"] == scores[0] <= 0


def test_greedy_score_is_a_log_probability(client: TestClient) -> None:
    translation = client.post("/predict/translate", json={"texts": ["3 March 1998"]}).json()["translations"][0]
    assert -1.0 < translation["score"] <= 0
    assert translation["beams"] == [{"text": translation["text"], "score": translation["score"]}]


def test_case_and_spacing_are_normalised(client: TestClient) -> None:
    texts = ["  3   MARCH 1998 ", "3 march 1998"]
    translations = client.post("/predict/translate", json={"texts": texts}).json()["translations"]
    assert translations[0] == translations[1]
    assert normalise_text(texts[0], lowercase=True) == texts[1]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"texts": []}, 422, "empty"),
        ({"texts": ["3 March 1998"], "date_order": "DM"}, 422, "'date_order' must be one of DMY, MDY, YMD"),
        ({"texts": ["3 March 1998"], "date_order": 1}, 422, "'date_order'"),
        ({"texts": ["king"], "model": "words", "date_order": "DMY"}, 422, "does not apply"),
        ({"texts": ["king"], "model": "words", "min_precision": "day"}, 422, "does not apply"),
        ({"texts": ["March 2020"], "min_precision": "week"}, 422, "'min_precision' must be one of day, month, year"),
        ({"texts": ["March 2020"], "min_precision": 1}, 422, "'min_precision'"),
        ({"texts": ["1" * 100]}, 422, "at most"),
        ({"texts": ["   "]}, 422, "empty"),
        ({"texts": [3]}, 422, "must be a string"),
        ({"texts": "3 March 1998"}, 422, "list of strings"),
        ({"texts": ["x"], "beam_size": 0}, 422, "beam_size"),
        ({"texts": ["x"], "beam_size": 9}, 422, "beam_size"),
        ({"texts": ["x"], "beam_size": "2"}, 422, "beam_size"),
        ({"texts": ["x"], "model": "klingon"}, 404, "klingon"),
        ({"texts": ["x"], "model": "digit"}, 404, "digit"),
        ({"texts": ["x"], "model": 5}, 422, "'model'"),
        ({"texts": ["x"] * 300}, 422, "at most"),
        ({"text": ["x"]}, 422, "unknown field"),
    ],
)
def test_bad_translate_bodies(client: TestClient, body: dict[str, object], status: int, fragment: str) -> None:
    response = client.post("/predict/translate", json=body)
    assert response.status_code == status, response.text
    assert fragment in response.json()["detail"]
    assert client.get("/health/ready").status_code == 200


@pytest.mark.parametrize("text", ["kin g", " king ", "ki\tng"])
def test_a_space_the_words_model_never_read_is_dropped_not_a_500(client: TestClient, text: str) -> None:
    response = client.post("/predict/translate", json={"texts": [text], "model": "words"})
    assert response.status_code == 200, response.text
    assert response.json()["translations"][0]["text"] == "queen"
    v2 = client.post("/v2/models/words/infer", json={"inputs": [
        {"name": "texts", "datatype": "BYTES", "shape": [1], "data": [text]}]})
    assert v2.status_code == 200 and v2.json()["outputs"][0]["data"] == ["queen"]
