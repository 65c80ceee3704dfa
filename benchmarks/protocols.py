"""One request, three protocols: the digit model over gRPC (raw tensors), V2 REST with binary tensors,
V2 REST with JSON tensors, and the typed JSON route, at 1 and 64 concurrent requests, one server process.

    python benchmarks/protocols.py [--duration 10] [--images 1]

HTTP is driven by wrk; gRPC by h2load (apt: nghttp2-client) posting the same ModelInferRequest as a
gRPC frame: two C load generators, each as light as the other, on the same cores as the server. gRPC at
64 is measured twice: 64 connections of one call each (like wrk's 64), and one connection carrying 64
concurrent calls (how a gRPC client usually talks). Every body is checked once with a real client first.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from load import free_port, start, wrk  # noqa: E402
from probe import probe  # noqa: E402

from app.tasks.digit import DIGIT_EXAMPLE  # noqa: E402

GRPC_PATH = "/inference.GRPCInferenceService/ModelInfer"


def write_bodies(work: Path, images: int) -> dict[str, Path]:
    from tritonclient.grpc import service_pb2 as pb

    batch = np.asarray([DIGIT_EXAMPLE] * images, dtype=np.float32)
    (work / "typed.json").write_text(json.dumps({"images": batch.tolist()}))
    tensor = {"name": "images", "shape": list(batch.shape), "datatype": "FP32"}
    (work / "v2.json").write_text(json.dumps({"inputs": [{**tensor, "data": batch.ravel().tolist()}]}))
    raw = batch.tobytes()
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}).encode()
    (work / "v2.bin").write_bytes(header + raw)
    (work / "v2.bin.header").write_text(str(len(header)))
    request = pb.ModelInferRequest(model_name="digit")
    request.inputs.add(name="images", datatype="FP32", shape=list(batch.shape))
    request.raw_input_contents.append(raw)
    message = request.SerializeToString()
    (work / "grpc.bin").write_bytes(struct.pack(">?I", False, len(message)) + message)  # gRPC length prefix
    return {"typed": work / "typed.json", "v2 json": work / "v2.json", "v2 binary": work / "v2.bin",
            "grpc": work / "grpc.bin"}


def check(http: str, grpc_address: str, files: dict[str, Path]) -> None:
    """Every body answers digit 7 through a real client, so the load generators measure real work."""
    import httpx
    import tritonclient.grpc as triton
    from tritonclient.grpc import service_pb2 as pb

    assert httpx.post(f"{http}/predict/digit", content=files["typed"].read_bytes(),
                      headers={"content-type": "application/json"}).json()["predictions"][0]["digit"] == 7
    assert httpx.post(f"{http}/v2/models/digit/infer", content=files["v2 json"].read_bytes(),
                      headers={"content-type": "application/json"}).json()["outputs"][1]["data"][0] == 7
    binary = httpx.post(f"{http}/v2/models/digit/infer", content=files["v2 binary"].read_bytes(), headers={
        "inference-header-content-length": (files["v2 binary"].parent / "v2.bin.header").read_text()})
    assert binary.status_code == 200 and binary.headers["content-type"] == "application/octet-stream"
    frame = files["grpc"].read_bytes()
    request = pb.ModelInferRequest.FromString(frame[5:])
    client = triton.InferenceServerClient(grpc_address)
    result = client._client_stub.ModelInfer(request)
    assert np.frombuffer(result.raw_output_contents[1], dtype=np.int64)[0] == 7


def h2load(url: str, body: Path, clients: int, streams: int, duration: int) -> dict[str, float]:
    out = subprocess.run(
        ["h2load", "-c", str(clients), "-m", str(streams), "-t", "1" if clients == 1 else "2",
         "-D", str(duration), "--warm-up-time", "1", "-d", str(body),
         "-H", "content-type: application/grpc", "-H", "te: trailers", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"finished in [^,]+, ([\d.]+) req/s", out).group(1))  # type: ignore[union-attr]
    done = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
    assert done is not None, out
    # h2load prints mean and sd of request times, not percentiles: the mean stands in for p50 here.
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    to_ms = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    value = mean.group(1) if mean else "nan"
    unit = re.match(r"([\d.]+)(us|ms|s)", value)
    mean_ms = float(unit.group(1)) * to_ms[unit.group(2)] if unit else float("nan")
    return {"rps": rps, "mean_ms": mean_ms, "errors": float(done.group(4)), "requests": float(done.group(2))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--images", type=int, default=1, help="images per request")
    args = parser.parse_args()
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt: wrk, nghttp2-client)")
    print(probe())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = write_bodies(work, args.images)
        port, grpc_port = free_port(), free_port()
        server = start(ROOT / "models", port, {"SEQSERVE_GRPC_PORT": str(grpc_port)})
        try:
            http = f"http://127.0.0.1:{port}"
            check(http, f"127.0.0.1:{grpc_port}", files)
            header = {"EXTRA_HEADER": f"Inference-Header-Content-Length: {(work / 'v2.bin.header').read_text()}",
                      "CONTENT_TYPE": "application/octet-stream"}
            print("protocol,concurrency,rps,p50_or_mean_ms,errors")
            for connections in (1, 64):
                runs = [
                    ("grpc raw (h2load)", lambda c=connections: h2load(
                        f"http://127.0.0.1:{grpc_port}{GRPC_PATH}", files["grpc"], c, 1, args.duration)),
                    ("v2 binary (wrk)", lambda c=connections: wrk(
                        f"{http}/v2/models/digit/infer", files["v2 binary"], c, args.duration, header)),
                    ("v2 json (wrk)", lambda c=connections: wrk(
                        f"{http}/v2/models/digit/infer", files["v2 json"], c, args.duration)),
                    ("typed json (wrk)", lambda c=connections: wrk(
                        f"{http}/predict/digit", files["typed"], c, args.duration)),
                ]
                if connections > 1:
                    runs.insert(1, ("grpc raw, 1 connection x 64 streams (h2load)", lambda c=connections: h2load(
                        f"http://127.0.0.1:{grpc_port}{GRPC_PATH}", files["grpc"], 1, c, args.duration)))
                for name, run in runs:
                    result = run()
                    latency = result.get("p50", result.get("mean_ms"))
                    print(f"{name},{connections},{result['rps']:.0f},{latency:.3f},{result['errors']:.0f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
