"""Human-readable dates as people write them, paired with ISO 8601, and texts that hold no date.

Each pair is (source, date order, iso): the date order is what the caller says about numeric dates
("DMY", "MDY" or "YMD"); it decides the answer only where the numbers allow more than one reading
(`read_numeric`). The iso text is "" for a text that holds no date, `YYYY-MM` or `YYYY` for a text that
gives only a month or a year, and for a text naming a day that does not exist (31 April, 29 February 2023,
month 13) that day as written, `2020-04-31`: the model learns to write what the text says, and the
server refuses it with the reason (app.processing.grammar.calendar_problem). Two-digit years mean 1950-2049.
Month and weekday names in seven languages come from babel's CLDR data.

A date is written by one of many families (worded in a language, numeric, ISO and compact, e-mail
and HTTP headers, ...), then maybe wrapped in words, followed by a time of day and a zone, and put in
some letter case: the model has to learn which part of a text is the date.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from babel.dates import get_day_names, get_month_names

from app.processing.months import typo_distance
from app.processing.number_words import CARDINAL_ONES, cardinal, spelled_ordinal
from app.processing.text import DATE_ORDERS

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
FIRST, LAST = dt.date(1900, 1, 1), dt.date(2099, 12, 31)
EARLY_FIRST = dt.date(1000, 1, 1)  # a few older dates, so history is not out of range
TWO_DIGIT_CENTURY_PIVOT = 50  # 00-49 -> 20xx, 50-99 -> 19xx
MAX_SOURCE_LEN = 64
DEFAULT_DATE_ORDER = "DMY"
HANDWRITTEN = Path(__file__).with_name("dates_handwritten.tsv")
HANDWRITTEN_UNSEEN = Path(__file__).with_name("dates_handwritten_unseen.tsv")  # never used to change the generator

Pair = tuple[str, str, str]  # (source, date order, iso or "")
Rng = np.random.Generator

# Words around a date, in the languages the names come from.
PREFIXES = (
    "on ", "due ", "date: ", "dated ", "born ", "deadline: ", "since ", "from ", "until ", "by ", "posted ",
    "updated ", "invoice date ", "dob: ", "expires ", "effective ", "as of ", "shipped ", "delivered on ",
    "meeting on ", "last seen ", "est. ", "approx. ", "ref ", "(", "[", "le ", "du ", "am ", "vom ", "bis ",
    "el ", "del ", "il ", "dal ", "em ", "op ", "per ", "datum: ", "fecha: ", "data: ", "date de naissance : ",
    "geboren am ", "nacido el ", "created ", "sent: ", "received ", "start ", "end ",
)
SUFFIXES = (
    ".", ",", ")", "]", " (approx.)", " onwards", " or so", " at noon", " in the morning", " - final",
    " (estimated)", " inclusive", " latest", " (tbc)", "!", " ?", ";", " ce", " ad",
)
ZONES = ("UTC", "GMT", "Z", "CET", "CEST", "EST", "EDT", "PST", "PDT", "BST", "IST", "JST", "+0000", "+0200",
         "-0500", "+05:30", "-08:00", "+01:00", "(UTC)", "UTC+2", "GMT-5")

NON_DATES = (
    "tomorrow", "yesterday", "today", "now", "next week", "last month", "in two days", "soon", "never", "tbd",
    "n/a", "none", "unknown", "hello", "hello world", "thanks", "see you later", "asap", "end of month",
    "morning", "noon", "midnight", "weekend", "monday", "next friday", "last tuesday", "the day after tomorrow",
    "demain", "hier", "aujourd'hui", "morgen", "gestern", "heute", "mañana", "ayer", "hoy", "domani", "ieri",
    "oggi", "amanhã", "ontem", "hoje", "morgen", "gisteren", "vandaag", "ok", "yes", "no", "test", "foo bar",
    "lorem ipsum", "pending", "q3", "h1", "ww12", "week 12", "a while ago", "someday", "later",
    "the date", "date", "birthday", "christmas", "easter", "new year's eve",
)


class Fields(NamedTuple):
    """A day as a text writes it, which may not exist (31 April); its weekday is made up, as such a text's is."""

    year: int
    month: int
    day: int

    def weekday(self) -> int:
        return (self.year + 3 * self.month + self.day) % 7

    def isoformat(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


Day = dt.date | Fields


@cache
def _names(lang: str) -> tuple[list[str], list[str], list[str], list[str]]:
    months = get_month_names("wide", locale=lang)
    months_abbr = get_month_names("abbreviated", locale=lang)
    days = get_day_names("wide", locale=lang)
    days_abbr = get_day_names("abbreviated", locale=lang)
    return ([months[m] for m in range(1, 13)], [months_abbr[m] for m in range(1, 13)],
            [days[d] for d in range(7)], [days_abbr[d] for d in range(7)])


def _choice(rng: Rng, options: tuple[str, ...] | list[str]) -> str:
    return options[int(rng.integers(len(options)))]


# -------------------------------------------------------------------------------------------- parts


def two_digit_year(year: int) -> int:
    return 2000 + year if year < TWO_DIGIT_CENTURY_PIVOT else 1900 + year


def _english_ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def spelled_year(year: int, rng: Rng) -> str:
    """A year in English words as people say it: nineteen eighty-four, nineteen oh five, two thousand five,
    twenty twenty."""
    century, rest = divmod(year, 100)
    if century == 20 and (rest < 10 or rng.random() < 0.3):
        return "two thousand" + ("" if rest == 0 else _choice(rng, (" ", " and ")) + cardinal(rest))
    head = cardinal(century)
    if rest == 0:
        return head + " hundred"
    return head + (" oh " + CARDINAL_ONES[rest] if rest < 10 else " " + cardinal(rest))


def _day(lang: str, day: int, rng: Rng) -> str:
    roll = rng.random()
    if lang == "en" and roll < 0.35:
        return _english_ordinal(day)
    if lang == "fr" and day == 1 and roll < 0.5:
        return "1er"
    if lang in ("es", "pt", "it") and day == 1 and roll < 0.3:
        return "1º" if lang != "it" else "1°"
    if lang == "de" and roll < 0.4:
        return f"{day}."
    if lang == "nl" and roll < 0.1:
        return f"{day}e"
    return f"{day:02d}" if rng.random() < 0.3 else str(day)


def _typo(word: str, rng: Rng) -> str:
    at = int(rng.integers(1, len(word) - 1))
    kind = rng.integers(4)
    if kind == 0:
        return word[:at] + word[at + 1:]  # a letter dropped
    if kind == 1:
        return word[:at] + word[at] + word[at:]  # a letter doubled
    if kind == 2:
        return word[:at - 1] + word[at] + word[at - 1] + word[at + 1:]  # two letters swapped
    return word[:at] + _choice(rng, list("aeiou")) + word[at + 1:]  # a vowel wrong


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions): no swaps, as the generator has always
    counted, so its texts stay the same."""
    return typo_distance(a, b, swaps=False)


@cache
def _name_table() -> tuple[dict[str, int], frozenset[str]]:
    """Every month name of every language (wide and abbreviated, lower case, no dot) -> its month, and
    every weekday name."""
    months: dict[str, int] = {}
    weekdays: set[str] = set()
    for lang in LANGUAGES:
        wide, abbreviated, days, days_abbr = _names(lang)
        for month, name in enumerate(wide + abbreviated):
            months[name.lower().rstrip(".")] = month % 12 + 1
        weekdays.update(name.lower().rstrip(".") for name in days + days_abbr)
    return months, frozenset(weekdays)


def month_names() -> dict[str, list[str]]:
    """Each month's names in every language the generator writes, and its Roman numeral: what the served
    model checks a month it writes against (`app/processing/months.py`), saved in the manifest."""
    months, _ = _name_table()
    table = {str(m): [ROMAN_MONTHS[m - 1].lower()] for m in range(1, 13)}
    for name, month in sorted(months.items()):
        table[str(month)].append(name)
    return table


def readable_misspelling(text: str, month: int) -> bool:
    """A misspelt month name that a careful reader still reads as `month`: nearer to a name of that month,
    in any language, than to any name of another month, and not a weekday's name. Other misspellings
    (`juho`: junho or julho? `mie`: mei or miércoles?) have no right answer, and would teach only noise."""
    months, weekdays = _name_table()
    word = text.lower().rstrip(".")
    if word in weekdays:
        return False
    own = min(edit_distance(word, name) for name, m in months.items() if m == month)
    return all(edit_distance(word, name) > own for name, m in months.items() if m != month)


def _misspell(word: str, month: int, rng: Rng) -> str:
    """A typo in a month name that leaves it readable (`readable_misspelling`); the name itself when a few
    tries find none."""
    if len(word) < 4:
        return word
    for _ in range(5):
        typo = _typo(word, rng)
        if readable_misspelling(typo, month):
            return typo
    return word


def _month(lang: str, month: int, rng: Rng) -> str:
    months, months_abbr, _, _ = _names(lang)
    roll = rng.random()
    if roll < 0.4:
        name = months_abbr[month - 1]
        if lang == "en" and month == 9 and rng.random() < 0.3:
            name = "Sept"
        if lang == "en" or rng.random() < 0.5:
            name = name.rstrip(".") + ("." if rng.random() < 0.3 else "")
    else:
        name = months[month - 1]
    if rng.random() < 0.06:
        name = _misspell(name, month, rng)
    return name


def _weekday(lang: str, date: Day, rng: Rng) -> str:
    _, _, days, days_abbr = _names(lang)
    name = (days_abbr if rng.random() < 0.4 else days)[date.weekday()]
    return name.rstrip(".") if rng.random() < 0.5 else name


def _year(year: int, short: bool, rng: Rng, apostrophe: bool = True) -> str:
    if not short:
        return str(year)
    return ("'" if apostrophe and rng.random() < 0.4 else "") + f"{year % 100:02d}"


def _sep(rng: Rng) -> str:
    roll = rng.random()
    if roll < 0.03:
        return ""
    if roll < 0.7:
        return " "
    if roll < 0.85:
        return ", "
    if roll < 0.92:
        return "  "
    return "-" if roll < 0.96 else "/"


# ----------------------------------------------------------------------------------------- families


def worded(date: Day, rng: Rng, short: bool) -> str:
    """Day, month name and year in one of the orders people use, in one of seven languages."""
    lang = _choice(rng, LANGUAGES)
    d, m, y = _day(lang, date.day, rng), _month(lang, date.month, rng), _year(date.year, short, rng)
    s1, s2 = _sep(rng), _sep(rng)
    comma = "," if rng.random() < 0.6 else ""
    forms = [f"{d}{s1}{m}{s2}{y}", f"{m}{s1}{d}{comma} {y}"]
    if not short:  # year first only with four digits: "01 mars 08" would read either way
        forms += [f"{y}{s1}{m}{s2}{d}", f"{y}{s1}{d}{s2}{m}"] if lang != "en" else [f"{y}{s1}{m}{s2}{d}"]
    if lang == "en":
        if rng.random() < 0.15:
            d = spelled_ordinal(date.day)
        if not short and rng.random() < 0.08:
            y = spelled_year(date.year, rng)
        forms += [f"the {d} of {m}{comma} {y}", f"{d} of {m}{comma} {y}", f"{m} the {d}{comma} {y}",
                  f"{m} {d} {y}", f"{d} day of {m}, {y}"]
        if not short:
            forms.append(f"{y}, {m} {d}")
    elif lang in ("es", "pt"):
        forms += [f"{d} de {m} de {y}", f"{d} de {m} {y}", f"{d} de {m}, {y}", f"{d}/{m}/{y}"]
    elif lang == "de":
        forms += [f"{date.day}. {m} {y}", f"{date.day}.{m}.{y}", f"den {date.day}. {m} {y}"]
    elif lang == "fr":
        forms += [f"le {d} {m} {y}", f"{d}-{m}-{y}"]
    elif lang == "it":
        forms += [f"il {d} {m} {y}", f"{d}/{m}/{y}"]
    elif lang == "nl":
        forms += [f"{d} {m}, {y}", f"{d}-{m}-{y}"]
    text = _choice(rng, forms)
    if rng.random() < 0.3:
        day_name = _weekday(lang, date, rng)
        text = (day_name + _choice(rng, (", ", " ", ",", " - ")) + text) if rng.random() < 0.85 else \
            (text + _choice(rng, (", ", " ", " (")) + day_name + ("" if rng.random() < 0.5 else ")"))
    return text


def _numeric_parts(date: Day, order: str, short: bool, padded: bool) -> list[str]:
    d = f"{date.day:02d}" if padded else str(date.day)
    m = f"{date.month:02d}" if padded else str(date.month)
    y = f"{date.year % 100:02d}" if short else str(date.year)
    return {"DMY": [d, m, y], "MDY": [m, d, y], "YMD": [y, m, d]}[order]


def numeric(date: Day, rng: Rng, short: bool, order: str) -> tuple[str, list[str]]:
    """Three numbers in `order`, with one separator or another, padded or not, maybe spaced; and the numbers."""
    parts = _numeric_parts(date, order, short, padded=rng.random() < 0.55)
    sep = _choice(rng, ("/", ".", "-", "/", ".", "-", " ", " / ", " - ", ". ", "\\", "/ "))
    text = sep.join(parts)
    if rng.random() < 0.1 and not sep.endswith("."):
        text += "."
    return text, parts


def roman_month(date: Day, rng: Rng, short: bool) -> str:
    """Day, the month in Roman numerals, year: 28.II.2023, as Polish, Italian and Romanian records write it."""
    sep = _choice(rng, (".", ".", " ", "-", "/", ". "))
    day = f"{date.day:02d}" if rng.random() < 0.4 else str(date.day)
    return f"{day}{sep}{ROMAN_MONTHS[date.month - 1]}{sep}{_year(date.year, short, rng, apostrophe=False)}"


def compact(date: Day, rng: Rng, short: bool) -> str:
    """Day, English month abbreviation and year run together, as airline, military and database dumps write
    them: 01JUN05, 01-JUN-2005."""
    month = _names("en")[1][date.month - 1].rstrip(".")[:3].upper()
    sep = _choice(rng, ("", "", "-", " "))
    return f"{date.day:02d}{sep}{month}{sep}{_year(date.year, short, rng, apostrophe=False)}"


def iso_like(date: Day, rng: Rng) -> str:
    """Year first, month and day padded: ISO 8601 with its separator or another, or none at all."""
    sep = _choice(rng, ("-", "-", "/", ".", "", " ", "_"))
    text = f"{date.year}{sep}{date.month:02d}{sep}{date.day:02d}"
    roll = rng.random()
    if roll < 0.25:
        zone = _choice(rng, ("Z", "", "+00:00", "+02:00", "-05:00", ".000Z"))
        text += _choice(rng, ("T", " ")) + _clock(rng, seconds=True, twelve_hour=False) + zone
    elif roll < 0.35:
        text = f"{date.year}-{date.month}-{date.day}"
    return text


def header(date: Day, rng: Rng) -> str:
    """E-mail (RFC 2822), HTTP (RFC 9110 and its obsolete forms), C `asctime` and web-server log (Common Log
    Format) dates."""
    _, months_abbr, days, days_abbr = _names("en")
    mon, wd, wide = months_abbr[date.month - 1], days_abbr[date.weekday()], days[date.weekday()]
    clock = _clock(rng, seconds=True, twelve_hour=False)
    form = rng.integers(5)
    if form == 0:
        zone = _choice(rng, ("+0000", "-0700", "+0100", "+0530", "GMT", "UT", "EST", "-0000"))
        day = str(date.day) if rng.random() < 0.5 else f"{date.day:02d}"
        return (f"{wd}, " if rng.random() < 0.8 else "") + f"{day} {mon} {date.year} {clock} {zone}"
    if form == 1:
        return f"{wd}, {date.day:02d} {mon} {date.year} {clock} GMT"
    if form == 2:  # RFC 850 has two-digit years: only for the years they can mean
        year = f"{date.year % 100:02d}" if 1950 <= date.year <= 2049 else str(date.year)
        return f"{wide}, {date.day:02d}-{mon}-{year} {clock} GMT"
    if form == 3:
        return f"{wd} {mon} {date.day:>2} {clock} {date.year}"
    zone = _choice(rng, ("-0700", "+0000", "+0100", "+0200", "-0500"))
    return f"[{date.day:02d}/{mon}/{date.year}:{clock} {zone}]"


def _clock(rng: Rng, seconds: bool = False, twelve_hour: bool | None = None) -> str:
    twelve = rng.random() < 0.3 if twelve_hour is None else twelve_hour
    hour = int(rng.integers(1, 13)) if twelve else int(rng.integers(24))
    text = f"{hour:02d}" if not twelve or rng.random() < 0.3 else str(hour)
    text += f":{int(rng.integers(60)):02d}"
    if seconds or rng.random() < 0.2:
        text += f":{int(rng.integers(60)):02d}"
    if twelve:
        text += _choice(rng, (" am", " pm", "am", "pm", " a.m.", " p.m.", " AM", " PM"))
    return text


def time_of_day(rng: Rng) -> str:
    roll = rng.random()
    if roll < 0.25:  # as other languages write it: 21.00 uur, ore 21, 8 h 30, 21 Uhr
        hour, minute = int(rng.integers(24)), int(rng.integers(60))
        return _choice(rng, (f"{hour}.{minute:02d}", f"{hour}.{minute:02d} uur", f"{hour} uur", f"ore {hour}",
                             f"ore {hour}:{minute:02d}", f"{hour} Uhr", f"{hour}.{minute:02d} Uhr",
                             f"{hour} h {minute:02d}", f"{hour} h", f"{hour}h", f"{hour} horas", f"kl. {hour}"))
    roll = rng.random()
    if roll < 0.15:
        return f"{int(rng.integers(24))}h{int(rng.integers(60)):02d}"
    if roll < 0.25:
        return f"{int(rng.integers(1, 13))}{_choice(rng, ('am', 'pm', ' am', ' pm'))}"
    text = _clock(rng)
    if rng.random() < 0.4:
        text += " " + _choice(rng, ZONES)
    return text


# -------------------------------------------------------------------------------- numeric ambiguity


def is_iso_date(text: str) -> bool:
    """`text` is a calendar-valid date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def numeric_readings(parts: list[str]) -> dict[str, dt.date]:
    """The dates three numbers can mean, by order; a 4-digit number can only be the year, and a one-digit
    number reads as if padded (1/2/3 is 1 February 2003 day first)."""
    parts = [p.zfill(2) for p in parts]
    readings: dict[str, dt.date] = {}
    for order in DATE_ORDERS:
        fields = dict(zip(order, parts, strict=True))
        if any(len(fields[k]) > 2 for k in "DM") or len(fields["Y"]) not in (2, 4):
            continue
        year = int(fields["Y"]) if len(fields["Y"]) == 4 else two_digit_year(int(fields["Y"]))
        date = _valid(year, int(fields["M"]), int(fields["D"]))
        if date is not None:
            readings[order] = date
    return readings


