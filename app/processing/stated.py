"""The part of a dates model's answer that its text states: the month named (`months.py`), the day read
from a number of its own or words (`days.py`). A month the text does not name leaves the year alone; a day
it does not state leaves the month."""

from __future__ import annotations

from app.processing.days import day_stated
from app.processing.months import MonthNames, folded


def stated(text: str, answer: str, months: MonthNames) -> str:
    """`answer` (YYYY, YYYY-MM or YYYY-MM-DD, or "" for no date) cut to what `text` states."""
    if len(answer) < 7 or not answer[5:7].isdigit():
        return answer
    month, clean = int(answer[5:7]), folded(text)
    if not months.named(clean, month):
        return answer[:4]
    if len(answer) < 10 or not (answer[:4] + answer[8:10]).isdigit():
        return answer
    year, day = int(answer[:4]), int(answer[8:10])

    def in_words() -> bool:  # the month in words frees its number for the day; asked last, typos cost the most
        return month in months.names and months.named_in_words(clean, month)

    return answer if day_stated(clean, year, month, day, in_words) else answer[:7]
