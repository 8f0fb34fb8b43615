"""Drift profiles: named, known changes to the twin's finished-task answers.

A recording made against a drifting twin is a test of the drift engine and of a consumer's own
code with a change whose findings are known in advance. Each profile is a list of edits per
query operation; each edit produces exactly one finding, of a stated kind at a stated JSON
pointer, on top of whatever the undrifted answer already produces (the documentation's own
examples carry a few). `expected_findings` is that set, and the tests hold the engine to it.

Profiles touch only terminal answers of the query operations, and never RequestId. They leave
the status a poller watches alone, with one exception: QuerySmarttagJob requires nothing but
RequestId and JobStatus, so its dropped-required-field drops JobStatus. A poller then stops at
an answer without a state (a terminal answer has no state to wait for), which is what a
service that drops it would make it do.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from aliconform.drift.findings import Kind
from aliconform.errors import did_you_mean
from aliconform.twin.errors import TwinConfigError

__all__ = [
    "DRIFT_PROFILES",
    "DriftProfile",
    "Edit",
    "apply_drift",
    "drift_profile",
    "expected_findings",
]

EditAction = Literal["add", "set", "remove", "break-json"]
ADDED_FIELD = "UndocumentedField"


@dataclass(frozen=True, slots=True)
class Edit:
    """One change at one JSON pointer, and the finding kind it must produce there."""

    operation: str
    action: EditAction
    pointer: str
    finding: Kind
    value: Any = None

    def apply(self, body: dict[str, Any]) -> None:
        parent, key = _parent(body, self.pointer)
        if self.action == "remove":
            del parent[key]
        elif self.action == "break-json":
            parent[key] = _broken(parent[key])
        elif isinstance(parent, list) and not 0 <= key < len(parent):
            raise LookupError(f"{self.operation}: nothing at {self.pointer} to change")
        else:  # add, or set: a documented field gets the value (also where the task left it out)
            parent[key] = copy.deepcopy(self.value)


@dataclass(frozen=True, slots=True)
class DriftProfile:
    name: str
    description: str
    edits: tuple[Edit, ...]

    def edits_for(self, operation: str) -> tuple[Edit, ...]:
        return tuple(edit for edit in self.edits if edit.operation == operation)

    def apply(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """A drifted copy of a terminal query body (the input is left alone)."""
        drifted = copy.deepcopy(body)
        for edit in self.edits_for(operation):
            edit.apply(drifted)
        return drifted

    def expected(self, operation: str) -> frozenset[tuple[str, str]]:
        """(finding kind slug, JSON pointer) of every finding the profile adds."""
        return frozenset((edit.finding.value, edit.pointer) for edit in self.edits_for(operation))


def _parent(body: dict[str, Any], pointer: str) -> tuple[Any, Any]:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    node: Any = body
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    last = tokens[-1]
    return node, int(last) if isinstance(node, list) else last


def _broken(text: Any) -> str:
    """JSON text cut short (its last closing character dropped): no longer parses."""
    if not isinstance(text, str):
        raise TypeError("break-json needs a string carrying JSON")
    broken = text.rstrip()[:-1]
    try:
        json.loads(broken)
    except ValueError:
        return broken
    raise ValueError(f"cutting {text!r} short still leaves JSON")


_VIDEO_LABEL = "GetVideoLabelClassificationResult"
_IMM_IMAGE = "GetImageModerationResult"
_IMM_VIDEO = "GetVideoModerationResult"
_SMARTTAG = "QuerySmarttagJob"
_IPRODUCTION = "QueryIProductionJob"
_QUERY_OPERATIONS = (_VIDEO_LABEL, _IMM_IMAGE, _IMM_VIDEO, _SMARTTAG, _IPRODUCTION)
_FRAME = "/ModerationResult/Frames/BlockFrames/0"

_ADDED_FIELD = tuple(
    Edit(op, "add", f"/{ADDED_FIELD}", Kind.UNDOCUMENTED_FIELD, "added by the drift profile")
    for op in _QUERY_OPERATIONS
)
_TYPE_CHANGE = (
    Edit(
        _VIDEO_LABEL, "set", "/Labels/0/LabelConfidence", Kind.TYPE_MISMATCH, "0.9891784601980591"
    ),
    Edit(_IMM_IMAGE, "set", f"{_FRAME}/Offset", Kind.TYPE_MISMATCH, "2"),
    Edit(_IMM_VIDEO, "set", f"{_FRAME}/Offset", Kind.TYPE_MISMATCH, "1"),
    Edit(_SMARTTAG, "set", "/Usages/Usage/0/Quota", Kind.TYPE_MISMATCH, "0"),
    Edit(_IPRODUCTION, "set", "/ScheduleConfig/Priority", Kind.TYPE_MISMATCH, "6"),
)
_NEW_ENUM_VALUE = (
    Edit(_VIDEO_LABEL, "set", "/Labels/0/LabelLevel", Kind.UNDOCUMENTED_ENUM_VALUE, 4),
    Edit(
        _IMM_IMAGE, "set", "/ModerationResult/Suggestion", Kind.UNDOCUMENTED_ENUM_VALUE, "escalate"
    ),
    Edit(
        _IMM_VIDEO, "set", "/ModerationResult/Suggestion", Kind.UNDOCUMENTED_ENUM_VALUE, "escalate"
    ),
    Edit(_SMARTTAG, "set", "/Results/Result/0/Type", Kind.UNDOCUMENTED_ENUM_VALUE, "FaceLabel"),
    Edit(_IPRODUCTION, "set", "/Input/Type", Kind.UNDOCUMENTED_ENUM_VALUE, "URL"),
)
# GetVideoLabelClassificationResult has no JSON-in-a-string field: nothing to break.
_BROKEN_JSON_PAYLOAD = (
    Edit(_IMM_IMAGE, "break-json", f"{_FRAME}/Label", Kind.INVALID_JSON_PAYLOAD),
    Edit(_IMM_VIDEO, "break-json", f"{_FRAME}/Label", Kind.INVALID_JSON_PAYLOAD),
    Edit(_SMARTTAG, "break-json", "/Results/Result/0/Data", Kind.INVALID_JSON_PAYLOAD),
    Edit(_IPRODUCTION, "break-json", "/Result", Kind.INVALID_JSON_PAYLOAD),
)
_DROPPED_REQUIRED_FIELD = (
    Edit(_VIDEO_LABEL, "remove", "/TaskId", Kind.MISSING_REQUIRED_FIELD),
    Edit(_IMM_IMAGE, "remove", "/TaskId", Kind.MISSING_REQUIRED_FIELD),
    Edit(_IMM_VIDEO, "remove", "/TaskId", Kind.MISSING_REQUIRED_FIELD),
    Edit(_SMARTTAG, "remove", "/JobStatus", Kind.MISSING_REQUIRED_FIELD),
    Edit(_IPRODUCTION, "remove", "/JobId", Kind.MISSING_REQUIRED_FIELD),
)

_SINGLE_PROFILES = (
    DriftProfile(
        "added-field",
        f"an undocumented top-level field ({ADDED_FIELD})",
        _ADDED_FIELD,
    ),
    DriftProfile(
        "type-change",
        "a documented field changes JSON type (a number or integer sent as a string)",
        _TYPE_CHANGE,
    ),
    DriftProfile(
        "new-enum-value",
        "an enum field, not the polled status, carries an undocumented value",
        _NEW_ENUM_VALUE,
    ),
    DriftProfile(
        "broken-json-payload",
        "a JSON document carried in a string no longer parses (operations that carry one)",
        _BROKEN_JSON_PAYLOAD,
    ),
    DriftProfile(
        "dropped-required-field",
        "a required field other than RequestId is left out",
        _DROPPED_REQUIRED_FIELD,
    ),
)
_PROFILES = (
    *_SINGLE_PROFILES,
    DriftProfile(
        "all",
        "every other profile at once",
        tuple(edit for profile in _SINGLE_PROFILES for edit in profile.edits),
    ),
)

DRIFT_PROFILES: Mapping[str, DriftProfile] = MappingProxyType(
    {profile.name: profile for profile in _PROFILES}
)


def drift_profile(name: str) -> DriftProfile:
    """The named profile; TwinConfigError with the nearest name for an unknown one."""
    profile = DRIFT_PROFILES.get(name)
    if profile is None:
        raise TwinConfigError(
            f"unknown drift profile {name!r}{did_you_mean(name, DRIFT_PROFILES)}; "
            f"profiles: {', '.join(DRIFT_PROFILES)}"
        )
    return profile


def expected_findings(profile: str, operation: str) -> frozenset[tuple[str, str]]:
    """The (finding kind slug, JSON pointer) pairs the profile adds to an operation's answer."""
    return drift_profile(profile).expected(operation)


def apply_drift(profile: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """A drifted copy of a terminal query body."""
    return drift_profile(profile).apply(operation, body)