def read_numeric(parts: list[str], date_order: str) -> dt.date | None:
    """The date a numeric text means for a caller who says `date_order`: that reading where it is valid,
    else the only valid one, else the first valid one in the order DMY, MDY, YMD."""
    readings = numeric_readings(parts)
    if date_order in readings:
        return readings[date_order]
    return next((readings[o] for o in DATE_ORDERS if o in readings), None)


def as_written(parts: list[str], date_order: str) -> Fields | None:
    """The day three numbers write where no reading of them exists (31/04/2020, 13/13/2020): read in the
    caller's order where its month is 1-12, else in the first order whose month is, else in the caller's.
    None where no order fits the numbers' lengths."""
    parts = [p.zfill(2) for p in parts]
    fitting: dict[str, Fields] = {}
    for order in DATE_ORDERS:
        fields = dict(zip(order, parts, strict=True))
        if any(len(fields[k]) > 2 for k in "DM") or len(fields["Y"]) not in (2, 4):
            continue
        year = int(fields["Y"]) if len(fields["Y"]) == 4 else two_digit_year(int(fields["Y"]))
        fitting[order] = Fields(year, int(fields["M"]), int(fields["D"]))
    plausible = [o for o, f in fitting.items() if 1 <= f.month <= 12]
    if date_order in plausible:
        return fitting[date_order]
    if plausible:
        return fitting[plausible[0]]
    return fitting.get(date_order, next(iter(fitting.values()), None))


