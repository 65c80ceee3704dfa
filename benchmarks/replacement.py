"""What a worker's replacement does to throughput: wrk keeps translate requests going over keep-alive
connections to `--workers 2`; one worker is killed part-way (the server starts a new one).

    python benchmarks/replacement.py [--connections 16] [--seconds 90] [--kill-at 30] [--env NAME=VALUE ...]

Every `--interval` seconds it reads the server's answered requests from /metrics (every worker's, summed)
and which worker process holds each of wrk's connections (from `ss`). It prints, per window (before the
kill, and the two halves after it), requests per second and the mean share of the connections that the
busier worker held (0.5: an even spread; 1.0: all on one). Needs wrk (apt).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import ROOT, free_port, start  # noqa: E402

ROUTE = "/predict/translate"
BODY = {"texts": ["3 March 2021"]}


def workers(server: int) -> list[int]:
    def is_worker(pid: str) -> bool:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"spawn_main" in command and b"resource_tracker" not in command

    found = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found if is_worker(pid)]


def busier_share(port: int) -> float | None:
    """The share of the established connections to `port` that the busier worker process holds."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True).stdout
    counts = Counter(re.findall(r"pid=(\d+)", out))
    return max(counts.values()) / sum(counts.values()) if counts else None


def answered(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    pattern = rf'^seqserve_requests_total\{{[^}}]*outcome="ok"[^}}]*route="{re.escape(ROUTE)}"[^}}]*\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--kill-at", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--env", nargs="*", default=[], help="extra settings for the server, NAME=VALUE")
    args = parser.parse_args()
    port = free_port()
    env = {"SEQSERVE_WORKERS": "2", "SEQSERVE_MODELS": "dates", **dict(e.split("=", 1) for e in args.env)}
    server = start(ROOT / "models", port, env)
    base = f"http://127.0.0.1:{port}"
    samples: list[tuple[float, float, float | None]] = []  # (time since start, answered so far, busier share)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as body:
        json.dump(BODY, body)
        body.flush()
        load = subprocess.Popen(
            ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds + 5:.0f}s", "--timeout", "10s",
             "-s", str(HERE / "post.lua"), base + ROUTE],
            env={**os.environ, "BODY_FILE": body.name}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started, killed = time.monotonic(), None
        try:
            while (now := time.monotonic() - started) < args.seconds:
                if killed is None and now >= args.kill_at:
                    killed = workers(server.pid)[0]
                    os.kill(killed, signal.SIGKILL)
                samples.append((now, answered(base), busier_share(port)))
                time.sleep(args.interval)
        finally:
            load.terminate()
            load.wait(10)
            server.send_signal(signal.SIGTERM)
            server.wait(30)

    def window(low: float, high: float) -> dict[str, float | None]:
        inside = [s for s in samples if low <= s[0] < high]
        if len(inside) < 2:
            return {"rps": None, "busier_worker_share": None}
        shares = [s[2] for s in inside if s[2] is not None]
        return {"rps": round((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]), 1),
                "busier_worker_share": round(sum(shares) / len(shares), 2) if shares else None}

    after = args.seconds - args.kill_at - 4  # from 4 s after the kill (the new worker has started by then)
    print(json.dumps({
        "settings": env, "connections": args.connections,
        "before": window(5, args.kill_at),
        "after, first half": window(args.kill_at + 4, args.kill_at + 4 + after / 2),
        "after, second half": window(args.kill_at + 4 + after / 2, args.seconds),
    }))


if __name__ == "__main__":
    main()
