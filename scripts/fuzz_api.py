"""Longer property-based run over the whole OpenAPI document (the test suite runs a short one).

    python scripts/fuzz_api.py [--examples 300]

Starts the service on a loopback port, generates requests for every operation with schemathesis
(valid and invalid bodies, parameters, headers), and counts responses by status. Exit 1 on any 5xx.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import free_port, start  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=300, help="examples per operation")
    args = parser.parse_args()
    port = free_port()
    server = start(ROOT / "models", port, {})
    statuses: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    try:
        schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{port}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(max_examples=args.examples, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None)
            def check(case) -> None:  # type: ignore[no-untyped-def]
                response = case.call(timeout=30)
                statuses[f"{response.status_code // 100}xx"] += 1
                if response.status_code >= 500:
                    where = f"{case.method} {case.formatted_path}"
                    failures.append(f"{where}: {response.status_code} {response.text[:200]}")

            check()
            print(f"{operation.method.upper():6} {operation.path}: done", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"responses by class: {dict(sorted(statuses.items()))}; server errors: {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
