"""Whether a text names the month a dates model wrote: a number that can be that month, one of its names in
a language the model reads (also with a typo a reader still reads as that month), or its Roman numeral.

A month the text does not name is the model's own (`Copyright 2019 Acme Inc.` read as August 2019, with
high confidence, so no threshold catches it); the translator then answers the year alone. The names come
from the model's manifest (`month_names`), written beside the vocabularies by training.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

DIGIT_RUNS = re.compile(r"\d+")
WORDS = re.compile(r"[a-z]+")


def folded(text: str) -> str:
    """Lower case, accents dropped: `Août` and `aout` are one word."""
    if text.isascii():  # most texts, and folding them is lowering them
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def typo_distance(a: str, b: str, swaps: bool = True) -> int:
    """Edits (insert, delete, replace) and swaps of two neighbouring letters that turn `a` into `b`
    (optimal string alignment): `aout` and `auot` are one swap apart. Without `swaps`, Levenshtein's."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if swaps and i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def number_can_be(run: str, month: int) -> bool:
    """A run of digits that can hold `month`: the number itself, or its two digits inside a longer run
    (`20190805`); a four-digit year 1900-2099 holds no month."""
    if len(run) <= 2:
        return int(run) == month
    if len(run) == 4 and run[:2] in ("19", "20"):
        return False
    return f"{month:02d}" in run or (len(run) <= 4 and str(month) in run)


class MonthNames:
    def __init__(self, names: dict[int, list[str]]) -> None:
        self.names = {month: frozenset(folded(name).rstrip(".") for name in group) for month, group in names.items()}
        # Each model its own cache, gone with it: a class-wide one would keep an unloaded model's table alive.
        self._nearest = lru_cache(maxsize=4096)(self._nearest_month)

    @classmethod
    def from_manifest(cls, table: dict[str, list[str]]) -> MonthNames:
        return cls({int(month): names for month, names in table.items()})

    def named(self, text: str, month: int) -> bool:
        """Whether `text` names `month` (1-12); a month outside 1-12 is the calendar check's to refuse."""
        if month not in self.names:
            return True
        clean = folded(text)
        return any(number_can_be(run, month) for run in DIGIT_RUNS.findall(clean)) or \
            self.named_in_words(clean, month)

    def named_in_words(self, clean: str, month: int) -> bool:
        """Whether `clean` (a `folded` text) names `month` (1-12) in words or a Roman numeral."""
        words = WORDS.findall(clean)
        names = self.names[month]
        # The name itself first, a set look-up; typos last, and only where no word is a name: they cost the most.
        return not names.isdisjoint(words) or any(self._spelt(word, month) for word in words) or \
            any(month in self._nearest(word) for word in words)

    def _spelt(self, word: str, month: int) -> bool:
        """An abbreviation of a name, or a name glued to letters (`01jun05`); the name itself is looked up first."""
        return any((len(word) >= 3 and name.startswith(word)) or
                   (len(name) >= 3 and (word.startswith(name) or (len(word) <= 5 and name[:3] in word)))
                   for name in self.names[month])

    def _nearest_month(self, word: str) -> frozenset[int]:
        """The month a misspelt word still reads as: strictly nearer to one of its names than to any other
        month's, by a typo or two (one for words of three letters or fewer); none otherwise."""
        if len(word) < 2:
            return frozenset()
        distance = {month: min(typo_distance(word, name) for name in names) for month, names in self.names.items()}
        best = min(distance.values())
        winners = [month for month, d in distance.items() if d == best]
        if len(winners) != 1 or best > (1 if len(word) <= 3 else 2):
            return frozenset()
        return frozenset(winners)
