"""Two checkouts side by side on one machine, in one run: each point measured in alternating order.

    python benchmarks/compare.py BEFORE_DIR AFTER_DIR [--endpoints digit,sine,translate] [--modes on,off]
        [--connections 1 8 64] [--duration 5] [--rounds 3] [--server-cpus 1 --client-cpus 0]

A machine of this kind drifts by 20-30% between runs a few minutes apart, so two separate benchmark
runs cannot show a 5% difference. Here every server (each checkout, batching on and off) is started
first and stays up; then for each point the two checkouts are measured back to back, A B in odd
rounds and B A in even ones, and the medians over the rounds are compared, with each round's ratio and their
median. On two cores wrk and the servers take CPU from each other; `--server-cpus` and `--client-cpus`
give each its own. The same checkout given twice (A/A) shows how far two identical servers differ. Needs wrk (apt).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from load import bodies, free_port, start, wrk  # noqa: E402
from probe import probe  # noqa: E402


def start_checkout(checkout: Path, mode: str, cpus: str | None) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = start(checkout / "models", port, {} if mode == "on" else {"SEQSERVE_MAX_BATCH_SIZE": "1"}, checkout,
                    cpus)
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--endpoints", default="digit,sine,translate")
    parser.add_argument("--modes", default="on,off")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-cpus", default=None, help="taskset CPU list for every server, e.g. 1")
    parser.add_argument("--client-cpus", default=None, help="taskset CPU list for wrk, e.g. 0")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers it started, also when stopped
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    print(probe(0.5), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        targets = bodies(Path(tmp), None)
        modes = args.modes.split(",")
        servers = {(side, mode): start_checkout(path, mode, args.server_cpus) for side, path in sides.items()
                   for mode in modes}
        try:
            print("endpoint,batching,connections,rps_before,rps_after,rps_ratio,p50_before,p50_after,"
                  "p99_before,p99_after,round_rps_ratios,median_round_ratio", flush=True)
            for name in args.endpoints.split(","):
                path, body = targets[name]
                for mode in args.modes.split(","):
                    urls = {side: f"http://127.0.0.1:{servers[side, mode][1]}{path}" for side in sides}
                    for url in urls.values():
                        wrk(url, body, 8, 2, cpus=args.client_cpus)  # warm-up
                    for c in args.connections:
                        runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
                        for round_ in range(args.rounds):
                            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                            for side in order:
                                runs[side].append(wrk(urls[side], body, c, args.duration, cpus=args.client_cpus))
                        med = {side: {k: statistics.median(r[k] for r in runs[side]) for k in ("rps", "p50", "p99")}
                               for side in sides}
                        errors = sum(r["errors"] for side in sides for r in runs[side])
                        b, a = med["before"], med["after"]
                        # Each round's ratio too: the medians alone hide how far one round swings from the next.
                        round_ratios = [ra["rps"] / rb["rps"] for rb, ra in zip(runs["before"], runs["after"],
                                                                                  strict=True)]
                        ratios = ";".join(f"{r:.2f}" for r in round_ratios)
                        print(f"{name},{mode},{c},{b['rps']:.0f},{a['rps']:.0f},{a['rps'] / b['rps']:.3f},"
                              f"{b['p50']:.3f},{a['p50']:.3f},{b['p99']:.2f},{a['p99']:.2f},{ratios},"
                              f"{statistics.median(round_ratios):.3f}"
                              + (f",ERRORS={errors:.0f}" if errors else ""), flush=True)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
