"""What a fresh recording changed compared with the previous recording of the same cassette.

Contract drift says what differs from the documentation; this says what differs from last
time, which is how a team notices that the service changed even where the documentation is
silent. Both recordings are reduced to what is stable before DeepDiff compares them: every
response's HTTP status and its body, with JSON-in-a-string payloads decoded, and volatile values
(request, event, task and job ids, timestamps, signed-URL signatures and expiries) replaced by a
marker of their type, so that a field that appears, vanishes or changes type is still seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from deepdiff import DeepDiff

from aliconform.cassettes.store import CassetteFile
from aliconform.drift.findings import excerpt, pointer_join

__all__ = ["BehaviourChange", "behaviour_diff", "stable_view"]

VOLATILE_KEYS = re.compile(
    r"^(RequestId|requestId|EventId|TaskId|JobId|HostId|ClientToken)$|(Time|Date|At)$"
)
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
_SIGNED_URL_PARAM = re.compile(
    r"^(Expires|Signature|OSSAccessKeyId|security-token|auth_key|x-oss-.*)$", re.IGNORECASE
)
_CHANGE_NAMES = {
    "values_changed": "value-changed",
    "type_changes": "type-changed",
    "dictionary_item_added": "field-added",
    "dictionary_item_removed": "field-removed",
    "iterable_item_added": "item-added",
    "iterable_item_removed": "item-removed",
}


@dataclass(frozen=True, slots=True)
class BehaviourChange:
    cassette: str
    interaction: int | None  # None when the change is in the number of interactions
    path: str  # JSON pointer into the (decoded) response body, or /status
    change: str  # field-added, field-removed, type-changed, value-changed, item-added, ...
    old: str | None
    new: str | None


def stable_view(cassette: CassetteFile) -> list[dict[str, Any]]:
    """Each interaction as {status, body} with volatile values masked."""
    return [
        {
            "status": item.response.status.code,
            "body": _mask(None, _decoded(item.response.body.string)),
        }
        for item in cassette.interactions
    ]


def behaviour_diff(
    previous: CassetteFile | None, current: CassetteFile, cassette: str
) -> list[BehaviourChange]:
    """Changes from previous to current; [] when there was no previous recording."""
    if previous is None:
        return []
    diff = DeepDiff(stable_view(previous), stable_view(current), view="tree")
    changes = []
    for kind, name in _CHANGE_NAMES.items():
        for level in diff.get(kind, []):
            changes.append(_change(level, name, cassette))
    changes.sort(key=lambda c: (c.interaction if c.interaction is not None else -1, c.path))
    return changes


def _change(level: Any, name: str, cassette: str) -> BehaviourChange:
    steps = level.path(output_format="list")
    interaction = steps[0] if steps and isinstance(steps[0], int) else None
    rest = steps[1:] if interaction is not None else steps
    if rest[:1] == ["body"]:
        rest = rest[1:]
    pointer = ""
    for step in rest:
        pointer = pointer_join(pointer, step)
    if interaction is not None and not steps[1:]:
        pointer = ""  # a whole interaction came or went
    return BehaviourChange(
        cassette=cassette,
        interaction=interaction,
        path=pointer or "/",
        change=name,
        old=_shown(level.t1),
        new=_shown(level.t2),
    )


def _shown(value: Any) -> str | None:
    if type(value).__name__ == "NotPresent":
        return None
    return excerpt(value)


def _decoded(body: str | bytes | None) -> Any:
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return _decode_payloads(json.loads(text))
    except ValueError:
        return {"<unparseable body>": len(text)}


def _decode_payloads(value: Any) -> Any:
    """JSON objects and arrays inside strings, decoded (the service nests them)."""
    if isinstance(value, dict):
        return {k: _decode_payloads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_payloads(v) for v in value]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return _decode_payloads(json.loads(value))
        except ValueError:
            return value
    return value


def _mask(key: str | None, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mask(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(None, v) for v in value]
    if key is not None and VOLATILE_KEYS.search(key) and not isinstance(value, dict | list):
        return f"<volatile {type(value).__name__}>"
    if isinstance(value, str):
        if _DATE_TIME.match(value):
            return "<date-time>"
        if value.startswith(("http://", "https://")):
            return _unsigned(value)
    return value


def _unsigned(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, "<volatile>" if _SIGNED_URL_PARAM.match(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="<>")))


def iter_changes(changes: list[BehaviourChange]) -> Iterator[str]:
    """One line per change, for the terminal."""
    for c in changes:
        where = f"#{c.interaction}" if c.interaction is not None else ""
        yield f"{c.cassette}{where} {c.path}: {c.change} ({c.old} -> {c.new})"
