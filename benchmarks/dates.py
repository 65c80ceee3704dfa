"""The dates model against dateparser on the hand-written yardstick (training/data/dates_handwritten.tsv).

    python benchmarks/dates.py [--model models/dates/1] [--out docs/results/dates-handwritten.txt]

Both get each text with its writer's date order (dateparser's DATE_ORDER setting). dateparser gets its
best shot: `parse` requiring day, month and year, then `search_dates` for a date inside longer text.
Counted: exact matches on the texts that hold a date; on the texts that hold none, how often each
gives no date; invalid dates and refused texts. dateparser is a benchmark dependency only
(`pip install -e '.[bench]'`): the service never imports it.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.errors import InputError  # noqa: E402
from training.data.dates import is_iso_date, read_handwritten  # noqa: E402
from training.train import answer, served  # noqa: E402


def dateparser_answer(text: str, order: str) -> str:
    import dateparser
    from dateparser.search import search_dates

    settings = {"DATE_ORDER": order, "REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = dateparser.parse(text, settings=settings)  # type: ignore[arg-type]
        if found is None:
            hits = search_dates(text, settings=settings)  # type: ignore[arg-type]
            found = hits[0][1] if hits else None
    return found.date().isoformat() if found else ""


def ours(model_dir: Path, rows: list[tuple[str, str, str]]) -> tuple[list[str], int]:
    model = served(model_dir)
    refused = 0
    results = []
    for row in rows:
        try:
            result = answer(model, [row])[0]  # type: ignore[arg-type]
            results.append(result.text or "")
        except InputError:
            refused += 1
            results.append("")
    return results, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "dates" / "1")
    parser.add_argument("--out", type=Path, default=None, help="also write the table and every miss here")
    args = parser.parse_args()

    rows = read_handwritten()
    started = time.perf_counter()
    mine, refused = ours(args.model, rows)
    mine_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = [dateparser_answer(text, order) for text, order, _ in rows]
    theirs_s = time.perf_counter() - started

    dated = [k for k, row in enumerate(rows) if row[2]]
    undated = [k for k, row in enumerate(rows) if not row[2]]
    lines = [f"hand-written set: {len(dated)} texts with a date, {len(undated)} without "
             f"(training/data/dates_handwritten.tsv)", "",
             f"{'':12} {'exact on dates':>16} {'no date given':>14} {'invalid':>8} {'refused':>8} {'seconds':>8}"]
    for name, answers, refusals, seconds in (("seqserve", mine, refused, mine_s), ("dateparser", theirs, 0, theirs_s)):
        exact = sum(answers[k] == rows[k][2] for k in dated) / len(dated)
        abstained = sum(answers[k] == "" for k in undated) / len(undated)
        invalid = sum(bool(a) and not is_iso_date(a) for a in answers)
        lines.append(f"{name:12} {exact:>16.1%} {abstained:>14.1%} {invalid:>8} {refusals:>8} {seconds:>8.1f}")
    lines += ["", "misses (text | order | expected | seqserve | dateparser):"]
    lines += [f"  {text} | {order} | {iso or '-'} | {mine[k] or '-'} | {theirs[k] or '-'}"
              for k, (text, order, iso) in enumerate(rows) if mine[k] != iso or theirs[k] != iso]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
