"""python -m training import MODEL.onnx --name NAME --version N --repository DIR [--torchscript MODEL.pt]
[--state IN=OUT[@AXIS] ...] [--description TEXT]: a model trained elsewhere, made a servable version.

Reads the graph's tensors (names, datatypes, shapes; a named or unknown dimension is -1), writes the graph
(one file, with any weights the exporter kept beside it) and its TorchScript twin into DIR/NAME/N, writes
the manifest (task "tensor", sha256 of every file, the state pairs, the command that made it), checks
TorchScript against onnxruntime on random inputs when both are given, then loads the version with the
server's own loader, so what it wrote is what will serve. It never overwrites a version, and leaves
nothing behind when a check fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from app.repository.loader import load_model
from app.repository.manifest import ManifestError
from app.settings import Settings
from app.tensors import DTYPES
from training.export import PARITY_TOLERANCE, max_difference, sha256_of
from training.repository import command_line

V2_OF_NUMPY = {np.dtype(dtype): name for name, dtype in DTYPES.items()}
DYNAMIC_SIZES = (2, 3)  # what a dynamic dimension is given in the parity runs (batch 2: not a frozen 1)


class ImportRefused(Exception):
    """The command's answer to an input it will not import; the message names the problem."""


def tensor_specs(values: Any) -> list[dict[str, Any]]:
    """A graph's inputs or outputs as manifest tensors."""
    return [spec for spec, _ in graph_tensors(values)]


def graph_tensors(values: Any) -> list[tuple[dict[str, Any], list[str]]]:
    """Each tensor as a manifest's, with its dimensions' names (a dynamic one's, as the graph names it)."""
    found = []
    for value in values:
        kind = value.type.tensor_type
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type))
        if dtype not in V2_OF_NUMPY:
            raise ImportRefused(f"tensor {value.name!r} is {dtype}: seqserve serves {sorted(DTYPES)}")
        shape = [d.dim_value if d.HasField("dim_value") else -1 for d in kind.shape.dim]
        names = [d.dim_param for d in kind.shape.dim]
        found.append(({"name": value.name, "datatype": V2_OF_NUMPY[dtype], "shape": shape}, names))
    return found


