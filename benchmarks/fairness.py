"""Fair admission under abuse: heavy clients send the largest translate requests the server takes while a
small client sends one text at a time; prints each client's answers by status and the small client's latency.

    python benchmarks/fairness.py [--duration 20] [--heavy-texts 64] [--beam 8] [--checkout DIR]

Starts `python -m app` (one worker) of `--checkout` (default: this one) on a free loopback port over the
committed models, with a named API key per client (SEQSERVE_API_KEYS) so the server can tell them apart;
a checkout that knows no named keys sees one client. Each heavy client keeps `--heavy-concurrency`
requests in flight; the small client sends one translation, waits for it, and sends the next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import ROOT, free_port, start  # noqa: E402

DATES = ["3 March 2021", "le 14 juillet 1789", "2019-11-05", "Dec 25, 1999", "1. Mai 2010", "07/08/2015",
         "tuesday 9 june 1987", "el 2 de febrero de 2022"]


async def send(url: str, key: str, body: dict[str, object], until: float, statuses: Counter[int],
               seconds: list[float], pause_s: float) -> None:
    """One client's loop: a request, its answer, a pause; the time of each answered request is kept."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        while time.perf_counter() < until:
            started = time.perf_counter()
            response = await client.post(url, json=body)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                seconds.append(time.perf_counter() - started)
            await asyncio.sleep(pause_s)


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def run(base: str, args: argparse.Namespace) -> dict[str, object]:
    url = f"{base}/predict/translate"
    heavy_body = {"texts": [DATES[i % len(DATES)] for i in range(args.heavy_texts)], "beam_size": args.beam}
    small_body = {"texts": [DATES[0]]}
    # A maximal request alone, for scale.
    async with httpx.AsyncClient(headers={"Authorization": "Bearer heavy-0"}, timeout=60) as client:
        await client.post(url, json=heavy_body)
        started = time.perf_counter()
        alone = await client.post(url, json=heavy_body)
        alone_s = time.perf_counter() - started
    until = time.perf_counter() + args.duration
    statuses: dict[str, Counter[int]] = {name: Counter() for name in [*(f"heavy-{i}" for i in range(args.heavy)),
                                                                       "small"]}
    seconds: dict[str, list[float]] = {name: [] for name in statuses}
    tasks = [send(url, f"heavy-{i}", heavy_body, until, statuses[f"heavy-{i}"], seconds[f"heavy-{i}"], 0.01)
             for i in range(args.heavy) for _ in range(args.heavy_concurrency)]
    tasks.append(send(url, "small", small_body, until, statuses["small"], seconds["small"], 0.01))
    await asyncio.gather(*tasks)
    lat = seconds["small"]
    return {
        "heavy_request": f"{args.heavy_texts} texts x beam {args.beam}", "heavy_alone_status": alone.status_code,
        "heavy_alone_ms": round(alone_s * 1000, 1),
        "statuses": {name: dict(sorted(counts.items())) for name, counts in statuses.items()},
        "small_ms": {"p50": round(1000 * statistics.median(lat), 1) if lat else None,
                     "p99": round(1000 * percentile(lat, 0.99), 1), "max": round(1000 * max(lat), 1) if lat else None},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--heavy", type=int, default=2, help="heavy clients")
    parser.add_argument("--heavy-concurrency", type=int, default=2, help="requests each heavy client keeps in flight")
    parser.add_argument("--heavy-texts", type=int, default=64)
    parser.add_argument("--beam", type=int, default=8)
    parser.add_argument("--checkout", type=Path, default=ROOT)
    args = parser.parse_args()
    keys = {f"heavy-{i}": f"heavy-{i}" for i in range(args.heavy)} | {"small": "small"}
    port = free_port()
    with tempfile.TemporaryDirectory():
        process = start(args.checkout / "models", port, {"SEQSERVE_API_KEYS": json.dumps(keys),
                                                         "SEQSERVE_MODELS": "dates,words"}, args.checkout)
        try:
            print(json.dumps(asyncio.run(run(f"http://127.0.0.1:{port}", args)), indent=1))
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
