from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.processing.text import normalise_text
from training.data.dates import generate_pairs
from training.data.pairs import SEED_PAIRS


@pytest.mark.parametrize(
    ("text", "iso"),
    [("3 March 1998", "1998-03-03"), ("Tuesday, 3 March 1998", "1998-03-03"), ("03/03/98", "1998-03-03"),
     ("3 mars 1998", "1998-03-03"), ("December 25th, 2021", "2021-12-25"), ("14. Juli 1989", "1989-07-14"),
     ("1 de enero de 2000", "2000-01-01")],
)
def test_readme_examples(client: TestClient, text: str, iso: str) -> None:
    response = client.post("/predict/translate", json={"texts": [text]})
    assert response.status_code == 200
    assert response.json()["translations"][0]["text"] == iso


def test_held_out_generated_dates(client: TestClient) -> None:
    # A seed the training run never used, and none of these strings occurs in its training set.
    pairs = generate_pairs(400, seed=987)
    hits = 0
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        response = client.post("/predict/translate", json={"texts": [s for s, _ in chunk]})
        assert response.status_code == 200, response.text
        hits += sum(t["text"] == iso for t, (_, iso) in zip(response.json()["translations"], chunk, strict=True))
    assert hits / len(pairs) >= 0.99, hits / len(pairs)


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
        ({"texts": ["3 March 1998 ☃ ✓"]}, 422, "'☃', '✓'"),
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
