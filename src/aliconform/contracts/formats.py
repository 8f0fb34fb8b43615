"""The string formats a contract can name, as checks, and the comparisons invariants use.

The list of formats and their meaning lives in contracts.model.FORMATS; this module is the one
place that decides whether a string has a format.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = [
    "FORMAT_CHECKS",
    "FORMAT_PATTERNS",
    "loads_rfc8259",
    "parse_date_time",
    "parse_decimal",
]

# Digits are ASCII ([0-9], not \d, which admits any script's digits), and patterns end with \Z
# ($ would also match before a final newline).
_YEAR = r"(?!0000)[0-9]{4}"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|(?!0000){_LEAP_YEAR}-02-29)"  # only days that exist
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# An OSS object name is any UTF-8 text (spaces included) that does not start with a slash or
# a backslash; no control character belongs in one written into JSON.
_OSS_URI = r"oss://[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/[^/\\\x00-\x1f\x7f][^\x00-\x1f\x7f]*"
_URL = r"(?i:https?)://[^\s/?#]+\S*"
_MEDIA_ID = r"[\w*-]+"

#: Formats a regular expression decides exactly, as re.search patterns. The fast path hands
#: these to msgspec, which checks them while parsing; FORMAT_CHECKS is built from the same text,
#: so the two paths cannot disagree.
FORMAT_PATTERNS: dict[str, str] = {
    "date-time": rf"\A{_DATE}T{_TIME}(?:\.[0-9]{{1,9}})?{_ZONE}\Z",
    "local-date-time": rf"\A{_DATE} {_TIME}\Z",
    "oss-uri": rf"\A{_OSS_URI}\Z",
    "url": rf"\A{_URL}\Z",
    "media-location": rf"\A(?:{_OSS_URI}|{_URL}|{_MEDIA_ID})\Z",
    "decimal-string": r"\A-?[0-9]+(?:\.[0-9]+)?\Z",
    "language-tag": r"\A[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*\Z",
}
_COMPILED = {name: re.compile(pattern) for name, pattern in FORMAT_PATTERNS.items()}


def parse_date_time(text: str) -> tuple[dt.datetime, int] | None:
    """RFC 3339 with up to nanosecond fractions -> (aware datetime to the second, nanoseconds)."""
    if _COMPILED["date-time"].search(text) is None:
        return None
    zone = "+00:00" if text[-1] == "Z" else text[-6:]
    fraction = text[20 : len(text) - (1 if text[-1] == "Z" else 6)] if text[19] == "." else ""
    # The pattern admits only real dates and times, so this cannot fail.
    moment = dt.datetime.fromisoformat(text[:19] + zone)
    return moment, int(fraction.ljust(9, "0"))


def fraction_digits(text: str) -> int:
    """How many fraction digits a valid RFC 3339 time is written with (0 for whole seconds)."""
    if text[19] != ".":
        return 0
    return len(text) - 20 - (1 if text[-1] == "Z" else 6)


def parse_decimal(text: str) -> Decimal | None:
    if _COMPILED["decimal-string"].search(text) is None:
        return None
    return Decimal(text)  # the pattern admits only what Decimal reads


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def loads_rfc8259(text: str | bytes) -> Any:
    """json.loads without the NaN, Infinity and -Infinity it also reads (a ValueError)."""
    return json.loads(text, parse_constant=_refuse_constant)


def _json(text: str) -> bool:
    try:
        loads_rfc8259(text)
    except (ValueError, RecursionError):
        return False
    return True


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: pattern.search(text) is not None


FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    **{name: _matches(pattern) for name, pattern in _COMPILED.items()},
    "json": _json,
}
