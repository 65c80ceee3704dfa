"""Whether a text states the day a dates model wrote: in a number that the month and the year do not need,
or in words.

`Lot 4411 EXP 2026-02` read as 2026-02-02 takes its day from the `02` that is already the month; the
month check (`app/processing/months.py`) cannot see that, since `02` is in the text. Here each field the
text writes in digits must come from its own run of digits, or from its own part of one run (`20260202`,
`010605`): a day that finds no number of its own, and no words (`the twenty-first`, `premier`), is the
model's, and the translator answers the month alone.
"""

from __future__ import annotations

from collections.abc import Callable

from app.processing.months import DIGIT_RUNS, WORDS
from app.processing.number_words import YEAR_WORDS, spelled_ordinal

# The first of the month in words in the other languages the model reads (it is trained on later days in digits).
FIRST_IN_WORDS = frozenset({"premier", "premiere", "primo", "prima", "primero", "primer", "primera", "primeiro",
                            "primeira", "erste", "ersten", "erster", "eerste"})
YEAR, MONTH, DAY = 1, 2, 4  # a set of fields is a bit mask
ALL = YEAR | MONTH | DAY
Forms = tuple[tuple[int, tuple[str, ...]], ...]  # each field, and how digits may write it


def _readings(run: str, forms: Forms) -> set[int]:
    """The sets of fields `run` writes one after another, in any order (`20260202`, `010605`, `02`)."""
    found: set[int] = set()

    def walk(rest: str, used: int) -> None:
        if not rest:
            found.add(used)
            return
        for field, written in forms:
            if not used & field:
                for form in written:
                    if rest.startswith(form):
                        walk(rest[len(form):], used | field)

    walk(run, 0)  # a run is never empty, so every reading found gives some field
    return found


def _run_readings(run: str, year: int, forms: Forms) -> set[int]:
    if run == str(year):  # the year in four digits is the year, not also a day and a two-digit year (`2020`)
        return {YEAR}
    if len(run) <= 2:  # most runs: one field or none, no splitting needed
        return {field for field, written in forms if run in written}
    readings = _readings(run, forms)
    # A date run into its time (`20260202103000`): the whole date at the head of a longer run.
    for n in (8, 6):
        if not readings and len(run) > n:
            readings = {reading for reading in _readings(run[:n], forms) if reading == ALL}
    return readings


def _given(fields: int, runs: list[set[int]]) -> bool:
    """Whether the day, and each other field of `fields` some run can give, come from runs of their own."""
    # A field no run can give came from elsewhere (the month check has passed it): it competes for no number.
    can = 0
    for readings in runs:
        for reading in readings:
            can |= reading
    needed = fields & can
    if not needed & DAY:
        return False
    given = {0}  # the fields distinct runs can give together, each run read one way or not at all
    for readings in runs:
        given |= {have | reading for have in given for reading in readings}
    return any(have & needed == needed for have in given)


def day_in_words(words: list[str], day: int) -> bool:
    if not 1 <= day <= 31:  # a day that does not exist is refused by the calendar check, with its reason
        return False
    phrase, name = f" {' '.join(words)} ", spelled_ordinal(day)
    return f" {name.replace('-', ' ')} " in phrase or f" {name.replace('-', '')} " in phrase or \
        (day == 1 and not FIRST_IN_WORDS.isdisjoint(words))


def day_stated(text: str, year: int, month: int, day: int, month_in_words: Callable[[], bool]) -> bool:
    """Whether `text` (folded: lower case, no accents) states `day` of the date the model wrote. A month the
    text names in words (`month_in_words`, asked only when the numbers alone fall short) and a year it may
    write in words need no number of their own."""
    forms: Forms = ((YEAR, (str(year), f"{year % 100:02d}")), (MONTH, (str(month), f"{month:02d}")),
                    (DAY, (str(day), f"{day:02d}")))
    runs = [readings for run in DIGIT_RUNS.findall(text) if (readings := _run_readings(run, year, forms))]
    if _given(ALL, runs):  # the usual case, and the cheapest: every field in digits of its own
        return True
    words = WORDS.findall(text)
    if day_in_words(words, day):
        return True
    fields = ALL & ~MONTH if month_in_words() else ALL
    if fields != ALL and _given(fields, runs):
        return True
    return not YEAR_WORDS.isdisjoint(words) and _given(fields & ~YEAR, runs)
