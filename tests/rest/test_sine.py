from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from training.baselines import sinusoid_fit
from training.data.series import sine_batch


def test_example_forecast_follows_the_sinusoid(client: TestClient) -> None:
    t = np.arange(200)
    series = 2.0 * np.sin(0.15 * t) + 1.0
    response = client.post("/predict/sine", json={"series": [series.tolist()], "horizon": 16})
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"]) == ("sine", 1)
    forecast = np.array(body["forecasts"][0])
    truth = 2.0 * np.sin(0.15 * np.arange(200, 216)) + 1.0
    assert forecast.shape == (16,)
    assert np.sqrt(np.mean((forecast - truth) ** 2)) < 0.2


def test_forecasts_close_to_the_sinusoid_fit(client: TestClient) -> None:
    rng = np.random.default_rng(123)
    observed, _, _ = sine_batch(rng, 200, 128 + 16)
    history, future = observed[:, :128], observed[:, 128:]
    response = client.post("/predict/sine", json={"series": history.tolist(), "horizon": 16})
    assert response.status_code == 200
    model_rmse = np.sqrt(np.mean((np.array(response.json()["forecasts"]) - future) ** 2))
    fit_rmse = np.sqrt(np.mean((sinusoid_fit(history, 16) - future) ** 2))
    assert model_rmse <= 1.25 * fit_rmse, (model_rmse, fit_rmse)


def test_amplitude_and_offset_do_not_matter(client: TestClient) -> None:
    series = np.sin(0.1 * np.arange(100))
    scaled = 40 * series - 7
    response = client.post("/predict/sine", json={"series": [series.tolist(), scaled.tolist()], "horizon": 8})
    small, large = (np.array(f) for f in response.json()["forecasts"])
    np.testing.assert_allclose(large, 40 * small - 7, rtol=1e-4, atol=1e-3)


def test_mixed_lengths_and_long_histories(client: TestClient) -> None:
    series = [np.sin(0.2 * np.arange(n)).tolist() for n in (16, 300, 5000)]
    response = client.post("/predict/sine", json={"series": series, "horizon": 64})
    assert response.status_code == 200
    assert [len(f) for f in response.json()["forecasts"]] == [64, 64, 64]


def test_default_horizon_is_16(client: TestClient) -> None:
    response = client.post("/predict/sine", json={"series": [[0.0, 1.0] * 10]})
    assert response.status_code == 200
    assert len(response.json()["forecasts"][0]) == 16


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"series": [], "horizon": 4}, "empty"),
        ({"series": [[1.0] * 10], "horizon": 4}, "between 16"),
        ({"series": [[1.0] * 9000], "horizon": 4}, "between 16"),
        ({"series": [[1.0] * 20], "horizon": 0}, "'horizon'"),
        ({"series": [[1.0] * 20], "horizon": 65}, "'horizon'"),
        ({"series": [[1.0] * 20], "horizon": 2.5}, "integer"),
        ({"series": [[1.0] * 20], "horizon": True}, "integer"),
        ({"series": [["x"] * 20], "horizon": 4}, "only numbers"),
        ({"series": [[[1.0]] * 20], "horizon": 4}, "flat list"),
        ({"series": [[1e300] * 20], "horizon": 4}, "1e12"),
        ({"series": "abc", "horizon": 4}, "must be a list"),
        ({"series": [5], "horizon": 4}, "series[0]"),
        ({"series": [[1.0] * 20]} | {"history": 1}, "unknown field"),
        ({"horizon": 4}, "missing field 'series'"),
        ({"series": [[1.0] * 20] * 300, "horizon": 4}, "at most"),
    ],
)
def test_bad_sine_bodies_are_422(client: TestClient, body: dict[str, object], fragment: str) -> None:
    response = client.post("/predict/sine", json=body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]
    assert client.get("/health/live").status_code == 200


def test_infinity_in_series_is_refused(client: TestClient) -> None:
    body = '{"series": [[' + ",".join(["1.0"] * 19 + ["1e999"]) + ']], "horizon": 4}'
    response = client.post("/predict/sine", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400  # orjson refuses numbers beyond float range outright: not JSON
    assert "infinity" in response.json()["detail"]
