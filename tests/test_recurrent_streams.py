"""Any recurrent model streams: a small GRU step graph built here (not one of ours), exported with torch and
imported with `python -m training import --state h=h_out`, fed one step at a time over
`POST /models/{name}/stream`, its WebSocket, V2 REST sequences (tritonclient.http) and gRPC sequences
(tritonclient.grpc), answers what the whole sequence gives at once in onnxruntime, within 1e-5; and so
across `--workers 2` with a new connection per step. Tokens are refused with their exact statuses, and
steps of many streams of two stateful models batch together without mixing their states."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import torch
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from torch import nn
from websockets.sync.client import connect

from tests.conftest import ROOT, free_port, parse_metrics, spawn_server, total
from training.export import GraphSpec, export_graph

INPUT, HIDDEN, LAYERS, STEPS = 3, 8, 2, 12


class GRUStep(nn.Module):
    """One time step: x [B, 3] and h [2, B, 8] in; y [B, 2] and the next h out."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(INPUT, HIDDEN, num_layers=LAYERS, batch_first=True)
        self.head = nn.Linear(HIDDEN, 2)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, h_out = self.gru(x[:, None, :], h)
        return self.head(out[:, -1]), h_out


class GRUSequence(nn.Module):
    """The same weights over a whole sequence at once: x [B, T, 3] -> y [B, T, 2]."""

    def __init__(self, step: GRUStep) -> None:
        super().__init__()
        self.gru, self.head = step.gru, step.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.gru(x)[0])


@dataclass
class Served:
    url: str
    grpc: str
    whole: np.ndarray  # [streams, STEPS, 2]: the reference, whole sequences in onnxruntime
    xs: np.ndarray  # [streams, STEPS, 3]
    repository: Path


