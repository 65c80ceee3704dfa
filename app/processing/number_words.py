"""English number words as the dates generator writes them (`the twenty-first of May`, `nineteen oh five`) and
the day check reads them (`app/processing/days.py`)."""

from __future__ import annotations

ONES = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
TEENS = ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
         "eighteenth", "nineteenth")
CARDINAL_ONES = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
CARDINAL_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
# Every word a year in English words is made of (`two thousand and five`, `nineteen oh five`).
YEAR_WORDS = frozenset(CARDINAL_ONES[1:] + CARDINAL_TENS[2:] + ("hundred", "thousand", "oh"))


def cardinal(n: int) -> str:
    """1-99 in English words."""
    if n < 20:
        return CARDINAL_ONES[n]
    return CARDINAL_TENS[n // 10] + ("" if n % 10 == 0 else "-" + CARDINAL_ONES[n % 10])


def spelled_ordinal(day: int) -> str:
    """1-31 as an English ordinal in words: `first`, `twenty-first`, `thirtieth`."""
    if day < 10:
        return ONES[day]
    if day < 20:
        return TEENS[day - 10]
    tens = {2: "twent", 3: "thirt"}[day // 10]
    return tens + "ieth" if day % 10 == 0 else tens + "y-" + ONES[day % 10]