def is_answer(text: str) -> bool:
    """`text` is a label the generator writes: "", YYYY, YYYY-MM, or YYYY-MM-DD with any two-digit month and day."""
    return text == "" or (len(text) in (4, 7, 10) and all(
        c == "-" if k in (4, 7) else c.isdigit() for k, c in enumerate(text)))


# --------------------------------------------------------------------------------------------- pairs


def random_date(rng: Rng, first: dt.date = FIRST, last: dt.date = LAST) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers((last - first).days + 1)))


def _letter_case(text: str, rng: Rng) -> str:
    roll = rng.random()
    if roll < 0.12:
        return text.upper()
    if roll < 0.24:
        return text.title()
    if roll < 0.4:
        return text.lower()
    if roll < 0.43:
        return "".join(c.upper() if rng.random() < 0.5 else c for c in text)
    return text


def _dressed(text: str, rng: Rng, with_time: bool, numbers: bool = True) -> str:
    """The date as found in the wild: maybe a time of day after it, words around it, sometimes glued to them
    (`date:28-02-2023`, `scan_20181105`); with `numbers`, maybe numbers that are not part of it (around a lone
    year or month, words only: a number there could be its day)."""
    if with_time and rng.random() < 0.2:
        sep = _choice(rng, (" ", " ", ", ", " at ", " @ ", " - ", " à ", " um ", " a las ", " alle ", " om ",
                            " às ", " alle ore "))
        clock = time_of_day(rng)
        text += (" alle " if sep == " alle ore " and clock.startswith("ore ") else sep) + clock  # not "ore ore"
    if rng.random() < 0.2:
        prefix = _choice(rng, PREFIXES)
        text = (prefix.rstrip() if prefix.endswith(": ") and rng.random() < 0.3 else prefix) + text
    if rng.random() < 0.12:
        text += _choice(rng, SUFFIXES)
    if rng.random() < 0.12:
        text = filler(rng, numbers) + _choice(rng, (" ", " ", " ", "_")) + text
    if rng.random() < 0.08:
        text += _choice(rng, (" ", " ", " ", "_")) + filler(rng, numbers)
    if numbers and rng.random() < 0.1:
        text = distractor(rng) + _choice(rng, (" ", ", ", " - ", ": ", "_")) + text
    if numbers and rng.random() < 0.1:
        text += _choice(rng, (" ", ", ", " - ", "; ", "_")) + distractor(rng)
    if rng.random() < 0.03:
        text = " " + text + " "
    return _letter_case(text, rng)


