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

from app.repository.manifest import read_manifest  # noqa: E402
from app.repository.registry import TASKS, build_backend  # noqa: E402
from app.runtime.base import BackendError  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tasks.sine import SineRequest  # noqa: E402
from app.tasks.translate import TranslateModel  # noqa: E402

TOLERANCE = 1e-4
TEXTS = ["3 March 1998", "Tuesday, 3 mars 1998", "03/03/98", "1er mai 2001", "December 25th, 2021", "14. Juli 1989"]


def inputs(task: str, model: object, batch: int) -> object:
    rng = np.random.default_rng(batch)
    if task == "digit":
        return rng.random((batch, 28, 28), dtype=np.float32)
    if task == "sine":
        return SineRequest([np.sin(0.13 * np.arange(128) + k) for k in range(batch)], 64)
    assert isinstance(model, TranslateModel)
    texts = (TEXTS * (batch // len(TEXTS) + 1))[:batch] if model.manifest.name == "dates" else ["king"] * batch
    return model.check(texts, 1, batch)


def compare(task: str, reference: object, candidate: object) -> float | str:
    if task == "digit":
        return float(np.abs(np.asarray(reference) - np.asarray(candidate)).max())
    if task == "sine":
        return float(max(np.abs(a - b).max() for a, b in zip(reference, candidate, strict=True)))  # type: ignore[call-overload]
    same = [a.text for a in reference] == [b.text for b in candidate]  # type: ignore[attr-defined]
    return "identical tokens" if same else "DIFFERENT tokens"


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
        manifest = read_manifest(folder)
        cpu = TASKS[manifest.task](manifest, build_backend(manifest, folder, Settings(model_dir=args.models_dir,
                                                                                   device="cpu")))
        try:
            gpu_backend = build_backend(manifest, folder, Settings(model_dir=args.models_dir, device=args.device))
        except BackendError as exc:
            print(f"CUDA not usable: {exc}")
            return 2
        gpu = TASKS[manifest.task](manifest, gpu_backend)
        label = f"{manifest.name}/{manifest.version}"
        print(f"{label}: provider {gpu_backend.provider}")
        for batch in (1, 64):
            work = inputs(manifest.task, cpu, batch)
            difference = compare(manifest.task, cpu.predict_batch([work])[0], gpu.predict_batch([work])[0])
            bad = difference == "DIFFERENT tokens" or (isinstance(difference, float) and difference > TOLERANCE)
            failures += bad
            times = []
            deadline = time.perf_counter() + args.seconds
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                gpu.predict_batch([work])
                times.append(time.perf_counter() - started)
            median = float(np.median(times))
            shown = f"{difference:.2e}" if isinstance(difference, float) else difference
            print(f"  batch {batch:>2}: vs CPU {shown}{'  <-- FAIL' if bad else ''}; "
                  f"{batch / median:,.0f} items/s ({1000 * median:.2f} ms a batch)")
    print("OK" if not failures else f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
