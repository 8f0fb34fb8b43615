"""Findings: one divergence between a response and its contract, as data.

A finding has a stable `kind` slug, a `severity`, an RFC 6901 JSON pointer into the response
(continuing into the decoded JSON of a string field, with `decoded_at` naming where decoding
happened), the contract location of the field, what was expected and what was observed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "VALUE_KINDS",
    "Finding",
    "Kind",
    "Severity",
    "displayed",
    "escape_unprintable",
    "excerpt",
    "generalise",
    "path_order",
    "pointer_join",
    "shown_path",
    "variant_field",
]


class Kind(StrEnum):
    """Stable slugs: reports, waivers and severity overrides refer to findings by these."""

    UNPARSEABLE_BODY = "unparseable-body"
    UNDOCUMENTED_FIELD = "undocumented-field"
    MISSING_REQUIRED_FIELD = "missing-required-field"
    TYPE_MISMATCH = "type-mismatch"
    UNEXPECTED_NULL = "unexpected-null"
    UNDOCUMENTED_ENUM_VALUE = "undocumented-enum-value"
    FORMAT_VIOLATION = "format-violation"
    OUT_OF_RANGE = "out-of-range"
    INVALID_JSON_PAYLOAD = "invalid-json-payload"
    UNDOCUMENTED_VARIANT = "undocumented-variant"
    INVARIANT_VIOLATION = "invariant-violation"
    UNDOCUMENTED_HTTP_STATUS = "undocumented-http-status"
    UNDOCUMENTED_ERROR_CODE = "undocumented-error-code"
    ERROR_STATUS_MISMATCH = "error-status-mismatch"
    DOCUMENTED_DIVERGENCE = "documented-divergence"
    # How the service treats requests (from the property-based runs, `aliconform fuzz`):
    SERVER_ERROR = "server-error"
    REJECTED_VALID_REQUEST = "rejected-valid-request"
    ACCEPTED_INVALID_REQUEST = "accepted-invalid-request"
    UNDOCUMENTED_CONTENT_TYPE = "undocumented-content-type"
    SCHEMA_VIOLATION = "schema-violation"
    CHECK_FAILED = "check-failed"


#: Kinds whose observed value is the drift itself (a new enum value, error code or variant):
#: another value at the same place is another drift, which code handling the first does not
#: handle. For the other kinds the observed value changes from response to response (an id, a
#: time) without anything being worse.
VALUE_KINDS = frozenset(
    {Kind.UNDOCUMENTED_ENUM_VALUE, Kind.UNDOCUMENTED_ERROR_CODE, Kind.UNDOCUMENTED_VARIANT}
)


class Severity(StrEnum):
    BREAKING = "breaking"  # code written from the documentation fails on this response
    WARNING = "warning"  # code keeps working but sees something the documentation does not promise
    INFO = "info"  # worth knowing; nothing a consumer does is affected

    @property
    def rank(self) -> int:
        return {"breaking": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True, slots=True)
class Finding:
    operation: str
    kind: Kind
    severity: Severity
    path: str  # JSON pointer into the response ("" is the whole body)
    message: str
    expected: Any = None
    observed: str | None = None  # a short, escaped excerpt, never the whole value
    field: str | None = (
        None  # contract field path, e.g. Results.Result[].Data(VideoLabel).persons[]
    )
    contract_location: str | None = None  # file:line of the field (or invariant, or code)
    decoded_at: tuple[str, ...] = ()  # pointers of the JSON-string fields decoded on the way
    rule: str | None = None  # invariant id, error code, or divergence aspect
    source: str | None = None  # what was checked: a cassette, a documentation example, a file
    # Why the severity is what it is, when a drift policy set it (that override's reason);
    # None: the default for the kind (policy.SEVERITY_RATIONALE says why).
    severity_reason: str | None = None

    def __post_init__(self) -> None:
        # Keys and values of the response reach every report and the console through these:
        # each character that is not printable is spelled as its escape (see escape_unprintable).
        for name in ("path", "message", "field"):
            text = getattr(self, name)
            if text is not None and not text.isprintable():
                object.__setattr__(self, name, escape_unprintable(text))
        if not all(pointer.isprintable() for pointer in self.decoded_at):
            object.__setattr__(self, "decoded_at", tuple(map(escape_unprintable, self.decoded_at)))

    def with_source(self, source: str | None) -> Finding:
        return self if source is None or self.source == source else replace(self, source=source)

    def with_severity(self, severity: Severity, reason: str | None = None) -> Finding:
        if severity is self.severity and reason == self.severity_reason:
            return self
        return replace(self, severity=severity, severity_reason=reason)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["severity"] = self.severity.value
        data["decoded_at"] = list(self.decoded_at)
        return data

    def __str__(self) -> str:
        where = shown_path(self.path, self.field)
        inside = f" (inside the JSON of {self.decoded_at[-1]})" if self.decoded_at else ""
        return f"{self.severity.value}: {self.kind.value} at {where}{inside}: {self.message}"


#: How the pointer "" (RFC 6901: the whole document) is shown. "/" would read as the whole body
#: but is the pointer to a member named "", so a waiver copied from it would never match.
WHOLE_BODY = "(whole body)"


def shown_path(path: str, field: str | None = None) -> str:
    """A finding's pointer as a reader sees it: the whole body, or a documentation lint's
    divergence on a request parameter or error code (no place in a response), said in words."""
    if path:
        return path
    if field and field.startswith(("request ", "error ")):
        return f"({field})"
    return WHOLE_BODY


_INDEX = re.compile(r"/\d+(?=/|$)")


def generalise(pointer: str) -> str:
    """A JSON pointer with its array indices as '*': one place for every element."""
    return _INDEX.sub("/*", pointer)


def path_order(pointer: str) -> tuple[tuple[int, int, str], ...]:
    """A sort key that puts /Labels/2 before /Labels/10 (array indices compare as numbers)."""
    return tuple(
        (0, int(token), "") if token.isdigit() else (1, 0, token) for token in pointer.split("/")
    )


def pointer_join(pointer: str, token: str | int) -> str:
    """Append one reference token, escaped per RFC 6901 (~ as ~0, / as ~1)."""
    text = str(token).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


def escape_unprintable(text: str) -> str:
    """The text with each character that is not printable written as its escape (\\x1b,
    \\u202e, \\ud800, \\n): a key or value of a response can then neither drive a terminal
    (ESC), reorder what a reader sees (a bidirectional override), nor stop a report being
    written (a lone surrogate, JSON's "\\ud800", has no UTF-8 form)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


# A payload variant in a contract field's path: Data(ASR); (json) marks a payload without any.
_VARIANT = re.compile(r"\((?!json\))[^()]+\)")


def variant_field(path: str, field: str | None) -> str | None:
    """The contract field of a finding inside a payload variant, whose pointer alone does not
    say which (ASR or OCR results), else None: what tells aggregates, ids and places apart."""
    return field if path and field and _VARIANT.search(field) else None


def displayed(path: Path | str) -> str:
    """A file name as reports and the console can show it: bytes that are not UTF-8 (which
    Python keeps as lone surrogates, and no report can be written with) as \\xff, other
    unprintable characters as their escapes."""
    return escape_unprintable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


_EXCERPT = 80


def excerpt(value: Any, limit: int = _EXCERPT) -> str:
    """A short JSON rendering of a value: bounded, control characters escaped, safe to print."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = repr(type(value))
    text = escape_unprintable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