def _pseudo_word(rng: Rng) -> str:
    """A made-up word, never a month's or a weekday's name (beside a lone year, one would be its month)."""
    letters = "abcdefghijklmnopqrstuvwxyzéèàüöäñç"
    weights = np.array([8 if c in "aeiou" else 3 if c in "nrstlm" else 1 for c in letters], dtype=float)
    months, weekdays = _name_table()
    while True:
        word = "".join(rng.choice(list(letters), size=int(rng.integers(2, 10)), p=weights / weights.sum()))
        if word not in months and word not in weekdays:
            return word


def distractor(rng: Rng) -> str:
    """Numbers near a date that are not part of it: codes, counts, addresses, versions, amounts."""
    n = int(rng.integers(1, 1000))
    return _choice(rng, (
        f"{_choice(rng, ('BA', 'LH', 'AF', 'UA', 'INV-', 'PO', 'A', 'Z'))}{n}", f"{n} days", f"within {n % 90} days",
        f"from {int(rng.integers(1, 255))}.{int(rng.integers(256))}.{int(rng.integers(256))}.{int(rng.integers(256))}",
        f"v{n % 10}.{int(rng.integers(20))}.{int(rng.integers(20))}", f"#{int(rng.integers(1, 100_000))}",
        f"{n}", f"${n}.{int(rng.integers(100)):02d}", f"{n} items", f"room {n}", f"page {n % 300}",
        f"{int(rng.integers(24)):02d}{int(rng.integers(60)):02d}", f"qty {n % 50}", f"x{n}", f"{n}%",
    ))


