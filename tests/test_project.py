"""The promises the repository makes about itself."""

from __future__ import annotations

import json
import re

from tests.conftest import MODELS, ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```(?:sh|bash)\n(.+?)\n```", text, flags=re.S)[:2]


def test_readme_starts_with_serve_and_test_commands() -> None:
    serve, test = readme_commands()
    assert "python -m app" in serve
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    _, test = readme_commands()
    assert test.strip() in (ROOT / ".ci" / "run").read_text()


def test_committed_models_are_small_and_reproducible() -> None:
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert total < 10 * 1024 * 1024, total
    manifests = sorted(MODELS.glob("*/*/manifest.json"))
    assert {m.parent.parent.name for m in manifests} >= {"digit", "sine", "sine_stream", "dates", "words"}
    for path in manifests:
        command = json.loads(path.read_text())["training"]["command"]
        assert command.startswith("python -m training ") and "--profile full" in command, path
