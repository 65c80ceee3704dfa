"""Character vocabulary and encoding for the translators."""

from __future__ import annotations

import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<sos>", "<eos>")


# Punctuation people type (or word processors insert) that means the same as the plain ASCII mark.
PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00b7": ".", "\u2022": " ", "\u201a": ",", "\u3002": ".", "\u3001": ",",
})

# The caller's reading of an ambiguous numeric date, given to a dates model as one marker character
# before the text. Control characters never survive `normalise_text`, so a text cannot forge one.
DATE_ORDERS = ("DMY", "MDY", "YMD")
ORDER_MARKERS = {"DMY": "\x01", "MDY": "\x02", "YMD": "\x03"}


def normalise_text(text: str, lowercase: bool, known: Container[str] | None = None) -> str:
    """The one pre-processing of translator sources, shared by training and serving.

    NFKC (full-width digits and letters, non-breaking and other spaces, ligatures become plain ones),
    typographic quotes and dashes to ASCII, control and other invisible characters to spaces, maybe
    lowercase. With `known` (the model's vocabulary), a character outside it becomes its base letter
    when that is known ('ô' -> 'o', 'ñ' -> 'n' for a model that never saw them) and a space otherwise,
    so printable text is never refused. Whitespace is collapsed last, or dropped for a model that has
    never read a space (the words model: "kin g" reads as "king").
    """
    text = unicodedata.normalize("NFKC", text).translate(PUNCTUATION)
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    if lowercase:
        text = text.lower()
    if known is not None:
        text = "".join(c if c in known else _base_letter(c, known) for c in text)
        if " " not in known:
            return "".join(text.split())
    return " ".join(text.split())


def source_text(text: str, lowercase: bool, date_order: str | None = None,
                known: Container[str] | None = None) -> str:
    """What a translator reads: the normalised text, after the date-order marker for a dates model;
    "" when nothing of the text is left."""
    clean = normalise_text(text, lowercase, known)
    return (ORDER_MARKERS[date_order] if date_order else "") + clean if clean else ""


def _base_letter(char: str, known: Container[str]) -> str:
    base = unicodedata.normalize("NFKD", char)[:1]
    return base if base and base in known else " "


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