def filler(rng: Rng, numbers: bool = True) -> str:
    """Words that are not the date: known ones, made-up ones, and (with `numbers`) numbers that are not date
    parts."""
    words = []
    for _ in range(int(rng.integers(1, 4))):
        roll = rng.random()
        if roll < 0.45:
            words.append(_pseudo_word(rng))
        elif roll < 0.8 or not numbers:
            words.append(_choice(rng, PREFIXES).strip(" :([") or "on")
        else:
            words.append(_choice(rng, ("#", "no. ", "ref ", "id ", "", "", "page ", "room ", "x")) +
                         str(int(rng.integers(0, 100 if rng.random() < 0.5 else 100_000))))
    return " ".join(words) + _choice(rng, ("", "", ":", ",", " -"))


def non_date(rng: Rng) -> str:
    """A text with no whole date in it: words, lone numbers, a month without a day or a year, a time, a weekday."""
    roll = rng.random()
    if roll < 0.3:
        return _choice(rng, NON_DATES)
    if roll < 0.42:  # a lone number, not one that reads as a year
        number = int(rng.integers(0, 10 ** int(rng.integers(1, 6))))
        return str(number + 1100 if YEARS[0] <= number <= YEARS[1] else number)
    if roll < 0.54:  # a month with no year, a day and month with no year
        lang = _choice(rng, LANGUAGES)
        date = random_date(rng)
        month = _month(lang, date.month, rng)
        day = _day(lang, date.day, rng)
        later = random_date(rng)
        return _choice(rng, (month, f"{day} {month}", f"{month} {day}",
                             f"{month} {day} {_clock(rng, seconds=True, twelve_hour=False)}",  # a syslog line
                             f"{month} {day} - {_month(lang, later.month, rng)} {_day(lang, later.day, rng)}"))
    if roll < 0.68:  # two numbers: day and month, or a month and a two-digit year with nothing to tell them apart
        date = random_date(rng)
        return _choice(rng, (f"{date.month}/{date.year % 100:02d}", f"{date.month}/{date.day}",
                             f"{date.day}.{date.month}.", f"{date.day:02d}/{date.month:02d}"))
    if roll < 0.74:  # numbers with dots that are not dates (three numbers would read as one)
        return _choice(rng, (f"v{int(rng.integers(10))}.{int(rng.integers(100))}.{int(rng.integers(100))}",
                             ".".join(str(int(rng.integers(256))) for _ in range(4)),
                             f"{int(rng.integers(1000))}.{int(rng.integers(10 ** 5))}",
                             f"+{int(rng.integers(1, 99))} {int(rng.integers(10, 99))} {int(rng.integers(1000, 9999))} "
                             f"{int(rng.integers(1000, 9999))}"))
    if roll < 0.8:
        return time_of_day(rng)
    if roll < 0.86:
        lang = _choice(rng, LANGUAGES)
        date = random_date(rng)
        day_month = f"{_month(lang, date.month, rng)} {_day(lang, date.day, rng)}" if rng.random() < 0.5 else \
            f"{_day(lang, date.day, rng)} {_month(lang, date.month, rng)}"
        return _choice(rng, (_weekday(lang, date, rng), f"{_weekday(lang, date, rng)}, {day_month}"))
    if roll < 0.9:
        return f"{int(rng.integers(100, 1000))}-{int(rng.integers(1000, 10000))}"  # a phone-number piece
    words = [_choice(rng, NON_DATES) for _ in range(int(rng.integers(2, 4)))]
    return " ".join(words)


