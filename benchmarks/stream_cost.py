"""What carrying state costs: 64 streams each sending one new value per call, over the typed HTTP route with
its state token and over the WebSocket, against re-sending the last 256 values to /predict/sine per step.

    python benchmarks/stream_cost.py [--streams 64] [--seconds 15] [--window 256]

Starts `python -m app` (one worker) on a free loopback port over the committed models. For each way it
prints steps per second, p50/p99 per step as the client sees it, the server's CPU per step (its process
time over the steps), and the bytes per step each way through the server's sockets (/proc/<pid>/io:
bodies and headers or frames). The clients share the machine's cores with the server, so the server's
CPU per step is the figure to compare across machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import ROOT, free_port, start  # noqa: E402

HORIZON = 16
TICKS = os.sysconf("SC_CLK_TCK")


def server_usage(pid: int) -> tuple[float, int, int]:
    """(CPU seconds, bytes read, bytes written) of the server process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return cpu, int(io["rchar"]), int(io["wchar"])


def signal_values(stream: int) -> Callable[[], float]:
    """A noisy sinusoid per stream, one value per call."""
    rng = random.Random(stream)
    frequency, phase, t = rng.uniform(0.05, 0.3), rng.uniform(0, 2 * math.pi), 0

    def next_value() -> float:
        nonlocal t
        t += 1
        return math.sin(frequency * t + phase) + rng.gauss(0, 0.1)

    return next_value


Step = Callable[[], Awaitable[None]]


async def http_token_stream(client: httpx.AsyncClient, stream: int, window: int) -> Step:
    value, state = signal_values(stream), None

    async def step() -> None:
        nonlocal state
        response = await client.post("/predict/sine/stream", json={"values": [value()], "horizon": HORIZON,
                                                                   "state": state})
        response.raise_for_status()
        state = response.json()["state"]

    return step


async def window_stream(client: httpx.AsyncClient, stream: int, window: int) -> Step:
    value = signal_values(stream)
    history = [value() for _ in range(window)]

    async def step() -> None:
        history.append(value())
        del history[0]
        response = await client.post("/predict/sine", json={"series": [history], "horizon": HORIZON})
        response.raise_for_status()

    return step


async def run_way(base: str, pid: int, way: str, streams: int, seconds: float, window: int) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        sockets = []
        if way == "websocket":
            url = base.replace("http://", "ws://") + "/predict/sine/stream/ws"
            sockets = [await connect(url) for _ in range(streams)]

            def socket_step(socket, stream: int) -> Step:  # type: ignore[no-untyped-def]
                value = signal_values(stream)

                async def step() -> None:
                    await socket.send(json.dumps({"values": [value()], "horizon": HORIZON}))
                    answer = json.loads(await socket.recv())
                    assert "error" not in answer, answer

                return step

            steps = [socket_step(socket, k) for k, socket in enumerate(sockets)]
        else:
            make = http_token_stream if way == "http_token" else window_stream
            steps = [await make(client, k, window) for k in range(streams)]
        for step in steps:  # each stream's first step, and every connection open, before measuring
            await step()
        until = time.perf_counter() + seconds
        cpu0, read0, written0 = server_usage(pid)
        started = time.perf_counter()

        async def drive(step: Step) -> None:
            while time.perf_counter() < until:
                begun = time.perf_counter()
                await step()
                latencies.append(time.perf_counter() - begun)

        await asyncio.gather(*(drive(step) for step in steps))
        elapsed = time.perf_counter() - started
        cpu1, read1, written1 = server_usage(pid)
        for socket in sockets:
            await socket.close()
    count = len(latencies)
    latencies.sort()
    return {"steps_per_s": round(count / elapsed, 1), "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p99_ms": round(1000 * latencies[int(0.99 * (count - 1))], 2),
            "server_cpu_us_per_step": round(1e6 * (cpu1 - cpu0) / count, 1),
            "bytes_in_per_step": round((read1 - read0) / count),
            "bytes_out_per_step": round((written1 - written0) / count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--ways", default="http_token,websocket,window")
    args = parser.parse_args()
    port = free_port()
    server = start(ROOT / "models", port, {"SEQSERVE_MODELS": "sine,sine_stream"})
    try:
        base = f"http://127.0.0.1:{port}"
        for way in args.ways.split(","):
            result = asyncio.run(run_way(base, server.pid, way, args.streams, args.seconds, args.window))
            print(json.dumps({"way": way, "streams": args.streams, **result}), flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
