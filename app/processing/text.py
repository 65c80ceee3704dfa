"""Character vocabulary and encoding for the translators."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<sos>", "<eos>")


def normalise_text(text: str, lowercase: bool) -> str:
    """NFC-normalise (so 'é' is one character however it was typed), collapse whitespace, maybe lowercase."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text.lower() if lowercase else text


@dataclass(frozen=True)
class CharVocab:
    """Index 0..2 are <pad>, <sos>, <eos>; every other index is one character."""

    chars: tuple[str, ...]

    @classmethod
    def build(cls, texts: Iterable[str]) -> CharVocab:
        return cls(tuple(sorted({c for text in texts for c in text})))

    @property
    def size(self) -> int:
        return len(SPECIALS) + len(self.chars)

    @property
    def index(self) -> dict[str, int]:
        return {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}

    def unknown(self, text: str) -> list[str]:
        """The characters of `text` that are not in the vocabulary, in order of first appearance."""
        known = self.index
        return list(dict.fromkeys(c for c in text if c not in known))

    def encode(self, text: str, add_eos: bool = False) -> list[int]:
        known = self.index
        ids = [known[c] for c in text]
        return [*ids, EOS] if add_eos else ids

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.chars[i - len(SPECIALS)])
        return "".join(out)

    def to_json(self) -> list[str]:
        return list(self.chars)


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences with PAD to the longest; returns (ids int64 [B, T], lengths int64 [B])."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    width = int(lengths.max())
    ids = np.full((len(sequences), width), PAD, dtype=np.int64)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = seq
    return ids, lengths