YEARS = (1000, 2099)  # a lone four-digit number in this range reads as a year
EXPIRY = ("exp ", "exp: ", "exp. ", "EXP ", "expiry ", "expiry: ", "expires ", "expires end ", "exp date ",
          "valid thru ", "good thru ", "valid until ", "card expiry ", "vence ", "expire fin ", "gültig bis ")


def impossible_day(rng: Rng, named: bool, short: bool) -> Fields:
    """A day that does not exist: past its month's end (29 February of a common year among them), or, where
    the month is a number, month 0 or 13-19, day 0 or 32-39."""
    year = random_date(rng, dt.date(1950, 1, 1), dt.date(2049, 12, 31)).year if short else random_date(rng).year
    roll = rng.random()
    if named or roll < 0.65:
        month = _choice(rng, (2, 2, 2, 4, 6, 9, 11))
        if month == 2 and rng.random() < 0.5:  # 29 February of a common year, century years among them
            if not short and rng.random() < 0.2:
                year = _choice(rng, (1900, 2100, 1800, 1700))
            while calendar.isleap(year):
                year += 1
            return Fields(year, 2, 29)
        last = calendar.monthrange(year, month)[1]
        return Fields(year, month, int(rng.integers(last + 1, 32)))
    if roll < 0.87:
        return Fields(year, 0 if rng.random() < 0.15 else int(rng.integers(13, 20)), int(rng.integers(1, 29)))
    return Fields(year, int(rng.integers(1, 13)), 0 if rng.random() < 0.3 else int(rng.integers(32, 40)))


