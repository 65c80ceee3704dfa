"""What checking a dates answer against its text costs, in process, and how many right answers it cuts:
`stated` (the month named, the day read from a number or words of its own) over the right answers of
generated texts and of both hand-written sets.

    python benchmarks/stated_check.py [--texts 5000] [--seed 7]

First pass: every word new to the month check's typo cache; second pass: the same texts again, the cache warm.
A right answer cut is a month or a day the checks would take from an answer that had it right.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.processing.months import MonthNames
from app.processing.stated import stated
from app.processing.text import source_text
from training.data.dates import HANDWRITTEN_UNSEEN, Pair, generate_pairs, month_names, read_handwritten


def cuts(label: str, pairs: list[Pair], months: MonthNames) -> None:
    answers = [(iso, stated(source_text(text, True), iso, months)) for text, _, iso in pairs if len(iso) >= 7]
    month = [iso for iso, kept in answers if len(kept) == 4]
    day = [iso for iso, kept in answers if len(kept) == 7 and len(iso) == 10]
    full = sum(len(iso) == 10 for iso, _ in answers)
    print(f"{label}: right answers cut: {len(month)} months of {len(answers)} answers with a month, "
          f"{len(day)} days of {full} with a day")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    months = MonthNames.from_manifest(month_names())
    pairs = generate_pairs(args.texts, args.seed)
    answers = [(source_text(text, True), iso) for text, _, iso in pairs if len(iso) >= 7]
    full = sum(len(iso) == 10 for _, iso in answers)
    for label in ("first pass", "second pass"):
        started = time.perf_counter()
        for text, iso in answers:
            stated(text, iso, months)
        print(f"{label}: {(time.perf_counter() - started) / len(answers) * 1e6:.1f} us an answer, "
              f"over {len(answers)} answers with a month ({full} with a day)")
    cuts(f"{args.texts} generated texts, seed {args.seed}", pairs, months)
    cuts("hand-written", read_handwritten(), months)
    cuts("second hand-written set", read_handwritten(HANDWRITTEN_UNSEEN), months)


if __name__ == "__main__":
    main()
