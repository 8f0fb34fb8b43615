"""What a fresh recording changed compared with the previous recording of the same cassette.

Contract drift says what differs from the documentation; this says what differs from last
time, which is how a team notices that the service changed even where the documentation is
silent. Both recordings are reduced to what is stable before DeepDiff compares them: every
response's HTTP status and its body, with JSON-in-a-string payloads decoded, and volatile values
(request, event, task and job ids, timestamps, signed-URL signatures and expiries) replaced by a
marker of their type, so that a field that appears, vanishes or changes type is still seen.

Interactions are paired by what they answer, not by position: a polled cassette keeps one answer
per status seen, and a job that finishes sooner skips a status (Submitted, then Success, where
last time there was Processing between). Pairing by position would read that as every field of
every later answer changed. So each interaction is keyed by its HTTP status, its error code and
the polled status field, the two key sequences are aligned (difflib), aligned pairs are compared
field by field, and an answer with no counterpart is reported as one interaction added or removed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from deepdiff import DeepDiff

from aliconform.cassettes.store import CassetteFile
from aliconform.drift.findings import WHOLE_BODY, excerpt, pointer_join, shown_path

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
    # The answer's index in the new recording; for an answer that is gone, in the previous one.
    interaction: int
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
    previous: CassetteFile | None,
    current: CassetteFile,
    cassette: str,
    state_field: str | None = None,
) -> list[BehaviourChange]:
    """Changes from previous to current; [] when there was no previous recording.

    state_field names the body field a polled scenario waits on (JobStatus); answers are paired
    by it, so a status seen in one recording and skipped in the other is one added or removed
    interaction."""
    if previous is None:
        return []
    old, new = stable_view(previous), stable_view(current)
    changes: list[BehaviourChange] = []
    for old_at, new_at in _pairs(
        [_key(v, state_field) for v in old], [_key(v, state_field) for v in new]
    ):
        if old_at is None:
            assert new_at is not None
            changes.append(_whole(cassette, new_at, "item-added", None, new[new_at]))
        elif new_at is None:
            changes.append(_whole(cassette, old_at, "item-removed", old[old_at], None))
        else:
            changes.extend(_compared(old[old_at], new[new_at], new_at, cassette))
    changes.sort(key=lambda c: (c.interaction, c.path))
    return changes


def _key(view: dict[str, Any], state_field: str | None) -> tuple[object, ...]:
    """What an answer is: its status, its error code, and the polled state it reports."""
    body = view["body"]
    if not isinstance(body, dict):
        return (view["status"], None, None)
    code = body.get("Code") if view["status"] >= 400 else None
    state = body.get(state_field) if state_field else None
    return (view["status"], _hashable(code), _hashable(state))


def _hashable(value: Any) -> object:
    return value if value is None or isinstance(value, str | int | float | bool) else repr(value)


def _pairs(
    old: list[tuple[object, ...]], new: list[tuple[object, ...]]
) -> Iterator[tuple[int | None, int | None]]:
    """Indexes of old and new answers paired by key, in order; None where one side has none.
    Within a stretch where the keys differ, answers are paired in order (so a state that
    changed its name is a value change), and the longer side's rest is added or removed."""
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        both = min(i2 - i1, j2 - j1) if tag == "replace" else (i2 - i1 if tag == "equal" else 0)
        for offset in range(both):
            yield i1 + offset, j1 + offset
        for index in range(i1 + both, i2):
            yield index, None
        for index in range(j1 + both, j2):
            yield None, index


def _whole(cassette: str, interaction: int, change: str, old: Any, new: Any) -> BehaviourChange:
    """An answer with no counterpart in the other recording."""
    return BehaviourChange(
        cassette=cassette,
        interaction=interaction,
        path=WHOLE_BODY,
        change=change,
        old=None if old is None else excerpt(old),
        new=None if new is None else excerpt(new),
    )


def _compared(
    old: dict[str, Any], new: dict[str, Any], interaction: int, cassette: str
) -> Iterator[BehaviourChange]:
    diff = DeepDiff(old, new, view="tree")
    for kind, name in _CHANGE_NAMES.items():
        for level in diff.get(kind, []):
            yield _change(level, name, cassette, interaction)


def _change(level: Any, name: str, cassette: str, interaction: int) -> BehaviourChange:
    steps = level.path(output_format="list")
    if steps[:1] == ["body"]:
        steps = steps[1:]
    pointer = ""
    for step in steps:
        pointer = pointer_join(pointer, step)
    return BehaviourChange(
        cassette=cassette,
        interaction=interaction,
        path=shown_path(pointer),
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
        yield f"{c.cassette}#{c.interaction} {c.path}: {c.change} ({c.old} -> {c.new})"