def impossible(rng: Rng, caller_order: str) -> tuple[str, str]:
    """A text naming a day that does not exist, in any layout the generator writes, and that day as written
    (or, for numbers with another reading that exists, that reading)."""
    family = rng.random()
    short = (family < 0.4 or 0.62 <= family < 0.72) and rng.random() < 0.2
    day = impossible_day(rng, named=family >= 0.55, short=short)
    if family < 0.4:
        text, parts = numeric(day, rng, short, _choice(rng, DATE_ORDERS))
        meant = read_numeric(parts, caller_order) or as_written(parts, caller_order)
        assert meant is not None
        return _dressed(text, rng, with_time=True), meant.isoformat()
    if family < 0.55:
        return _dressed(iso_like(day, rng), rng, with_time=False), day.isoformat()
    if family < 0.62:
        return _dressed(header(day, rng), rng, with_time=False), day.isoformat()
    if family < 0.72:
        text = roman_month(day, rng, short) if family < 0.67 else compact(day, rng, short)
        return _dressed(text, rng, with_time=True), day.isoformat()
    return _dressed(worded(day, rng, short=False), rng, with_time=True), day.isoformat()


def month_and_year(rng: Rng) -> tuple[str, str]:
    """A text giving a month and a year but no day, and `YYYY-MM`."""
    date = random_date(rng)
    year, month = date.year, date.month
    roll = rng.random()
    if roll < 0.45:
        lang = _choice(rng, LANGUAGES)
        name = _month(lang, month, rng)
        written = str(year) if rng.random() < 0.85 or not 1950 <= year <= 2049 else f"'{year % 100:02d}"
        forms = [f"{name} {written}", f"{name}, {written}", f"{name}-{written}", f"{name}/{written}"]
        if lang in ("es", "pt"):
            forms.append(f"{name} de {written}")
        if lang == "en":
            forms += [f"in {name} {written}", f"{name} of {written}"]
        text = _choice(rng, forms)
    elif roll < 0.85:
        mm = f"{month:02d}" if rng.random() < 0.7 else str(month)
        text = _choice(rng, (f"{mm}/{year}", f"{mm}.{year}", f"{mm}-{year}", f"{year}-{month:02d}", f"{year}/{mm}",
                             f"{year}.{month:02d}", f"{mm} / {year}"))
    else:  # a card's expiry: month and two-digit year, told apart from day and month by the words before it
        year = random_date(rng, dt.date(2000, 1, 1), dt.date(2049, 12, 31)).year
        text = _choice(rng, EXPIRY) + f"{month:02d}/{year % 100:02d}"
    return _dressed(text, rng, with_time=False, numbers=False), f"{year:04d}-{month:02d}"