def state_pairs(pairs: list[str], inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`IN=OUT` or `IN=OUT@AXIS` -> the manifest's state pairs; the batch axis defaults to the state input's one
    dynamic dimension (a GRU's h: [layers, batch, hidden] -> 1)."""
    shapes = {spec["name"]: spec["shape"] for spec in inputs}
    result = []
    for pair in pairs:
        given, _, axis_text = pair.partition("@")
        name, _, output = given.partition("=")
        if not name or not output:
            raise ImportRefused(f"--state {pair!r}: expected INPUT=OUTPUT or INPUT=OUTPUT@AXIS")
        entry: dict[str, Any] = {"input": name, "output": output}
        if axis_text:
            if not axis_text.isdigit():
                raise ImportRefused(f"--state {pair!r}: the batch axis must be a number")
            entry["batch_axis"] = int(axis_text)
        elif name in shapes:
            dynamic = [axis for axis, size in enumerate(shapes[name]) if size < 0]
            if len(dynamic) != 1:
                raise ImportRefused(f"--state {pair!r}: {name!r} has shape {shapes[name]}; say which axis is the "
                                    f"batch: {name}={output}@AXIS")
            entry["batch_axis"] = dynamic[0]
        result.append(entry)  # a name the graph lacks is the loader's to refuse, with its message
    return result


def random_feeds(inputs: list[tuple[dict[str, Any], list[str]]], seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs; dynamic dimensions of one name (the batch, shared by every input) take one size."""
    rng = np.random.default_rng(seed)
    sizes: dict[str, int] = {}
    feeds = {}
    for spec, names in inputs:
        shape = [size if size >= 0 else sizes.setdefault(name or f"{spec['name']}:{axis}",
                                                         DYNAMIC_SIZES[min(len(sizes), 1)])
                 for axis, (size, name) in enumerate(zip(spec["shape"], names, strict=True))]
        dtype = DTYPES[spec["datatype"]]
        if np.issubdtype(dtype, np.floating):
            feeds[spec["name"]] = rng.normal(size=shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[spec["name"]] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            feeds[spec["name"]] = rng.integers(0, 10, size=shape).astype(dtype)
    return feeds


def torchscript_difference(onnx_path: Path, torchscript_path: Path, inputs: list[tuple[dict[str, Any], list[str]]],
                           outputs: list[dict[str, Any]]) -> float:
    """The largest difference between the two graphs' outputs on the same random inputs, measured as export
    measures it (`max_difference`)."""
    import torch  # only for this check: serving needs none

    feeds = random_feeds(inputs)
    try:
        expected = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, feeds)
        scripted = torch.jit.load(str(torchscript_path))
        with torch.no_grad():
            got = scripted(*(torch.from_numpy(feeds[spec["name"]]) for spec, _ in inputs))
    except Exception as exc:  # either runtime's failure on the graphs given: say which inputs it was run on
        shapes = {name: list(array.shape) for name, array in feeds.items()}
        raise ImportRefused(f"could not run both graphs on random inputs {shapes}: {exc}") from exc
    got = list(got) if isinstance(got, list | tuple) else [got]
    if len(got) != len(outputs):
        raise ImportRefused(f"TorchScript gives {len(got)} outputs, the ONNX graph {len(outputs)}")
    return max(max_difference(e, g.detach().numpy()) for e, g in zip(expected, got, strict=True))


def import_model(onnx_path: Path, name: str, version: int, repository: Path, torchscript: Path | None = None,
                 state: list[str] | None = None, description: str = "") -> Path:
    folder = repository / name / str(version)
    if folder.exists():
        raise ImportRefused(f"{folder} exists: a version is never overwritten; import as another --version")
    try:
        graph = onnx.load(str(onnx_path))  # with weights the exporter saved beside it (NAME.onnx.data)
    except Exception as exc:  # a missing file, or protobuf's error for what is not a model
        raise ImportRefused(f"{onnx_path}: not an ONNX model ({exc})") from exc
    initializers = {init.name for init in graph.graph.initializer}
    named_inputs = graph_tensors(value for value in graph.graph.input if value.name not in initializers)
    inputs = [spec for spec, _ in named_inputs]
    outputs = tensor_specs(graph.graph.output)
    parity: dict[str, float] = {}
    if torchscript is not None:
        difference = torchscript_difference(onnx_path, torchscript, named_inputs, outputs)
        if difference > PARITY_TOLERANCE:
            raise ImportRefused(f"TorchScript and ONNX disagree by {difference:.3g} on random inputs (the limit is "
                                f"{PARITY_TOLERANCE:g}): they are not the same model")
        parity["torchscript_vs_onnxruntime"] = difference
    folder.mkdir(parents=True)
    try:
        onnx.save_model(graph, str(folder / "model.onnx"))  # one file: the weights inside, whatever the export did
        artifacts: dict[str, Any] = {"onnx": {"file": "model.onnx", "sha256": sha256_of(folder / "model.onnx")}}
        if torchscript is not None:
            shutil.copyfile(torchscript, folder / "model.ts")
            artifacts["torchscript"] = {"file": "model.ts", "sha256": sha256_of(folder / "model.ts")}
        manifest = {
            "name": name, "version": version, "task": "tensor",
            "description": description or f"imported from {onnx_path.name}",
            "artifacts": {"model": {**artifacts, "inputs": inputs, "outputs": outputs,
                                    **({"parity_max_abs_diff": parity} if parity else {})}},
            "inputs": inputs, "outputs": outputs,
            **({"state": state_pairs(state, inputs)} if state else {}),
            "training": {"command": command_line(), "source": onnx_path.name},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        load_model(folder, Settings(model_dir=repository, device="cpu", backend="onnx", warmup=False))
    except (ManifestError, ImportRefused, OSError) as exc:
        shutil.rmtree(folder)
        if not any(folder.parent.iterdir()):  # the model's folder, made for this version only
            folder.parent.rmdir()
        raise ImportRefused(str(exc)) from exc
    return folder


def example_request(name: str, inputs: list[dict[str, Any]], stateful: set[str]) -> str:
    def zeros(shape: list[int]) -> Any:
        return [zeros(shape[1:]) for _ in range(max(shape[0], 1))] if shape else 0

    if stateful:
        body = {"inputs": {s["name"]: zeros(s["shape"][1:]) for s in inputs if s["name"] not in stateful},
                "state": None}
        return (f"curl -s localhost:8000/models/{name}/stream -H 'Content-Type: application/json' "
                f"-d '{json.dumps(body)}'")
    tensors = [{"name": s["name"], "datatype": s["datatype"], "shape": [max(d, 1) for d in s["shape"]],
                "data": np.zeros([max(d, 1) for d in s["shape"]]).ravel().tolist()} for s in inputs]
    return (f"curl -s localhost:8000/v2/models/{name}/infer -H 'Content-Type: application/json' "
            f"-d '{json.dumps({'inputs': tensors})}'")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m training import", description=__doc__.splitlines()[0])
    parser.add_argument("onnx", type=Path, help="the ONNX graph")
    parser.add_argument("--name", required=True, help="the model's name in the repository")
    parser.add_argument("--version", type=int, required=True)
    parser.add_argument("--repository", type=Path, required=True, help="the model repository (e.g. models/)")
    parser.add_argument("--torchscript", type=Path, help="its TorchScript twin, checked against the ONNX graph")
    parser.add_argument("--state", action="append", default=[], metavar="IN=OUT[@AXIS]",
                        help="a state pair: graph input IN takes the previous step's output OUT (repeat per pair)")
    parser.add_argument("--description", default="")
    args = parser.parse_args(argv)
    try:
        folder = import_model(args.onnx, args.name, args.version, args.repository, args.torchscript, args.state,
                              args.description)
    except ImportRefused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 2
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"wrote {folder}:")
    for path in sorted(folder.iterdir()):
        print(f"  {path.name} ({path.stat().st_size:,} bytes)")
    for kind in ("inputs", "outputs"):
        print(f"  {kind}: " + ", ".join(f"{s['name']} {s['datatype']} {s['shape']}" for s in manifest[kind]))
    for pair in manifest.get("state", []):
        print(f"  state: {pair['input']} <- {pair['output']} (batch axis {pair.get('batch_axis', 0)})")
    stateful = {pair["input"] for pair in manifest.get("state", [])}
    print("serve it (SEQSERVE_MODEL_DIR=" + str(args.repository) + ") and call it:")
    print("  " + example_request(args.name, manifest["inputs"], stateful))
    return 0
