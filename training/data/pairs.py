"""Word pairs: the classic seed pairs, or any user TSV of source<TAB>target lines."""

from __future__ import annotations

from pathlib import Path

SEED_PAIRS = [
    ("man", "women"),
    ("black", "white"),
    ("king", "queen"),
    ("girl", "boy"),
    ("up", "down"),
    ("high", "low"),
    ("hello", "ohlol"),
]


def read_tsv(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise ValueError(f"{path}:{number}: expected 'source<TAB>target', got {line!r}")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise ValueError(f"{path}: no pairs")
    return pairs