def year_only(rng: Rng) -> tuple[str, str]:
    """A text giving a year alone (or a year and a week), and `YYYY`."""
    year = random_date(rng, dt.date(YEARS[0], 1, 1)).year if rng.random() < 0.15 else random_date(rng).year
    week = int(rng.integers(1, 54))
    text = _choice(rng, (
        f"{year}", f"{year}", f"in {year}", f"since {year}", f"© {year}", f"(c) {year}", f"class of {year}",
        f"summer {year}", f"year {year}", f"en {year}", f"im Jahr {year}", f"nel {year}", f"em {year}",
        f"anno {year}", f"{year}-W{week:02d}", f"week {week} of {year}", f"week {week}, {year}", f"KW {week}/{year}",
        f"Q{int(rng.integers(1, 5))} {year}", f"fall {year}", f"spring {year}", f"({year})",
    ))
    return _dressed(text, rng, with_time=False, numbers=False), f"{year:04d}"


def generate_pair(rng: Rng) -> Pair:
    """One (source, date order, iso) pair: about 10% hold no date (iso ""), 6% name a day that does not exist,
    5% give a month and year only, 3% a year only."""
    caller_order = _choice(rng, DATE_ORDERS)
    kind = rng.random()
    if kind < 0.1:
        return _letter_case(non_date(rng), rng), caller_order, ""
    if kind < 0.24:
        text, iso = (impossible(rng, caller_order) if kind < 0.16 else month_and_year(rng) if kind < 0.21
                     else year_only(rng))
        return text, caller_order, iso
    short = rng.random() < 0.2
    if short:
        date = random_date(rng, dt.date(1950, 1, 1), dt.date(2049, 12, 31))
    else:
        date = random_date(rng, EARLY_FIRST, LAST) if rng.random() < 0.1 else random_date(rng)
    family = rng.random()
    if family < 0.3:
        # Written in one order; where the numbers allow other readings the caller's order decides.
        written = _choice(rng, DATE_ORDERS)
        text, parts = numeric(date, rng, short, written)
        meant = read_numeric(parts, caller_order)
        assert meant is not None
        date = meant
    elif family < 0.32:
        text = roman_month(date, rng, short)
    elif family < 0.45:
        text = iso_like(date, rng)
    elif family < 0.52:
        text = header(date, rng)
    elif family < 0.54:
        text = compact(date, rng, short)
    else:
        text = worded(date, rng, short)
    return _dressed(text, rng, with_time=family >= 0.52 or family < 0.32), caller_order, date.isoformat()


def ambiguous_numeric_pairs(count: int, seed: int) -> list[Pair]:
    """Numeric dates whose numbers allow two or more readings, each with a caller's order and the date that
    order means: the measure of whether the model follows the caller's order."""
    rng = np.random.default_rng(seed)
    pairs: list[Pair] = []
    while len(pairs) < count:
        short = rng.random() < 0.3
        date = random_date(rng, dt.date(1950, 1, 1), dt.date(2049, 12, 31)) if short else random_date(rng)
        text, parts = numeric(date, rng, short, _choice(rng, DATE_ORDERS))
        if len(numeric_readings(parts)) < 2:
            continue
        order = _choice(rng, DATE_ORDERS)
        meant = read_numeric(parts, order)
        assert meant is not None
        pairs.append((text, order, meant.isoformat()))
    return pairs


def generate_pairs(count: int, seed: int, exclude: set[tuple[str, str]] | None = None,
                   normalise: Callable[[str], str] | None = None) -> list[Pair]:
    """`count` distinct pairs; a (normalised source, date order) in `exclude` is skipped, as is a source
    longer than MAX_SOURCE_LEN - 1 (one character is the date-order marker)."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[str, str]] = set()
    pairs = []
    while len(pairs) < count:
        source, order, target = generate_pair(rng)
        key = (normalise(source) if normalise else source, order)
        if not key[0].strip() or len(key[0]) > MAX_SOURCE_LEN - 1 or key in seen or (exclude and key in exclude):
            continue
        seen.add(key)
        pairs.append((source, order, target))
    return pairs


def read_handwritten(path: Path = HANDWRITTEN) -> list[Pair]:
    """The hand-written yardstick: text, the writer's date order, the date written by hand ("" for none).
    Lines starting with # are comments."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
                if row and not row[0].startswith("#")]
    for row in rows:
        if len(row) != 3 or row[1] not in DATE_ORDERS:
            raise ValueError(f"{path.name}: bad row {row!r}")
    return [(text, order, iso) for text, order, iso in rows]


def yardstick_keys(normalise: Callable[[str], str]) -> set[tuple[str, str]]:
    """Every hand-written text in every date order, as `generate_pairs` excludes them: a short one (`Expiry:
    11/25`) can also be written by the generator, and a yardstick must never be trained on."""
    return {(normalise(text), order) for path in (HANDWRITTEN, HANDWRITTEN_UNSEEN)
            for text, _, _ in read_handwritten(path) for order in DATE_ORDERS}

