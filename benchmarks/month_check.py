"""What the month check costs a dates answer, in process: `MonthNames.keep` over generated texts' answers.

    python benchmarks/month_check.py [--texts 5000] [--seed 7]

First pass: every word new to the typo cache; second pass: the same texts again, the cache warm.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.processing.months import MonthNames
from app.processing.text import source_text
from training.data.dates import generate_pairs, month_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    months = MonthNames.from_manifest(month_names())
    pairs = generate_pairs(args.texts, args.seed)
    answers = [(source_text(text, True), iso) for text, _, iso in pairs if len(iso) >= 7]
    for label in ("first pass", "second pass"):
        started = time.perf_counter()
        for text, iso in answers:
            months.keep(text, iso)
        print(f"{label}: {(time.perf_counter() - started) / len(answers) * 1e6:.1f} us an answer, "
              f"over {len(answers)} answers with a month")


if __name__ == "__main__":
    main()
