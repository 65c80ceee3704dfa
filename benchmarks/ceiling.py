"""In-process throughput with no HTTP: each committed model's task code on onnxruntime, batch 1, 8 and 64.

    python benchmarks/ceiling.py [--threads 1] [--seconds 3]

This is the ceiling an HTTP server on the same cores can approach; requests/s above it are impossible.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.repository.loader import load_model  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tasks import TaskModel  # noqa: E402

BODIES = {  # one item each, as the load benchmark sends them
    "digit": lambda: {"images": np.random.default_rng(0).random((1, 28, 28)).tolist()},
    "sine": lambda: {"series": [np.sin(0.13 * np.arange(128)).tolist()], "horizon": 16},
    "dates": lambda: {"texts": ["Tuesday, 3 March 1998"]},
}


def payload(name: str, model: TaskModel, batch: int) -> object:  # type: ignore[type-arg]
    body = BODIES[name]()
    return model.parse_json({key: value * batch if isinstance(value, list) else value for key, value in body.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    settings = Settings(model_dir=ROOT / "models", device="cpu", intra_op_threads=args.threads)
    print("model,batch,threads,items_per_s,ms_per_batch_p50")
    for name in ("digit", "sine", "dates"):
        model = load_model(ROOT / "models" / name / "1", settings)
        for batch in (1, 8, 64):
            work = payload(name, model, batch)
            model.run_batch([work])
            times = []
            deadline = time.perf_counter() + args.seconds
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                model.run_batch([work])
                times.append(time.perf_counter() - started)
            median = float(np.median(times))
            print(f"{name},{batch},{args.threads},{batch / median:.0f},{1000 * median:.3f}", flush=True)


if __name__ == "__main__":
    main()
