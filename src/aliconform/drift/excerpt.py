"""The part of a response a finding is about, pretty-printed, with the finding's line marked.

The response is laid out as indented JSON where every line knows its JSON pointer; a JSON-string
payload the finding lies inside is shown decoded, so a pointer that continues into the payload
lands on a real line. A pointer with no line of its own (a missing field) marks its parent.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from aliconform.drift.findings import escape_unprintable, pointer_join

__all__ = ["ExcerptLine", "layout", "response_excerpt"]

_MAX_SCALAR = 120
_CONTEXT = 5
_MAX_LINES = 15
_MAX_LAYOUT_LINES = 20_000  # a pathological body must not make the report huge or slow


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    number: int  # 1-based line in the laid-out response
    text: str
    hit: bool


def _scalar(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    text = escape_unprintable(text)
    return text if len(text) <= _MAX_SCALAR else text[: _MAX_SCALAR - 1] + "…"


def layout(data: Any, expand: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(pointer, text) per line of the pretty-printed value; strings at `expand` decoded."""
    lines: list[tuple[str, str]] = []

    def emit(value: Any, pointer: str, depth: int, prefix: str, comma: str) -> None:
        if len(lines) >= _MAX_LAYOUT_LINES:
            return
        pad = "  " * depth
        # Findings spell unprintable characters of keys as escapes; so do these pointers.
        if isinstance(value, str) and escape_unprintable(pointer) in expand:
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict | list):
                emit(decoded, pointer, depth, prefix + "(JSON string, decoded) ", comma)
                return
        if isinstance(value, dict) and value:
            lines.append((pointer, f"{pad}{prefix}{{"))
            items = list(value.items())
            for index, (key, child) in enumerate(items):
                last = index == len(items) - 1
                emit(
                    child,
                    pointer_join(pointer, key),
                    depth + 1,
                    f"{_scalar(str(key))}: ",
                    "" if last else ",",
                )
            lines.append((pointer, f"{pad}}}{comma}"))
        elif isinstance(value, list) and value:
            lines.append((pointer, f"{pad}{prefix}["))
            for index, child in enumerate(value):
                last = index == len(value) - 1
                emit(child, pointer_join(pointer, index), depth + 1, "", "" if last else ",")
            lines.append((pointer, f"{pad}]{comma}"))
        else:
            lines.append((pointer, f"{pad}{prefix}{_scalar(value)}{comma}"))

    emit(data, "", 0, "", "")
    return lines


def response_excerpt(
    body: bytes | str, pointer: str, decoded_at: tuple[str, ...] = ()
) -> list[ExcerptLine]:
    """A window of the response around `pointer`, the line(s) it names marked as hits."""
    laid_out = _laid_out(body, decoded_at)
    if laid_out is None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        raw = text.splitlines()[:_MAX_LINES] or [""]
        return [
            ExcerptLine(i + 1, escape_unprintable(line[:200]), False) for i, line in enumerate(raw)
        ]
    lines, first = laid_out
    target = _target(first, pointer)
    start = max(0, target - _CONTEXT)
    end = min(len(lines), start + _MAX_LINES)
    return [ExcerptLine(i + 1, lines[i][1][:200], i == target) for i in range(start, end)]


# One response often has many findings (an added field in every element of a long array): it
# is parsed and laid out once for all of them, not once per finding.
@functools.lru_cache(maxsize=8)
def _laid_out(
    body: bytes | str, decoded_at: tuple[str, ...]
) -> tuple[list[tuple[str, str]], dict[str, int]] | None:
    """The response's lines and the index of the first line at each pointer; None if the
    body is not JSON."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    lines = layout(data, frozenset(decoded_at))
    first: dict[str, int] = {}
    for index, (at, _text) in enumerate(lines):
        first.setdefault(escape_unprintable(at), index)
    return lines, first


def _target(first: dict[str, int], pointer: str) -> int:
    """Index of the first line at `pointer`, else at its nearest ancestor that has a line."""
    if "*" in pointer:  # an aggregated finding's pattern: the first line it matches
        pointer = _first_match(first, pointer)
    candidate = pointer
    while candidate not in first and candidate:
        candidate = candidate.rsplit("/", 1)[0]
    return first.get(candidate, 0)


def _first_match(first: dict[str, int], pattern: str) -> str:
    """The pointer of the earliest line that a pattern with '*' tokens matches (else the pattern).

    `first` is in line order, so the first pointer that matches is the earliest.
    """
    tokens = pattern.split("/")
    for at in first:
        parts = at.split("/")
        if len(parts) == len(tokens) and all(
            t in ("*", p) for t, p in zip(tokens, parts, strict=True)
        ):
            return at
    return pattern.replace("/*", "")
