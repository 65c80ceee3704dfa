"""Dates models side by side on the same held-out generated texts: those a training seed holds out.

    python benchmarks/dates_models.py [LABEL=]MODEL_DIR [...] [--seed 2] [--out FILE]

Each model's own manifest counts its own held-out texts, which differ by seed and by generator; this reads
every model on one set, rebuilt as training rebuilds it (`translator_data` with the full profile and the
seed), and splits the misses into answers withheld (no date, below the threshold, or a day judged not to
exist) and wrong dates given, by kind of text. A model of an earlier commit: `git worktree add` it beside.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from dates import emit  # noqa: E402

from training.train import PROFILES, answer, indices_by_kind, right, served, translator_data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders, each maybe named: before=../old/models/dates/1")
    parser.add_argument("--seed", type=int, default=2, help="the training seed whose held-out texts to read")
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    texts = translator_data(PROFILES["full"]["dates"], args.seed, None).test_pairs
    kinds = indices_by_kind([target for _, _, target in texts])
    lines = [f"{len(texts)} held-out generated texts of training seed {args.seed}: "
             + ", ".join(f"{len(members)} {kind}" for kind, members in kinds.items()), "",
             f"{'model':40} {'right':>7} {'impossible answered':>20} {'partial exact':>14} {'withheld':>9} "
             f"{'wrong dates':>12}"]
    for named in args.models:
        label, _, folder = named.rpartition("=")
        results = answer(served(Path(folder)), texts)
        correct = [right(result, target) for result, (_, _, target) in zip(results, texts, strict=True)]
        withheld = sum(not ok and result.text is None for ok, result in zip(correct, results, strict=True))
        wrong = sum(not ok and result.text is not None for ok, result in zip(correct, results, strict=True))
        impossible = sum(results[k].text is not None for k in kinds["impossible"])
        partial = sum(correct[k] for k in kinds["partial"]) / max(1, len(kinds["partial"]))
        lines.append(f"{(label or folder)[-40:]:40} {sum(correct) / len(texts):>7.2%} "
                     f"{impossible:>10} of {len(kinds['impossible']):<6} {partial:>14.1%} {withheld:>9} {wrong:>12}")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
