"""Task plugins (app/tasks/__init__.py): a task from another installed distribution, found through its
`seqserve.tasks` entry point, serves its typed route and V2 metadata on an unmodified seqserve; a plugin
that fails to import is named with its error in the log and in `/models`, and the built-in tasks serve."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from app.tasks.digit import DIGIT_EXAMPLE
from app.tasks.sine import SINE_EXAMPLE
from tests.conftest import MODELS, ROOT, spawn_server

PLUGIN = '''"""A task plugin: the sine forecaster's graph behind its own route, answering each forecast's mean."""
from typing import Any

import numpy as np
from pydantic import BaseModel

from app.tasks.sine import SineModel


class MeanResponse(BaseModel):
    model: str
    version: int
    means: list[float]


class ForecastMean(SineModel):
    task = "forecast_mean"
    route = "/predict/forecast-mean"
    summary = "The mean of the next values of noisy sinusoids"
    default_model = "forecast_mean"
    response_model = MeanResponse

    def answer_json(self, result: list[np.ndarray]) -> dict[str, Any]:
        return {"means": [float(np.mean(forecast)) for forecast in result]}
'''


def distribution(site: Path, name: str, module: str, source: str) -> None:
    """An installed distribution as pip leaves one: the package, and its dist-info with the entry point."""
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(source)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[seqserve.tasks]\n{name} = {module}\n")


def test_an_installed_plugin_serves_and_a_broken_one_is_named(tmp_path: Path) -> None:
    site, repository = tmp_path / "site", tmp_path / "models"
    distribution(site, "forecast_mean", "seqserve_forecast_mean", PLUGIN)
    distribution(site, "broken", "seqserve_broken", 'raise RuntimeError("broken on purpose")\n')
    shutil.copytree(MODELS / "digit", repository / "digit")
    shutil.copytree(MODELS / "sine" / "1", repository / "forecast_mean" / "1")
    manifest_path = repository / "forecast_mean" / "1" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.update(name="forecast_mean", task="forecast_mean")
    manifest_path.write_text(json.dumps(manifest))
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process, url = spawn_server(log_to=output, SEQSERVE_MODEL_DIR=str(repository), PYTHONPATH=str(site))
    try:
        answer = httpx.post(f"{url}/predict/forecast-mean", json={"series": [SINE_EXAMPLE], "horizon": 8})
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "forecast_mean" and len(answer.json()["means"]) == 1
        assert httpx.post(f"{url}/predict/forecast-mean", json={"series": []}).status_code == 422
        metadata = httpx.get(f"{url}/v2/models/forecast_mean").json()
        assert metadata["platform"] and {t["name"] for t in metadata["inputs"]} >= {"series"}
        assert "/predict/forecast-mean" in httpx.get(f"{url}/openapi.json").json()["paths"]
        assert httpx.post(f"{url}/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
        assert httpx.get(f"{url}/health/ready").status_code == 200
        (problem,) = httpx.get(f"{url}/models").json()["problems"]
        assert "'broken' (seqserve_broken)" in problem and "RuntimeError: broken on purpose" in problem
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert "RuntimeError: broken on purpose" in log.read_text()


def test_without_plugins_nothing_is_said() -> None:
    found = subprocess.run([sys.executable, "-c", "from app.tasks import PLUGIN_PROBLEMS; print(PLUGIN_PROBLEMS)"],
                           capture_output=True, text=True, cwd=ROOT, check=True)
    assert found.stdout.strip() == "[]"
