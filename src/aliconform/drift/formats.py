"""The string formats a contract can name, as checks, and the comparisons invariants use.

The list of formats and their meaning lives in contracts.model.FORMATS; this module is the one
place that decides whether a string has a format.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

__all__ = ["FORMAT_CHECKS", "parse_date_time", "parse_decimal"]

_DATE_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)
_LOCAL_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_OSS_URI = re.compile(r"^oss://[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/\S+$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_MEDIA_ID = re.compile(r"^[\w*-]+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def parse_date_time(text: str) -> tuple[dt.datetime, int] | None:
    """RFC 3339 with up to nanosecond fractions -> (aware datetime to the second, nanoseconds)."""
    match = _DATE_TIME.match(text)
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    try:
        moment = dt.datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return moment, int((fraction or "").ljust(9, "0"))


def parse_decimal(text: str) -> Decimal | None:
    if not _DECIMAL.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _local(text: str) -> bool:
    if not _LOCAL_DATE_TIME.match(text):
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


FORMAT_CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": lambda text: parse_date_time(text) is not None,
    "local-date-time": _local,
    "oss-uri": lambda text: bool(_OSS_URI.match(text)),
    "url": lambda text: bool(_URL.match(text)),
    "media-location": lambda text: bool(
        _OSS_URI.match(text) or _URL.match(text) or _MEDIA_ID.match(text)
    ),
    "decimal-string": lambda text: parse_decimal(text) is not None,
    "language-tag": lambda text: bool(_LANGUAGE.match(text)),
    "json": _json,
}
