"""Longer schemathesis run over the whole OpenAPI document, every check (the test suite runs a short one).

    python scripts/fuzz_api.py [--examples 150]

Starts the service on a loopback port and runs `st run --checks all` against it with schemathesis.toml;
prints schemathesis's report and exits with its status (0: no failure of any check).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import free_port, start  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=150, help="examples per operation")
    args = parser.parse_args()
    port = free_port()
    server = start(ROOT / "models", port, {})
    try:
        with tempfile.TemporaryDirectory() as scratch:  # the CLI keeps its cache where it runs
            return subprocess.run(
                [str(Path(sys.executable).with_name("st")), "--config-file", str(ROOT / "schemathesis.toml"), "run",
                 f"http://127.0.0.1:{port}/openapi.json", "--checks", "all", "--max-examples", str(args.examples),
                 "--generation-database", "none", "--no-color"], cwd=scratch).returncode
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
