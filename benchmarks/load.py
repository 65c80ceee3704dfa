"""Load-test the service with wrk: each endpoint at 1, 8 and 64 connections, batching on and off.

    python benchmarks/load.py [--duration 10] [--peer-model PEERS_KIT_DIR/model/lstm.onnx]

Starts `python -m app` on a free loopback port over a temporary model repository (the committed
models, plus the peer kit's LSTM as model `lstm` when --peer-model is given), waits for readiness,
warms up, runs wrk, and prints one row per (endpoint, batching, connections). Needs wrk (apt).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from probe import probe  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_peer_model(repo: Path, onnx_file: Path) -> None:
    """The peer kit's graph (input `pixels` [B,28,28], output logits [B,10]) as repository model `lstm`."""
    folder = repo / "lstm" / "1"
    folder.mkdir(parents=True)
    shutil.copy(onnx_file, folder / "model.onnx")
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    manifest = {
        "name": "lstm", "version": 1, "task": "digit",
        "description": "The peer benchmark kit's nn.LSTM(28,128,2) + Linear(128,10), served as-is",
        "artifacts": {"model": {"onnx": {"file": "model.onnx", "sha256": digest},
                                "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 28, 28]}],
                                "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]}},
        "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}],
        "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}],
        "training": {"command": "(not trained here: copied from the benchmark kit)"},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def bodies(work: Path, peer_request: Path | None) -> dict[str, tuple[str, Path]]:
    sys.path.insert(0, str(ROOT))
    from app.tasks.digit import DIGIT_EXAMPLE

    image = json.loads(peer_request.read_text())["pixels"] if peer_request else DIGIT_EXAMPLE
    import math

    series = [round(2 * math.sin(0.13 * t + 0.4) + 0.5, 4) for t in range(128)]
    targets = {
        "digit": ("/predict/digit", {"images": [image]}),
        "sine": ("/predict/sine", {"series": [series], "horizon": 16}),
        "translate": ("/predict/translate", {"texts": ["Tuesday, 3 March 1998"]}),
    }
    if peer_request:
        targets["lstm"] = ("/predict/digit?model=lstm", {"images": [image]})
    result = {}
    for name, (path, body) in targets.items():
        file = work / f"{name}.json"
        file.write_text(json.dumps(body))
        result[name] = (path, file)
    return result


def pinned(cpus: str | None) -> list[str]:
    """The prefix that runs a command on `cpus` only (taskset's list, "1" or "0,2"); none for None."""
    return ["taskset", "-c", cpus] if cpus else []


def start(repo: Path, port: int, env_extra: dict[str, str], checkout: Path = ROOT,
          cpus: str | None = None) -> subprocess.Popen[bytes]:
    """`python -m app` of `checkout` over the model repository `repo`, on loopback, once it is ready; with `cpus`,
    every thread of it on those CPUs."""
    env = {**os.environ, "SEQSERVE_MODEL_DIR": str(repo), "SEQSERVE_DEVICE": "cpu", "SEQSERVE_LOG_LEVEL": "warning",
           "SEQSERVE_WORKERS": "1", "SEQSERVE_GRPC_PORT": "0", **env_extra}  # one process unless asked
    process = subprocess.Popen([*pinned(cpus), sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("server did not become ready")


def wrk(url: str, body: Path, connections: int, duration: int, env: dict[str, str] | None = None,
        cpus: str | None = None) -> dict[str, float]:
    """`env`: CONTENT_TYPE and EXTRA_HEADER for post.lua; `cpus`: run wrk on those CPUs only."""
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        [*pinned(cpus), "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
         "-s", str(HERE / "post.lua"), url],
        env={**os.environ, "BODY_FILE": str(body), **(env or {})}, capture_output=True, text=True, check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKCSV,"))
    rps, p50, p90, p99, errors, requests = (float(v) for v in line.split(",")[1:])
    return {"rps": rps, "p50": p50, "p90": p90, "p99": p99, "errors": errors, "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--endpoints", default="digit,sine,translate,lstm")
    parser.add_argument("--modes", default="on,off", help="batching on (settings' defaults) and/or off (batch 1)")
    parser.add_argument("--peer-model", type=Path, default=None, help="the peer kit's model/lstm.onnx")
    parser.add_argument("--csv", type=Path, default=None, help="append rows here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        repo = work / "models"
        shutil.copytree(ROOT / "models", repo)
        peer_request = None
        if args.peer_model:
            add_peer_model(repo, args.peer_model)
            candidate = args.peer_model.parent / "request.json"
            peer_request = candidate if candidate.exists() else None
        targets = bodies(work, peer_request)
        wanted = [e for e in args.endpoints.split(",") if e in targets]
        rows = []
        print(probe(0.5), flush=True)
        print("endpoint,batching,connections,rps,p50_ms,p90_ms,p99_ms,errors,requests", flush=True)
        for mode in args.modes.split(","):
            port = free_port()
            env = {} if mode == "on" else {"SEQSERVE_MAX_BATCH_SIZE": "1"}
            server = start(repo, port, env)
            try:
                for name in wanted:
                    path, body = targets[name]
                    url = f"http://127.0.0.1:{port}{path}"
                    wrk(url, body, 8, args.warmup)
                    for c in args.connections:
                        r = wrk(url, body, c, args.duration)
                        row = (f"{name},{mode},{c},{r['rps']:.1f},{r['p50']:.3f},{r['p90']:.3f},{r['p99']:.3f},"
                               f"{int(r['errors'])},{int(r['requests'])}")
                        rows.append(row)
                        print(row, flush=True)
            finally:
                server.terminate()
                server.wait(timeout=30)
        if args.csv:
            with args.csv.open("a") as handle:
                handle.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
