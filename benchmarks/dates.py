"""The dates model against dateparser on a hand-written yardstick (training/data/dates_handwritten.tsv, or
with --set the second one, dates_handwritten_unseen.tsv, never used to change the generator).

    python benchmarks/dates.py [--model models/dates/1] [--set FILE] [--out docs/results/dates-handwritten.txt]

Both get each text with its writer's date order (dateparser's DATE_ORDER setting). dateparser gets its
best shot: `parse` requiring day, month and year, then `search_dates` for a date inside longer text, then,
for a text that gives less, its own reading's period (`get_date_data`: a month or a year) at that precision.
Counted apart: exact matches on the texts with a full date and on those with a month or a year only; texts
naming a day that does not exist answered with a date (no answer is right); texts with no date given none;
answers that are not real dates, and refused texts. dateparser is a benchmark dependency only
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
from app.processing.grammar import calendar_problem  # noqa: E402
from training.data.dates import HANDWRITTEN, is_answer, read_handwritten  # noqa: E402
from training.train import answer, indices_by_kind, label_kind, served  # noqa: E402

PERIODS = {"month": 7, "year": 4}  # dateparser's period -> the ISO text's length


def dateparser_answer(text: str, order: str) -> str:
    import dateparser
    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    settings = {"DATE_ORDER": order, "REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = dateparser.parse(text, settings=settings)  # type: ignore[arg-type]
        if found is None:
            hits = search_dates(text, settings=settings)  # type: ignore[arg-type]
            found = hits[0][1] if hits else None
        if found is not None:
            return found.date().isoformat()
        data = DateDataParser(settings={"DATE_ORDER": order, "PREFER_DATES_FROM": "past"}).get_date_data(text)
    if data.date_obj is not None and data.period in PERIODS:
        return data.date_obj.date().isoformat()[: PERIODS[data.period]]
    return ""


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
    parser.add_argument("--set", type=Path, default=HANDWRITTEN, help="the hand-written file to read")
    parser.add_argument("--out", type=Path, default=None, help="also write the table and every miss here")
    args = parser.parse_args()

    rows = read_handwritten(args.set)
    started = time.perf_counter()
    mine, refused = ours(args.model, rows)
    mine_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = [dateparser_answer(text, order) for text, order, _ in rows]
    theirs_s = time.perf_counter() - started

    kinds = indices_by_kind([iso for _, _, iso in rows])
    lines = [f"hand-written set ({args.set.name}): {len(kinds['date'])} texts with a date, "
             f"{len(kinds['partial'])} with a month or a year only, {len(kinds['impossible'])} naming a day that "
             f"does not exist, {len(kinds['none'])} with no date", "",
             f"{'':12} {'exact on dates':>15} {'exact on partial':>17} {'impossible dated':>17} "
             f"{'no date given':>14} {'not real':>9} {'refused':>8} {'seconds':>8}"]
    for name, answers, refusals, seconds in (("seqserve", mine, refused, mine_s), ("dateparser", theirs, 0, theirs_s)):
        exact = sum(answers[k] == rows[k][2] for k in kinds["date"]) / len(kinds["date"])
        partial = sum(answers[k] == rows[k][2] for k in kinds["partial"]) / len(kinds["partial"])
        dated = sum(answers[k] != "" for k in kinds["impossible"])
        abstained = sum(answers[k] == "" for k in kinds["none"]) / len(kinds["none"])
        not_real = sum(bool(a) and (not is_answer(a) or calendar_problem(a) is not None) for a in answers)
        lines.append(f"{name:12} {exact:>15.1%} {partial:>17.1%} {dated:>11} of {len(kinds['impossible']):<2} "
                     f"{abstained:>14.1%} {not_real:>9} {refusals:>8} {seconds:>8.1f}")
    lines += ["", "misses (text | order | expected | seqserve | dateparser); for a day that does not exist, '-' "
              "(no answer) is right:"]
    expected = ["" if label_kind(iso) == "impossible" else iso for _, _, iso in rows]
    lines += [f"  {text} | {order} | {iso or '-'} | {mine[k] or '-'} | {theirs[k] or '-'}"
              for k, (text, order, iso) in enumerate(rows) if mine[k] != expected[k] or theirs[k] != expected[k]]
    emit(lines, args.out)


def emit(lines: list[str], out: Path | None) -> None:
    """Print the report, and write it to `out` when given."""
    report = "\n".join(lines)
    print(report)
    if out:
        out.write_text(report + "\n")


if __name__ == "__main__":
    main()