def import_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "training", "import", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """The step graph (and its TorchScript twin) exported; 64 random sequences and their whole-sequence outputs."""
    torch.manual_seed(0)
    step = GRUStep()
    folder = tmp_path_factory.mktemp("gru")
    export_graph(GraphSpec("step", step, ["x", "h"], ["y", "h_out"], [{0: "batch"}, {1: "batch"}],
                           lambda batch, _: (torch.randn(batch, INPUT), torch.randn(LAYERS, batch, HIDDEN))), folder)
    export_graph(GraphSpec("whole", GRUSequence(step), ["x"], ["y"], [{0: "batch", 1: "time"}],
                           lambda batch, length: (torch.randn(batch, length, INPUT),), parity_lengths=[1, STEPS]),
                 folder)
    xs = np.random.default_rng(1).normal(size=(64, STEPS, INPUT)).astype(np.float32)
    whole = ort.InferenceSession(str(folder / "whole.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
    return folder, xs, whole


@pytest.fixture(scope="module")
def served(exported: tuple[Path, np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    folder, xs, whole = exported
    repository = tmp_path_factory.mktemp("repository")
    done = import_command(str(folder / "step.onnx"), "--torchscript", str(folder / "step.ts"), "--state", "h=h_out",
                          "--name", "gru", "--version", "1", "--repository", str(repository))
    assert done.returncode == 0, done.stderr
    assert "state: h <- h_out (batch axis 1)" in done.stdout and "/models/gru/stream" in done.stdout
    shutil.copytree(ROOT / "models" / "sine_stream", repository / "sine_stream")  # a second stateful model
    grpc_port = free_port()
    process, url = spawn_server(SEQSERVE_MODEL_DIR=str(repository), SEQSERVE_GRPC_PORT=str(grpc_port),
                                SEQSERVE_STREAM_KEYS="new-key-0123456789,old-key-0123456789",
                                SEQSERVE_MAX_BATCH_DELAY_MS="5")
    try:
        yield Served(url, f"127.0.0.1:{grpc_port}", whole, xs, repository)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def stream_over_http(url: str, name: str, xs: np.ndarray, client: httpx.Client | None = None) -> np.ndarray:
    state, ys = None, []
    for t, x in enumerate(xs):
        post = client.post if client is not None else httpx.post
        answer = post(f"{url}/models/{name}/stream", json={"inputs": {"x": x.tolist()}, "state": state})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == name and body["steps"] == t + 1 and set(body["outputs"]) == {"y"}
        state = body["state"]
        ys.append(body["outputs"]["y"])
    return np.array(ys)


def test_steps_over_http_equal_the_whole_sequence(served: Served) -> None:
    with httpx.Client() as client:
        np.testing.assert_allclose(stream_over_http(served.url, "gru", served.xs[0], client), served.whole[0],
                                   atol=1e-5)


def test_steps_over_a_websocket_equal_the_whole_sequence(served: Served) -> None:
    ys = []
    with connect(served.url.replace("http://", "ws://") + "/models/gru/stream/ws") as socket:
        for t, x in enumerate(served.xs[1]):
            socket.send(json.dumps({"inputs": {"x": x.tolist()}}))
            answer = json.loads(socket.recv(timeout=10))
            assert answer["steps"] == t + 1, answer
            ys.append(answer["outputs"]["y"])
        socket.send(json.dumps({"inputs": {"x": [1.0, 2.0]}}))  # a bad frame: its error, and the stream goes on
        assert json.loads(socket.recv(timeout=10))["status"] == 422
    np.testing.assert_allclose(ys, served.whole[1], atol=1e-5)
    # the last answer's token resumes the stream over HTTP
    more = httpx.post(f"{served.url}/models/gru/stream",
                      json={"inputs": {"x": [0.0, 0.0, 0.0]}, "state": answer["state"]})
    assert more.status_code == 200 and more.json()["steps"] == STEPS + 1


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_v2_sequences_equal_the_whole_sequence(served: Served, protocol: str) -> None:
    triton: Any = triton_http if protocol == "rest" else triton_grpc
    client = triton.InferenceServerClient(served.url.removeprefix("http://") if protocol == "rest" else served.grpc)
    row = 2 if protocol == "rest" else 3
    ys = []
    for t, x in enumerate(served.xs[row]):
        given = triton.InferInput("x", [1, INPUT], "FP32")
        given.set_data_from_numpy(x[None])
        result = client.infer("gru", [given], sequence_id=7 + row, sequence_start=t == 0, sequence_end=t == STEPS - 1)
        ys.append(result.as_numpy("y")[0])
        assert result.as_numpy("h_out").shape == (LAYERS, 1, HIDDEN)  # the state, as tensors too
    np.testing.assert_allclose(ys, served.whole[row], atol=1e-5)


def test_the_state_as_v2_tensors_equals_the_whole_sequence(served: Served) -> None:
    client = triton_http.InferenceServerClient(served.url.removeprefix("http://"))
    h, ys = np.zeros((LAYERS, 1, HIDDEN), np.float32), []
    for x in served.xs[4]:
        given = [triton_http.InferInput("x", [1, INPUT], "FP32"), triton_http.InferInput("h", list(h.shape), "FP32")]
        given[0].set_data_from_numpy(x[None])
        given[1].set_data_from_numpy(h)
        result = client.infer("gru", given)
        ys.append(result.as_numpy("y")[0])
        h = result.as_numpy("h_out")
    np.testing.assert_allclose(ys, served.whole[4], atol=1e-5)


def test_tokens_are_refused_with_their_exact_status(served: Served) -> None:
    url = f"{served.url}/models/gru/stream"
    step = {"inputs": {"x": [0.1, 0.2, 0.3]}}
    token = httpx.post(url, json={**step, "state": None}).json()["state"]
    body, mac = token.split(".")
    altered = ("A" if body[10] != "A" else "B").join((body[:10], body[11:])) + "." + mac
    foreign = _signed_with(served, b"a-key-no-replica-has-0123", token)
    old = _signed_with(served, b"old-key-0123456789", token)
    retired = _signed_with(served, b"retired-key-0123456789", token)
    other = httpx.post(f"{served.url}/models/sine_stream/stream", json={"inputs": {"values": [0.5]}}).json()["state"]
    cases = {"altered": (altered, 400, "signature"), "truncated": (token[: len(token) // 2], 400, "signature"),
             "foreign key": (foreign, 400, "signature"), "rotated out": (retired, 400, "signature"),
             "other model": (other, 400, "belongs to model 'sine_stream'"), "not a token": (42, 400, "string")}
    for case, (sent, status, words) in cases.items():
        answer = httpx.post(url, json={**step, "state": sent})
        assert answer.status_code == status, (case, answer.text)
        assert words in answer.text, (case, answer.text)
    assert "not 'gru'" in httpx.post(url, json={**step, "state": other}).text  # naming both models
    assert httpx.post(url, json={**step, "state": old}).status_code == 200  # the previous key, still listed
    assert httpx.post(url, json={**step, "extra": 1}).status_code == 422
    assert httpx.post(url, json={"inputs": {"x": [0.1, 0.2]}}).status_code == 422  # not one stream's x
    assert httpx.post(f"{served.url}/models/nope/stream", json=step).status_code == 404
    assert httpx.get(f"{served.url}/health/ready").status_code == 200


def _signed_with(served: Served, key: bytes, token: str) -> str:
    """`token`'s own header and state, signed with another key."""
    from app.state_token import sign, unseal

    header, blob = unseal([b"new-key-0123456789"], token)
    return sign(key, header, blob)


def test_streams_of_two_models_batch_together_and_keep_their_states(served: Served) -> None:
    """32 GRU streams and 32 sine_stream streams stepping at once, through the generic route."""
    series = [np.sin(0.3 * np.arange(STEPS) + k).round(4) for k in range(32)]

    async def one(client: httpx.AsyncClient, name: str, steps: list[dict[str, Any]]) -> list[list[float]]:
        state, outputs = None, []
        for inputs in steps:
            answer = await client.post(f"/models/{name}/stream", json={"inputs": inputs, "state": state})
            assert answer.status_code == 200, answer.text
            state = answer.json()["state"]
            outputs.append(next(iter(answer.json()["outputs"].values())))
        return outputs

    gru = [[{"x": x.tolist()} for x in served.xs[k]] for k in range(32)]
    sine = [[{"values": [float(v)]} for v in values] for values in series]

    async def run(together: bool) -> list[list[list[float]]]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=served.url, limits=limits, timeout=60) as client:
            streams = [one(client, "gru", steps) for steps in gru] + [one(client, "sine_stream", s) for s in sine]
            if together:
                return list(await asyncio.gather(*streams))
            return [await stream for stream in streams]  # each alone, one after another

    alone = asyncio.run(run(together=False))
    before = parse_metrics(httpx.get(f"{served.url}/metrics").text)
    together = asyncio.run(run(together=True))
    after = parse_metrics(httpx.get(f"{served.url}/metrics").text)
    for k in range(64):
        np.testing.assert_allclose(together[k], alone[k], atol=1e-5)
    for k in range(32):
        np.testing.assert_allclose(together[k], served.whole[k], atol=1e-5)
    for name in ("gru", "sine_stream"):
        runs, items = (total(after, f"seqserve_batch_size_{kind}", model=name)
                       - total(before, f"seqserve_batch_size_{kind}", model=name) for kind in ("count", "sum"))
        assert items == 32 * STEPS and runs < items, (name, runs, items)  # batches of more than one stream


def test_across_two_workers_with_a_new_connection_per_step(served: Served) -> None:
    process, url = spawn_server("--workers", "2", SEQSERVE_MODEL_DIR=str(served.repository))
    try:
        np.testing.assert_allclose(stream_over_http(url, "gru", served.xs[5]), served.whole[5], atol=1e-5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_import_command_refuses_what_cannot_serve(exported: tuple[Path, np.ndarray, np.ndarray],
                                                      tmp_path: Path) -> None:
    folder = exported[0]
    graph = ["--torchscript", str(folder / "step.ts"), "--version", "1", "--repository", str(tmp_path)]
    mismatched = import_command(str(folder / "step.onnx"), "--state", "h=y@1", "--name", "a", *graph)
    assert mismatched.returncode == 2 and "shapes differ: input 'h' is [2, -1, 8], output 'y' is [-1, 2]" in \
        mismatched.stderr
    missing = import_command(str(folder / "step.onnx"), "--state", "z=h_out@1", "--name", "b", *graph)
    assert missing.returncode == 2 and "the graph has no input 'z'" in missing.stderr
    assert import_command(str(folder / "step.onnx"), "--state", "h=h_out", "--name", "c", *graph).returncode == 0
    again = import_command(str(folder / "step.onnx"), "--state", "h=h_out", "--name", "c", *graph)
    assert again.returncode == 2 and "exists: a version is never overwritten" in again.stderr
    torch.manual_seed(1)
    torch.jit.script(GRUStep()).save(str(tmp_path / "other.ts"))  # the same graph with other weights
    other = import_command(str(folder / "step.onnx"), "--torchscript", str(tmp_path / "other.ts"), "--name", "d",
                           "--version", "1", "--repository", str(tmp_path))
    assert other.returncode == 2 and "TorchScript and ONNX disagree by" in other.stderr
    (tmp_path / "other.ts").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # nothing left behind by a refusal
