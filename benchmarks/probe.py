"""How costly this machine is at what a server's request path is made of; printed beside every benchmark.

    python benchmarks/probe.py [--seconds 1]
    python benchmarks/probe.py --watch 2 > timeline.csv    # one line every 2 s until stopped

A slow server and a slow machine look alike in a benchmark table. Three medians tell them apart:
- executor round trip: an asyncio loop hands a no-op to a worker thread and is woken with its result
  (what a server pays per hand-off to an inference thread);
- thread wake-up: one thread sets an event another waits on, one way (half a ping-pong);
- loopback round trip: 64 bytes to a TCP echo server on 127.0.0.1 and back, on a connection kept open.
Plus the cores this process may use and the 1-minute load average.

A run of several minutes can meet a slower machine part of the way through (another tenant on the
host): `--watch` samples, until stopped, a fixed piece of interpreter work (the fastest of five) and
the share of time the host took from this machine's CPUs (steal, Linux). The work's time moves with
more than the host: on a 2-vCPU VM it took 370-1,200 us within seconds on an idle machine, and less
while a benchmark kept the cores busy than when they had been idle, so compare points of the same
kind (the same connection count) with each other, not a busy point with an idle one.
`benchmarks/timeline.py` lines each result of a run up with the samples taken while it was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def executor_round_trip_us(seconds: float) -> float:
    async def measure() -> float:
        loop = asyncio.get_running_loop()
        times = []
        with ThreadPoolExecutor(max_workers=1) as pool:
            await loop.run_in_executor(pool, int)
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await loop.run_in_executor(pool, int)
                times.append(time.perf_counter() - started)
        return statistics.median(times) * 1e6

    return asyncio.run(measure())


def thread_wakeup_us(seconds: float) -> float:
    ping, pong = threading.Event(), threading.Event()
    stop = False

    def echo() -> None:
        while True:
            ping.wait()
            ping.clear()
            if stop:
                return
            pong.set()

    worker = threading.Thread(target=echo, daemon=True)
    worker.start()
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        ping.set()
        pong.wait()
        pong.clear()
        times.append(time.perf_counter() - started)
    stop = True
    ping.set()
    worker.join()
    return statistics.median(times) / 2 * 1e6


def loopback_round_trip_us(seconds: float) -> float:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(64):
                connection.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    times = []
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b"x" * 64
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            client.sendall(payload)
            received = 0
            while received < len(payload):
                received += len(client.recv(64))
            times.append(time.perf_counter() - started)
    thread.join()
    server.close()
    return statistics.median(times) * 1e6


def work_us() -> float:
    """A fixed piece of interpreter work (0.4-1.2 ms on the 2-vCPU machines we measured on)."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000):
        total += i * i
    return (time.perf_counter() - started) * 1e6


def cpu_ticks() -> tuple[int, int] | None:
    """(all, steal) ticks of every CPU since boot, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def watch(interval: float) -> None:
    """CSV on stdout, one line per interval until SIGTERM or SIGINT: unix time, the fastest of five
    `work_us`, the steal share since the previous line (empty where unknown), the 1-minute load."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("time,work_us,steal_pct,load1", flush=True)
    previous = cpu_ticks()
    try:
        while True:
            time.sleep(interval)
            fastest = min(work_us() for _ in range(5))
            ticks = cpu_ticks()
            steal = ""
            if ticks is not None and previous is not None and ticks[0] > previous[0]:
                steal = f"{100 * (ticks[1] - previous[1]) / (ticks[0] - previous[0]):.1f}"
            previous = ticks
            print(f"{time.time():.1f},{fastest:.0f},{steal},{os.getloadavg()[0]:.2f}", flush=True)
    except KeyboardInterrupt:
        pass


def probe(seconds: float = 1.0) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"machine: {cores} cores, load {os.getloadavg()[0]:.2f}; executor round trip "
            f"{executor_round_trip_us(seconds):.0f} us, thread wake-up {thread_wakeup_us(seconds):.0f} us, "
            f"loopback round trip {loopback_round_trip_us(seconds):.0f} us (medians)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--watch", type=float, metavar="INTERVAL", help="sample the machine every INTERVAL "
                        "seconds until stopped, as CSV, instead of the one-line probe")
    args = parser.parse_args()
    if args.watch:
        watch(args.watch)
    else:
        print(probe(args.seconds), flush=True)


if __name__ == "__main__":
    main()
