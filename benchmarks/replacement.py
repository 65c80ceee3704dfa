"""What a worker's replacement does to throughput: translate over keep-alive connections to `--workers 2`,
before and after one worker is killed (the server starts a new one), and again over new connections.

    python benchmarks/replacement.py [--connections 16] [--seconds 10] [--env SEQSERVE_X=Y ...]

Prints, per phase, requests per second, errors, and how the clients' connections are spread over the
worker processes (read from `ss`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import ROOT, free_port, start  # noqa: E402

BODY = {"texts": ["3 March 2021"]}


def workers(server: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    def is_worker(pid: str) -> bool:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"spawn_main" in command and b"resource_tracker" not in command

    return [int(pid) for pid in found if is_worker(pid)]


def spread(port: int) -> dict[int, int]:
    """Established connections to the server's port, by the process that holds them."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True).stdout
    return dict(Counter(int(pid) for pid in re.findall(r"pid=(\d+)", out)))


async def phase(client: httpx.AsyncClient, url: str, connections: int, seconds: float) -> dict[str, float]:
    done = errors = 0
    until = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done, errors
        while time.perf_counter() < until:
            try:
                response = await client.post(url, json=BODY)
                done += response.status_code == 200
                errors += response.status_code != 200
            except httpx.HTTPError:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    return {"rps": round(done / (time.perf_counter() - started), 1), "errors": errors}


def wait_replaced(server: int, killed: int, base: str) -> float:
    started = time.monotonic()
    while True:
        current = workers(server)
        if len(current) == 2 and killed not in current:
            ready = 0
            while ready < 20:  # on new connections, which the kernel spreads over both workers
                ready = ready + 1 if httpx.get(f"{base}/health/ready", timeout=5).status_code == 200 else 0
            return time.monotonic() - started
        time.sleep(0.1)


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    env = {"SEQSERVE_WORKERS": "2", "SEQSERVE_MODELS": "dates", **dict(e.split("=", 1) for e in args.env)}
    server = start(ROOT / "models", port, env)
    base, results = f"http://127.0.0.1:{port}", {}
    try:
        url = f"{base}/predict/translate"
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            await phase(client, url, args.connections, 2)  # warm, and every connection open
            results["before"] = await phase(client, url, args.connections, args.seconds) | {"spread": spread(port)}
            victim = workers(server.pid)[0]
            os.kill(victim, signal.SIGKILL)
            results["replaced_in_s"] = round(wait_replaced(server.pid, victim, base), 1)
            results["after, same connections"] = (await phase(client, url, args.connections, args.seconds)
                                                  | {"spread": spread(port)})
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            await phase(client, url, args.connections, 1)
            results["after, new connections"] = (await phase(client, url, args.connections, args.seconds)
                                                 | {"spread": spread(port)})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--env", nargs="*", default=[], help="extra settings for the server, NAME=VALUE")
    asyncio.run(main(parser.parse_args()))
