"""Check every committed model on the GPU: CUDA really active, same answers as CPU, throughput.

    python scripts/gpu_check.py [--models-dir models] [--seconds 2]

Exit status 0: every model ran on CUDAExecutionProvider, logits and forecasts within 1e-4 of CPU,
greedy translations identical. 2: CUDA is not usable here (the message says why). 1: a mismatch.
`--device cpu` runs the same comparison CPU-against-CPU, to check this script itself anywhere.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import onnxruntime as ort  # noqa: E402

from app.repository.loader import load_model  # noqa: E402
from app.runtime.base import BackendError  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tasks import TaskModel  # noqa: E402
from app.tensors import Tensor  # noqa: E402

TOLERANCE = 1e-4
TEXTS = ["3 March 1998", "Tuesday, 3 mars 1998", "03/03/98", "1er mai 2001", "December 25th, 2021", "14. Juli 1989"]


def inputs(model: TaskModel, batch: int) -> object:  # type: ignore[type-arg]
    """A typed body of `batch` items, parsed by the task itself; tasks without one use their warm-up payloads."""
    rng = np.random.default_rng(batch)
    bodies = {
        "digit": {"images": rng.random((batch, 28, 28)).tolist()},
        "sine": {"series": [np.sin(0.13 * np.arange(128) + k).tolist() for k in range(batch)], "horizon": 64},
        "translate": {"texts": (TEXTS * (batch // len(TEXTS) + 1))[:batch] if model.manifest.name == "dates"
                      else ["king"] * batch},
    }
    body = bodies.get(model.task)
    return model.parse_json(body) if body is not None else model.warmup_payloads([batch])[0]


def compare(reference: list[Tensor], candidate: list[Tensor]) -> tuple[float, list[str], list[str]]:
    """Largest difference over float outputs, and the other outputs (tokens, classes) that are identical
    and that differ: those must be identical."""
    largest, same, different = 0.0, [], []
    for a, b in zip(reference, candidate, strict=True):
        if isinstance(a.data, np.ndarray) and a.data.dtype.kind == "f":
            largest = max(largest, float(np.abs(a.data - np.asarray(b.data)).max()))
        else:
            (same if np.array_equal(np.asarray(a.data), np.asarray(b.data)) else different).append(a.name)
    return largest, same, different


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, available providers {ort.get_available_providers()}, "
          f"python {platform.python_version()}")
    failures = 0
    for manifest_path in sorted(args.models_dir.glob("*/*/manifest.json")):
        folder = manifest_path.parent
        cpu = load_model(folder, Settings(model_dir=args.models_dir, device="cpu"))
        try:
            gpu = load_model(folder, Settings(model_dir=args.models_dir, device=args.device))
        except BackendError as exc:
            print(f"CUDA not usable: {exc}")
            return 2
        print(f"{cpu.manifest.name}/{cpu.manifest.version}: provider {gpu.backend.provider}")
        for batch in (1, 64):
            work = inputs(cpu, batch)
            difference, same, different = compare(cpu.answer_tensors(cpu.run_batch([work])[0]),
                                                  gpu.answer_tensors(gpu.run_batch([work])[0]))
            bad = bool(different) or difference > TOLERANCE
            failures += bad
            times = []
            deadline = time.perf_counter() + args.seconds
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                gpu.run_batch([work])
                times.append(time.perf_counter() - started)
            median = float(np.median(times))
            shown = f"{difference:.2e}" + "".join(f", identical {n}" for n in same) + "".join(
                f", DIFFERENT {n}" for n in different)
            print(f"  batch {batch:>2}: vs CPU {shown}{'  <-- FAIL' if bad else ''}; "
                  f"{batch / median:,.0f} items/s ({1000 * median:.2f} ms a batch)")
    print("OK" if not failures else f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
