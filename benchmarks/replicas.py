"""Replicas behind a real load balancer on this machine: streams that outlive a killed replica, a drain that
fails no request, and throughput with 1, 2 and 3 replicas.

    python benchmarks/replicas.py [--balancer haproxy|nginx] [--replicas 3] [--streams 64] [--steps 60]
                                  [--seconds 10] [--skip-throughput] [--keep]

Starts the replicas (`python -m app`, one worker each, one shared stream key, `SEQSERVE_DRAIN_S`) on loopback
ports and a load balancer in front of them, round robin, retrying on another replica a request whose
connection failed or was cut (a stream step is idempotent: the token in says everything, the token out is
the same whoever answers): HAProxy (`haproxy_config`: active readiness checks every 200 ms) or nginx
(`nginx_config`: passive checks). Debian's packages: `apt-get install haproxy nginx-light wrk`. Then:

1. reference: each stream sends its values one step at a time through the balancer, carrying its token.
2. kill: the same streams again; a third of the way through, one replica gets SIGKILL and is started again.
3. drain: the same again; a third of the way through, one replica gets SIGTERM (it drains, stops) and is
   started again once it has exited.
4. throughput: wrk (64 connections) on /predict/digit through the balancer with 1, 2 and 3 replicas, and
   one replica without the balancer.

Prints, per run, lost streams (a step still failing after the client's own retries), failed requests (every
answer that was not 200, and every transport error, as the clients saw them), and the largest difference
of any forecast from the reference run; then the throughput table, and the machine's probe.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import ROOT, free_port, wrk  # noqa: E402
from probe import probe  # noqa: E402

MODELS = "digit,sine_stream"
DRAIN_S = 2.0
HORIZON = 8
CLIENT_TRIES = 3  # a client's own tries of one step before it calls the stream lost


def haproxy_config(port: int, replicas: list[int], admin_socket: Path) -> str:
    servers = "\n".join(f"    server r{k} 127.0.0.1:{p} check" for k, p in enumerate(replicas, 1))
    return f"""global
    maxconn 4096
    stats socket {admin_socket} mode 600 level admin
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A connection refused, or cut before an answer (a replica killed mid-request): try again, elsewhere.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response
    option forwardfor

frontend seqserve
    bind 127.0.0.1:{port}
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready
    http-check expect status 200
    default-server inter 200ms fall 1 rise 2
{servers}
"""


class Replica:
    """One `python -m app` on a loopback port, started again on the same port when asked."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port, self.env = port, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(self.port)], cwd=ROOT,
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not self.ready():
            if time.monotonic() > deadline or (self.process is not None and self.process.poll() is not None):
                raise SystemExit(f"replica on port {self.port} did not become ready")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def nginx_config(port: int, replicas: list[int], folder: Path) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in replicas)
    temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    upstream replicas {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            # A failed connection, or one cut before the answer's headers (a replica killed mid-request):
            # the next replica. POST too: a stream step is idempotent.
            proxy_next_upstream error timeout non_idempotent;
            proxy_next_upstream_tries 3;
        }}
    }}
}}
"""


class Balancer:
    """A load balancer in front of `replicas`, in the foreground, from a config in its own folder."""

    name = ""

    def __init__(self, replicas: list[int], folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{self.name}-{len(replicas)}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(replicas), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.serving():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise SystemExit(f"{self.name} did not start serving")
            time.sleep(0.1)

    def command(self, replicas: list[int]) -> list[str]:
        raise NotImplementedError

    def in_flight(self, server: int) -> int | None:
        """Requests sent to replica `server` (1-based) and not yet answered, where the balancer says."""
        return None

    def serving(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


class HAProxy(Balancer):
    """Active readiness checks: a draining replica leaves the rotation before it stops accepting."""

    name = "haproxy"

    def command(self, replicas: list[int]) -> list[str]:
        config = self.folder / f"haproxy-{len(replicas)}.cfg"
        self.admin = self.folder / f"admin-{len(replicas)}.sock"
        config.write_text(haproxy_config(self.port, replicas, self.admin))
        return ["haproxy", "-db", "-f", str(config)]

    def in_flight(self, server: int) -> int | None:
        """`show stat`'s scur on the admin socket."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.admin))
            admin.sendall(b"show stat\n")
            text = b"".join(iter(lambda: admin.recv(65536), b"")).decode()
        rows = csv.DictReader(line.removeprefix("# ") for line in text.splitlines() if line)
        return next(int(row["scur"]) for row in rows if row["pxname"] == "replicas" and row["svname"] == f"r{server}")


