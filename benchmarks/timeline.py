"""Which machine each point of a peer-kit run met: its results lined up with `probe.py --watch` samples.

    python benchmarks/timeline.py RESULTS_CSV RAW_DIR TIMELINE_CSV

The kit writes each point's wrk output to RAW_DIR/<peer>_c<connections>.txt when the point ends, and
wrk's first line says how long it ran, so a point covers [modified - duration, modified]. For every row
of the results this prints the samples taken in that window: the median of `work_us` and how it compares
with the whole run's median (1.30x: the interpreter ran 30% slower during this point), and the largest
steal share. The work runs faster while a benchmark keeps the cores busy than after they idled (see
probe.py), so set a point's ratio beside those of other points at the same connection count.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
from pathlib import Path


def samples(timeline: Path) -> list[tuple[float, float, float | None]]:
    rows = []
    with timeline.open() as lines:
        for row in csv.DictReader(lines):
            steal = float(row["steal_pct"]) if row["steal_pct"] else None
            rows.append((float(row["time"]), float(row["work_us"]), steal))
    return rows


def window(raw: Path) -> tuple[float, float] | None:
    """(start, end) unix times of the measured wrk run in `raw`, or None without one."""
    if not raw.is_file():
        return None
    match = re.search(r"Running (\d+(?:\.\d+)?)([smh]) test", raw.read_text(errors="replace"))
    if match is None:
        return None
    seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]
    end = raw.stat().st_mtime
    return end - seconds, end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("timeline", type=Path)
    args = parser.parse_args()
    taken = samples(args.timeline)
    if not taken:
        print("no machine samples in", args.timeline)
        return
    overall = statistics.median(work for _, work, _ in taken)
    print(f"machine during each point (`probe.py --watch`; interpreter work, run median {overall:.0f} us)")
    print(f"{'point':24s} {'c':>3s} {'req/s':>8s} {'p50 ms':>8s} {'work us':>8s} {'vs run':>7s} {'steal %':>8s}")
    with args.results.open() as lines:
        for row in csv.DictReader(lines):
            if not row.get("concurrency"):
                continue
            span = window(args.raw_dir / f"{row['peer']}_c{row['concurrency']}.txt")
            inside = [(work, steal) for at, work, steal in taken if span and span[0] <= at <= span[1]]
            median = statistics.median(w for w, _ in inside) if inside else None
            work = f"{median:.0f}" if median is not None else "-"
            ratio = f"{median / overall:.2f}x" if median is not None else "-"
            steals = [s for _, s in inside if s is not None]
            steal = f"{max(steals):.1f}" if steals else "-"
            print(f"{row['peer']:24s} {row['concurrency']:>3s} {row['rps']:>8s} {row['p50_ms']:>8s} "
                  f"{work:>8s} {ratio:>7s} {steal:>8s}")


if __name__ == "__main__":
    main()
