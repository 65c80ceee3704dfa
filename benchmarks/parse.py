"""What a task's request checks cost, without HTTP: `parse_json` of one typical body per task, in a loop.

    python benchmarks/parse.py [--checkout DIR]

Run it in two checkouts to compare them (it loads the checkout's own `app` and models).
"""

from __future__ import annotations

import argparse
import math
import sys
import timeit
from pathlib import Path

import numpy as np
import orjson

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
args = parser.parse_args()
sys.path.insert(0, str(args.checkout.resolve()))

from app.repository.loader import load_model  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.tasks.digit import DIGIT_EXAMPLE  # noqa: E402

models = args.checkout / "models"
settings = Settings(model_dir=models, device="cpu")
loaded = {name: load_model(models / name / "1", settings) for name in ("digit", "sine", "dates")}
series = [round(2.0 * math.sin(0.15 * t) + 1.0, 3) for t in range(64)]
bodies = {
    "digit (JSON lists)": ("digit", orjson.loads(orjson.dumps({"images": [DIGIT_EXAMPLE]}))),
    "digit (read by simdjson)": ("digit", {"images": np.asarray([DIGIT_EXAMPLE], dtype=np.float64)}),
    "sine": ("sine", {"series": [series], "horizon": 16}),
    "dates": ("dates", {"texts": ["3 March 1998"]}),
}
for label, (name, body) in bodies.items():
    seconds = min(timeit.repeat(lambda: loaded[name].parse_json(body), number=2000, repeat=5)) / 2000  # noqa: B023
    print(f"{label}: {seconds * 1e6:.1f} us")
