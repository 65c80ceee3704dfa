"""Where the stream forecaster stands against the window model, by how much of a stream it has read.

    python benchmarks/stream_accuracy.py [--stream models/sine_stream/1] [--window models/sine/1]
                                         [--series 400] [--seed 12345]

Held-out noisy sinusoids from the training generator, fed to the served `sine_stream` one value per call
(its state carried, all streams batched as the service batches them); after 32, 48, ... 256 values, the
horizon-16 RMSE against the observed future of the stream model, of the `sine` window model given the
same values, and of a least-squares sinusoid fit; and the error at the first and the 16th step ahead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.tasks import sine  # noqa: E402
from training import baselines  # noqa: E402
from training.data.series import sine_batch  # noqa: E402
from training.train import fed_one_value_a_call, rmse, served  # noqa: E402

CHECKS = (32, 48, 64, 80, 96, 128, 192, 256)
HORIZON = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", type=Path, default=ROOT / "models" / "sine_stream" / "1")
    parser.add_argument("--window", type=Path, default=ROOT / "models" / "sine" / "1")
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()

    stream, window = served(args.stream), served(args.window)
    observed, _, _ = sine_batch(np.random.default_rng(args.seed), args.series, max(CHECKS) + HORIZON)
    print(f"{args.series} series (seed {args.seed}); horizon-{HORIZON} RMSE against the observed future\n")
    print(f"{'values read':>11} {'stream':>8} {'window':>8} {'fit':>8} {'stream/window':>14} "
          f"{'h1 stream':>10} {'h1 window':>10} {'h16 stream':>11} {'h16 window':>11}")
    for read, results in enumerate(fed_one_value_a_call(stream, observed[:, : max(CHECKS)], HORIZON), start=1):
        if read not in CHECKS:
            continue
        future = observed[:, read : read + HORIZON]
        by_stream = np.stack([r.outputs["forecast"][0, :HORIZON] for r in results])
        by_window = np.stack(window.run_batch([sine.SineRequest(list(observed[:, :read]), HORIZON)])[0])
        by_fit = baselines.sinusoid_fit(observed[:, :read], HORIZON)
        step_s = np.sqrt(((by_stream - future) ** 2).mean(axis=0))
        step_w = np.sqrt(((by_window - future) ** 2).mean(axis=0))
        s, w = rmse(by_stream, future), rmse(by_window, future)
        print(f"{read:>11} {s:>8.4f} {w:>8.4f} {rmse(by_fit, future):>8.4f} {s / w:>14.3f} "
              f"{step_s[0]:>10.4f} {step_w[0]:>10.4f} {step_s[-1]:>11.4f} {step_w[-1]:>11.4f}", flush=True)


if __name__ == "__main__":
    main()
