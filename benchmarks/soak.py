"""Soak test: wrk at 64 connections for minutes over a mix of all endpoints; errors and memory over time.

    python benchmarks/soak.py [--minutes 10] [--connections 64]

Prints the server's resident memory (RSS) every 30 s, then requests, errors and RSS at start and end.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import free_port, start  # noqa: E402


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    sys.path.insert(0, str(HERE.parent))
    from app.tasks.digit import DIGIT_EXAMPLE

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        series = [round(2 * math.sin(0.13 * t + 0.4) + 0.5, 4) for t in range(128)]
        mix = {
            "/predict/digit": {"images": [DIGIT_EXAMPLE]},
            "/predict/sine": {"series": [series], "horizon": 16},
            "/predict/translate": {"texts": ["Tuesday, 3 March 1998", "1er mai 2001"]},
            "/predict/translate?": {"texts": ["king", "hello"], "model": "words", "beam_size": 3},
        }
        lines = []
        for i, (path, body) in enumerate(mix.items()):
            (work / f"{i}.json").write_text(json.dumps(body))
            lines.append(f"{path.rstrip('?')}\t{work / f'{i}.json'}")
        (work / "mix.txt").write_text("\n".join(lines) + "\n")

        port = free_port()
        server = start(HERE.parent / "models", port, {})
        try:
            samples = [(0.0, rss_mib(server.pid))]
            print(f"start: rss {samples[0][1]:.1f} MiB", flush=True)
            duration = int(args.minutes * 60)
            stop = threading.Event()

            def sample() -> None:
                started = time.monotonic()
                while not stop.wait(30):
                    samples.append((time.monotonic() - started, rss_mib(server.pid)))
                    print(f"  {samples[-1][0]:6.0f} s: rss {samples[-1][1]:.1f} MiB", flush=True)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            out = subprocess.run(
                ["wrk", "-t2", f"-c{args.connections}", f"-d{duration}s", "--timeout", "10s", "-s",
                 str(HERE / "mixed.lua"), f"http://127.0.0.1:{port}"],
                env={"MIX_FILE": str(work / "mix.txt"), "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, check=True,
            ).stdout
            stop.set()
            end_rss = rss_mib(server.pid)
            line = next(x for x in out.splitlines() if x.startswith("WRKCSV,"))
            rps, p50, _, p99, errors, requests, non2xx = line.split(",")[1:]
            print(f"duration {duration} s at {args.connections} connections: {int(float(requests))} requests, "
                  f"{rps} req/s, p50 {p50} ms, p99 {p99} ms, errors {errors} (non-2xx {non2xx})")
            print(f"rss start {samples[0][1]:.1f} MiB, end {end_rss:.1f} MiB, "
                  f"max {max(s for _, s in [*samples, (0.0, end_rss)]):.1f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
