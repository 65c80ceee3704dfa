"""Property-based requests generated from our own OpenAPI document, with every check schemathesis has:
no input causes a 5xx, and every answer's status, content type, headers and body are the ones the
document declares (what JSON Schema cannot say about a request is stated in schemathesis.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

EXAMPLES_PER_OPERATION = 25


def test_every_schemathesis_check_passes(server: str, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    command = [str(st), "--config-file", str(ROOT / "schemathesis.toml"), "run", f"{server}/openapi.json",
               "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "1",
               "--generation-database", "none", "--no-color"]
    # Run from a scratch folder: the CLI writes its cache where it runs.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert "Operations:       27 selected / 27 total" in output, output[-3000:]
    assert result.returncode == 0, output[-8000:]
