"""Export a network's graphs to ONNX and TorchScript, then prove all three agree.

The dynamo ONNX exporter freezes an LSTM/GRU's sequence length on every export after the first in a
process unless aten's dispatch cache is cleared; and an example batch of 1 fixes the batch axis. So:
examples of batch >= 2, the cache cleared before each export, and a parity check over several batch
sizes and lengths that fails the export rather than shipping a wrong graph.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

PARITY_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 7, 64)
ONNX_OPSET = 18

DATATYPES = {torch.float32: "FP32", torch.float64: "FP64", torch.int64: "INT64"}


@dataclass
class GraphSpec:
    """One exported graph: a module, how to make example inputs, and which axes are dynamic."""

    name: str
    module: nn.Module
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: list[dict[int, str]]  # per input: axis -> dimension name
    make_inputs: Callable[[int, int], tuple[torch.Tensor, ...]]  # (batch, length) -> inputs
    parity_lengths: list[int] = field(default_factory=lambda: [1])


@dataclass
class ExportedGraph:
    name: str
    onnx_file: str
    torchscript_file: str
    inputs: list[dict[str, object]]
    outputs: list[dict[str, object]]
    parity: dict[str, float]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clear_rnn_dispatch_cache() -> None:
    for op in (torch.ops.aten.lstm.input, torch.ops.aten.gru.input):
        cache = getattr(op, "_dispatch_cache", None)
        if cache is not None:
            cache.clear()


def _tensor_specs(
    names: list[str], tensors: tuple[torch.Tensor, ...], dynamic: list[dict[int, str]]
) -> list[dict[str, object]]:
    return [
        {"name": name, "datatype": DATATYPES[t.dtype],
         "shape": [-1 if axis in axes else size for axis, size in enumerate(t.shape)]}
        for name, t, axes in zip(names, tensors, dynamic, strict=True)
    ]


def export_graph(spec: GraphSpec, folder: Path) -> ExportedGraph:
    spec.module.eval()
    example = spec.make_inputs(3, max(spec.parity_lengths[-1], 2))
    onnx_path = folder / f"{spec.name}.onnx"
    ts_path = folder / f"{spec.name}.ts"

    dims = {name: torch.export.Dim(name) for axes in spec.dynamic_axes for name in axes.values()}
    dynamic_shapes = tuple({axis: dims[name] for axis, name in axes.items()} for axes in spec.dynamic_axes)
    _clear_rnn_dispatch_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # the exporter's chatter about opset adaptation
        program = torch.onnx.export(
            spec.module, example, input_names=spec.input_names, output_names=spec.output_names,
            dynamic_shapes=dynamic_shapes, opset_version=ONNX_OPSET, dynamo=True, verbose=False,
        )
    assert program is not None
    program.save(str(onnx_path))

    with warnings.catch_warnings():
        # torch.jit is deprecated upstream but still the only pickle-free format torch itself can load.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        scripted = torch.jit.script(spec.module)
        scripted.save(str(ts_path))
        loaded_ts = torch.jit.load(str(ts_path))

    outputs, output_axes = _output_axes(spec)
    _declare_output_axes(onnx_path, spec.output_names, output_axes)
    parity = check_parity(spec, loaded_ts, onnx_path)
    return ExportedGraph(
        name=spec.name, onnx_file=onnx_path.name, torchscript_file=ts_path.name,
        inputs=_tensor_specs(spec.input_names, example, spec.dynamic_axes),
        outputs=_tensor_specs(spec.output_names, outputs, output_axes),
        parity=parity,
    )


def _output_axes(spec: GraphSpec) -> tuple[tuple[torch.Tensor, ...], list[dict[int, str]]]:
    """Which output axes follow the inputs' dynamic axes: run eager at two sizes and see what moves."""
    short = max(2, spec.parity_lengths[0])
    with torch.no_grad():
        small = _as_tuple(spec.module(*spec.make_inputs(2, short)))
        large = _as_tuple(spec.module(*spec.make_inputs(5, short + 4)))
    names = {5: "batch", short + 4: "length"}
    axes = [
        {axis: names.get(b, f"dim{axis}") for axis, (a, b) in enumerate(zip(s.shape, t.shape, strict=True)) if a != b}
        for s, t in zip(small, large, strict=True)
    ]
    return small, axes


def _declare_output_axes(onnx_path: Path, output_names: list[str], output_axes: list[dict[int, str]]) -> None:
    """The dynamo exporter can declare a recurrent layer's output length as the example's; the values are
    right but onnxruntime then warns on every run. Declare the axes that really vary as symbolic."""
    model = onnx.load(str(onnx_path))
    del model.graph.value_info[:]  # intermediate shapes carry the same frozen length; onnxruntime re-infers them
    by_name = {o.name: o for o in model.graph.output}
    for name, axes in zip(output_names, output_axes, strict=True):
        dims = by_name[name].type.tensor_type.shape.dim
        for axis, symbol in axes.items():
            dims[axis].ClearField("dim_value")
            dims[axis].dim_param = symbol
    onnx.save(model, str(onnx_path))


def check_parity(spec: GraphSpec, scripted: torch.jit.ScriptModule, onnx_path: Path) -> dict[str, float]:
    """Max difference of TorchScript and onnxruntime against eager (`max_difference`); raises beyond the tolerance."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = {"torchscript": 0.0, "onnxruntime": 0.0}
    for batch in PARITY_BATCHES:
        for length in spec.parity_lengths:
            inputs = spec.make_inputs(batch, length)
            with torch.no_grad():
                eager = _as_tuple(spec.module(*inputs))
                ts = _as_tuple(scripted(*inputs))
            feeds = {name: t.numpy() for name, t in zip(spec.input_names, inputs, strict=True)}
            onnx = session.run(spec.output_names, feeds)
            for expected, got_ts, got_onnx in zip(eager, ts, onnx, strict=True):
                if got_onnx.shape != tuple(expected.shape):
                    raise RuntimeError(
                        f"{spec.name}: onnxruntime output shape {got_onnx.shape} != eager {tuple(expected.shape)} "
                        f"at batch {batch}, length {length}"
                    )
                worst["torchscript"] = max(worst["torchscript"], max_difference(expected.numpy(), got_ts.numpy()))
                worst["onnxruntime"] = max(worst["onnxruntime"], max_difference(expected.numpy(), got_onnx))
    for backend, diff in worst.items():
        if diff > PARITY_TOLERANCE:
            raise RuntimeError(f"{spec.name}: {backend} differs from eager by {diff:.3g} > {PARITY_TOLERANCE}")
    return worst


def _as_tuple(value: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


def max_difference(expected: np.ndarray, got: np.ndarray) -> float:
    """The largest difference, relative to the value where it is above 1: float32 keeps about 7 significant
    digits, so a log-probability of -30 off by 3e-3 is as exact as a probability off by 1e-4."""
    reference = np.asarray(expected, dtype=np.float64)
    if reference.size == 0:
        return 0.0
    return float(np.max(np.abs(reference - got.astype(np.float64)) / np.maximum(1.0, np.abs(reference))))