class Nginx(Balancer):
    """Passive checks only (open-source nginx): a replica leaves the rotation when a connection to it fails."""

    name = "nginx"

    def command(self, replicas: list[int]) -> list[str]:
        folder = self.folder / f"nginx-{len(replicas)}"
        folder.mkdir(exist_ok=True)
        config = folder / "nginx.conf"
        config.write_text(nginx_config(self.port, replicas, folder))
        return ["nginx", "-p", str(folder), "-c", str(config)]


BALANCERS: dict[str, type[Balancer]] = {"haproxy": HAProxy, "nginx": Nginx}


def series(stream: int, steps: int) -> list[float]:
    """A noisy sinusoid per stream, the same every run."""
    rng = random.Random(stream)
    frequency, phase = rng.uniform(0.05, 0.3), rng.uniform(0, 2 * math.pi)
    return [math.sin(frequency * t + phase) + rng.gauss(0, 0.1) for t in range(steps)]


@dataclass
class Run:
    forecasts: dict[int, list[list[float]]] = field(default_factory=dict)
    lost: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0
    in_flight_at_signal: int | None = None  # the balancer's requests on the disrupted replica at the signal


async def run_streams(url: str, streams: int, steps: int, when_third: asyncio.Event | None = None) -> Run:
    """Every stream steps its series through `url`; `when_third` is set once a third of all steps are done."""
    run = Run()
    total = streams * steps
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)

    async def stream(client: httpx.AsyncClient, k: int) -> None:
        state: str | None = None
        run.forecasts[k] = []
        for value in series(k, steps):
            for _ in range(CLIENT_TRIES):
                try:
                    response = await client.post("/predict/sine/stream",
                                                 json={"values": [value], "horizon": HORIZON, "state": state})
                    outcome = str(response.status_code)
                except httpx.TransportError as exc:
                    outcome, response = f"{type(exc).__name__}: {exc}", None
                if response is not None and response.status_code == 200:
                    break
                run.failed += 1
                run.statuses[outcome] = run.statuses.get(outcome, 0) + 1
                await asyncio.sleep(0.2)
            else:
                run.lost += 1
                return
            answer = response.json()
            state = answer["state"]
            run.forecasts[k].append(answer["forecast"])
            run.steps += 1
            if when_third is not None and run.steps >= total // 3:
                when_third.set()

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(stream(client, k) for k in range(streams)))
    run.seconds = time.perf_counter() - started
    return run


def largest_difference(run: Run, reference: Run) -> float:
    worst = 0.0
    for k, forecasts in reference.forecasts.items():
        got = run.forecasts.get(k, [])
        if len(got) != len(forecasts):
            return math.inf
        for a, b in zip(got, forecasts, strict=True):
            worst = max(worst, max(abs(x - y) for x, y in zip(a, b, strict=True)))
    return worst


async def with_disruption(balancer: Balancer, streams: int, steps: int, replicas: list[Replica], victim: int,
                          how: str) -> Run:
    """`victim`: the replica's 1-based index, its server's name in the balancer."""
    replica = replicas[victim - 1]
    third = asyncio.Event()
    running = asyncio.create_task(run_streams(balancer.url, streams, steps, third))
    await third.wait()
    assert replica.process is not None
    in_flight = balancer.in_flight(victim)
    if how == "kill":
        replica.process.send_signal(signal.SIGKILL)
    else:
        replica.process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(replica.process.wait)
    replica.start()
    run = await running
    run.in_flight_at_signal = in_flight
    await asyncio.to_thread(replica.wait_ready)
    return run


