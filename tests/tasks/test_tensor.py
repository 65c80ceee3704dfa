"""Bring your own model: a GRU exported and described by the training package's own writer, served with
no task code of its own (task "tensor"), called with the real tritonclient over a real server."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import tritonclient.http as triton
from torch import nn
from tritonclient.utils import InferenceServerException

from app.repository.loader import load_model
from app.repository.manifest import TensorSpec
from app.settings import Settings
from app.tasks import Signature
from tests.conftest import spawn_server
from training.export import GraphSpec, export_graph
from training.repository import new_version_folder, write_manifest


class TinyGRU(nn.Module):
    """[batch, time, 3] -> the last step's [batch, 2]."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.head(out[:, -1])


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TinyGRU]:
    torch.manual_seed(0)
    net = TinyGRU().eval()
    root = tmp_path_factory.mktemp("repo")
    folder = new_version_folder(root, "gru", None)
    graph = export_graph(GraphSpec("model", net, ["x"], ["y"], [{0: "batch", 1: "time"}],
                                   make_inputs=lambda b, n: (torch.randn(b, n, 3),), parity_lengths=[1, 5]), folder)
    write_manifest(
        folder, name="gru", task="tensor", description="a user's own GRU", graphs=[graph],
        signature=Signature([TensorSpec(name="x", datatype="FP32", shape=[-1, -1, 3])],
                            [TensorSpec(name="y", datatype="FP32", shape=[-1, 2])]),
        training={"data": "none: random weights"},
    )
    return root, net


@pytest.fixture(scope="module")
def address(repository: tuple[Path, TinyGRU]) -> Iterator[str]:
    process, url = spawn_server(SEQSERVE_MODEL_DIR=str(repository[0]))
    try:
        yield url.removeprefix("http://")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(address: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=address)


def eager(net: TinyGRU, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def infer(client: triton.InferenceServerClient, x: np.ndarray, binary: bool = True) -> np.ndarray:
    tensor = triton.InferInput("x", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    result = client.infer("gru", [tensor], outputs=[triton.InferRequestedOutput("y", binary_data=binary)])
    return np.asarray(result.as_numpy("y"))


def test_metadata_is_the_declared_signature(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("gru")
    assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, -1, 3]}]
    assert metadata["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}]
    assert client.is_model_ready("gru")


@pytest.mark.parametrize("binary", [True, False])
def test_answers_equal_the_eager_network(client: triton.InferenceServerClient, repository: tuple[Path, TinyGRU],
                                         binary: bool) -> None:
    x = np.random.default_rng(1).standard_normal((4, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(infer(client, x, binary), eager(repository[1], x), atol=1e-5)


def test_concurrent_requests_of_different_lengths_each_get_their_own_answer(
    address: str, repository: tuple[Path, TinyGRU]
) -> None:
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((1 + k % 3, 2 + k % 4, 3)).astype(np.float32) for k in range(24)]
    concurrent = triton.InferenceServerClient(url=address, concurrency=8)
    pending = []
    for x in inputs:  # tritonclient's own concurrency: 8 connections, requests in flight together
        tensor = triton.InferInput("x", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        pending.append(concurrent.async_infer("gru", [tensor]))
    for x, request in zip(inputs, pending, strict=True):
        np.testing.assert_allclose(request.get_result().as_numpy("y"), eager(repository[1], x), atol=1e-5)
    concurrent.close()


def test_bad_tensors_are_protocol_errors(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match=r"shape \[-1, -1, 3\]"):
        infer(client, np.zeros((2, 5, 4), dtype=np.float32))
    wrong_type = triton.InferInput("x", [1, 2, 3], "FP64")
    wrong_type.set_data_from_numpy(np.zeros((1, 2, 3)))
    with pytest.raises(InferenceServerException, match="must be FP32"):
        client.infer("gru", [wrong_type])
    other = triton.InferInput("z", [1], "FP32")
    other.set_data_from_numpy(np.zeros(1, dtype=np.float32))
    with pytest.raises(InferenceServerException, match="unknown input"):
        client.infer("gru", [other])
    assert client.is_server_ready()


def test_torchscript_twin_answers_the_same(repository: tuple[Path, TinyGRU]) -> None:
    folder = repository[0] / "gru" / "1"
    x = np.random.default_rng(3).standard_normal((3, 6, 3)).astype(np.float32)
    answers = []
    for backend in ("onnx", "torchscript"):
        model = load_model(folder, Settings(model_dir=repository[0], device="cpu", backend=backend))
        answers.append(model.run_batch([{"x": x}])[0]["y"])
    np.testing.assert_allclose(answers[0], answers[1], atol=1e-5)
