"""Human-readable dates in many formats and languages, paired with ISO 8601.

Numeric dates are read day first (3/4/98 is 3 April 1998) unless the year comes first; two-digit
years mean 1950-2049. Month and weekday names come from babel's CLDR data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache

import numpy as np
from babel.dates import get_day_names, get_month_names

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
FIRST, LAST = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
TWO_DIGIT_FIRST, TWO_DIGIT_LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)
MAX_SOURCE_LEN = 48


@cache
def _names(lang: str) -> tuple[list[str], list[str], list[str], list[str]]:
    months = get_month_names("wide", locale=lang)
    months_abbr = get_month_names("abbreviated", locale=lang)
    days = get_day_names("wide", locale=lang)
    days_abbr = get_day_names("abbreviated", locale=lang)
    return ([months[m] for m in range(1, 13)], [months_abbr[m] for m in range(1, 13)],
            [days[d] for d in range(7)], [days_abbr[d] for d in range(7)])


def _english_ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _day(lang: str, day: int, rng: np.random.Generator) -> str:
    if lang == "en" and rng.random() < 0.3:
        return _english_ordinal(day)
    if lang == "fr" and day == 1 and rng.random() < 0.5:
        return "1er"
    if rng.random() < 0.25:
        return f"{day:02d}"
    return str(day)


def _month(lang: str, date: dt.date, rng: np.random.Generator) -> str:
    months, months_abbr, _, _ = _names(lang)
    if rng.random() < 0.35:
        name = months_abbr[date.month - 1]
        return name.rstrip(".") if rng.random() < 0.5 else name
    return months[date.month - 1]


def _weekday(lang: str, date: dt.date, rng: np.random.Generator) -> str:
    _, _, days, days_abbr = _names(lang)
    return (days_abbr if rng.random() < 0.4 else days)[date.weekday()]


def _year(date: dt.date, two_digit: bool) -> str:
    return f"{date.year % 100:02d}" if two_digit else str(date.year)


def _worded(lang: str, date: dt.date, rng: np.random.Generator, short_year: bool) -> str:
    d, m, y = _day(lang, date.day, rng), _month(lang, date, rng), _year(date, short_year)
    comma = "," if rng.random() < 0.7 else ""
    if lang == "en":
        forms = [f"{d} {m} {y}", f"{m} {d}{comma} {y}", f"{d} of {m}{comma} {y}", f"{m} {d} {y}"]
    elif lang in ("es", "pt"):
        forms = [f"{d} de {m} de {y}", f"{d} {m} {y}", f"{d} de {m} {y}"]
    elif lang == "de":
        forms = [f"{date.day}. {m} {y}", f"{d} {m} {y}", f"{date.day}.{m} {y}"]
    else:
        forms = [f"{d} {m} {y}"]
    text = forms[rng.integers(len(forms))]
    if rng.random() < 0.3:
        sep = ", " if rng.random() < 0.8 else " "
        text = _weekday(lang, date, rng) + sep + text
    return text


def _numeric(date: dt.date, rng: np.random.Generator, short_year: bool) -> str:
    y = _year(date, short_year)
    padded = rng.random() < 0.6
    d = f"{date.day:02d}" if padded else str(date.day)
    m = f"{date.month:02d}" if padded else str(date.month)
    sep = ("/", ".", "-", " ")[rng.integers(4)]
    if not short_year and rng.random() < 0.25:
        if rng.random() < 0.2:
            return f"{date.year}{date.month:02d}{date.day:02d}"
        return f"{y}{sep}{date.month:02d}{sep}{date.day:02d}"
    return f"{d}{sep}{m}{sep}{y}"


def _add_noise(text: str, rng: np.random.Generator) -> str:
    roll = rng.random()
    if roll < 0.15:
        text = text.upper()
    elif roll < 0.3:
        text = text.title()
    elif roll < 0.4:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.replace(", ", ",")
    if rng.random() < 0.05:
        text = text + "."
    return text


def random_date(rng: np.random.Generator, first: dt.date = FIRST, last: dt.date = LAST) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers((last - first).days + 1)))


def generate_pair(rng: np.random.Generator) -> tuple[str, str]:
    short_year = rng.random() < 0.2
    date = random_date(rng, TWO_DIGIT_FIRST, TWO_DIGIT_LAST) if short_year else random_date(rng)
    if rng.random() < 0.3:
        text = _numeric(date, rng, short_year)
    else:
        lang = LANGUAGES[rng.integers(len(LANGUAGES))]
        text = _worded(lang, date, rng, short_year)
    return _add_noise(text, rng), date.isoformat()


def generate_pairs(
    count: int, seed: int, exclude: set[str] | None = None, normalise: Callable[[str], str] | None = None
) -> list[tuple[str, str]]:
    """`count` distinct (source, iso) pairs; sources in `exclude` (after `normalise`) are skipped."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    pairs = []
    while len(pairs) < count:
        source, target = generate_pair(rng)
        key = normalise(source) if normalise else source
        if len(key) > MAX_SOURCE_LEN or key in seen or (exclude and key in exclude):
            continue
        seen.add(key)
        pairs.append((source, target))
    return pairs