def report(name: str, run: Run, reference: Run | None) -> dict[str, object]:
    row: dict[str, object] = {"run": name, "streams": len(run.forecasts), "steps": run.steps,
                              "steps_per_s": round(run.steps / run.seconds, 1), "lost_streams": run.lost,
                              "failed_requests": run.failed, "failures": run.statuses}
    if run.in_flight_at_signal is not None:
        row["in_flight_at_signal"] = run.in_flight_at_signal
    if reference is not None:
        row["largest_forecast_difference"] = largest_difference(run, reference)
    print(json.dumps(row), flush=True)
    return row


def digit_body(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from app.tasks.digit import DIGIT_EXAMPLE

    body = folder / "digit.json"
    body.write_text(json.dumps({"images": [DIGIT_EXAMPLE]}))
    return body


def throughput(replicas: list[Replica], folder: Path, seconds: int, kind: type[Balancer]) -> list[dict[str, object]]:
    body = digit_body(folder)
    rows: list[dict[str, object]] = []
    direct = wrk(f"http://127.0.0.1:{replicas[0].port}/predict/digit", body, 64, seconds)
    rows.append({"replicas": 1, "balancer": False, "rps": direct["rps"], "p99_ms": direct["p99"],
                 "errors": direct["errors"]})
    print(json.dumps(rows[-1]), flush=True)
    for count in range(1, len(replicas) + 1):
        balancer = kind([r.port for r in replicas[:count]], folder)
        try:
            result = wrk(f"{balancer.url}/predict/digit", body, 64, seconds)
        finally:
            balancer.stop()
        rows.append({"replicas": count, "balancer": True, "rps": result["rps"], "p99_ms": result["p99"],
                     "errors": result["errors"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def replica_env() -> dict[str, str]:
    """What every replica shares: one stream key, so any of them takes a stream's next step."""
    key = base64.b64encode(os.urandom(32)).decode()
    return {**os.environ, "SEQSERVE_MODELS": MODELS, "SEQSERVE_DEVICE": "cpu", "SEQSERVE_WORKERS": "1",
            "SEQSERVE_GRPC_PORT": "0", "SEQSERVE_LOG_LEVEL": "warning", "SEQSERVE_STREAM_KEY": key,
            "SEQSERVE_DRAIN_S": str(DRAIN_S), "SEQSERVE_PROXY_HEADERS": "true", "SEQSERVE_INTRA_OP_THREADS": "1"}


@contextlib.contextmanager
def cluster(count: int, folder: Path, kind: type[Balancer] = HAProxy) -> Iterator[tuple[list[Replica], Balancer]]:
    """`count` ready replicas and HAProxy in front of them; all stopped afterwards."""
    env = replica_env()
    replicas = [Replica(free_port(), env) for _ in range(count)]
    balancer: Balancer | None = None
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        balancer = kind([r.port for r in replicas], folder)
        yield replicas, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            replica.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--streams", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per throughput row")
    parser.add_argument("--balancer", choices=sorted(BALANCERS), default="haproxy")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the folder of HAProxy's configs and logs")
    args = parser.parse_args()
    kind = BALANCERS[args.balancer]
    if shutil.which(args.balancer) is None:
        raise SystemExit(f"{args.balancer} is not installed (apt-get install {args.balancer})")
    print(probe(), flush=True)
    folder = Path(tempfile.mkdtemp(prefix="seqserve-replicas-"))
    try:
        with cluster(args.replicas, folder, kind) as (replicas, balancer):
            reference = asyncio.run(run_streams(balancer.url, args.streams, args.steps))
            report("reference", reference, None)
            killed = min(2, len(replicas))
            report("kill", asyncio.run(with_disruption(balancer, args.streams, args.steps, replicas, killed, "kill")),
                   reference)
            report("drain", asyncio.run(with_disruption(balancer, args.streams, args.steps, replicas, 1, "drain")),
                   reference)
            balancer.stop()
            if not args.skip_throughput:
                throughput(replicas, folder, args.seconds, kind)
    finally:
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
