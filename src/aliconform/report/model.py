"""The drift report as data: one versioned model behind the HTML, JSON, JUnit and Markdown.

`drift.json` is this model serialised; its JSON Schema is `DriftReport.model_json_schema()`
(`aliconform report schema`). Consumers should check `format` and `format_version`; the version
changes only when a field is removed or changes meaning. A field added within a version is
ignored by a reader that does not know it (this one included, reading a newer report), so the
models and the schema leave members they do not name open.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from aliconform.drift.findings import Finding, Severity, generalise, variant_field

__all__ = [
    "REPORT_FORMAT",
    "REPORT_FORMAT_VERSION",
    "WRITTEN_ALWAYS",
    "BehaviourChangeModel",
    "CheckedSource",
    "DriftReport",
    "ExcerptLineModel",
    "FuzzOperationStats",
    "FuzzStats",
    "OperationSummary",
    "RecordedScenario",
    "ReportFinding",
    "ReportProblem",
    "ReportVerdict",
    "ScanStats",
    "WaiverNote",
    "finding_key",
]

REPORT_FORMAT = "aliconform-drift-report"
REPORT_FORMAT_VERSION = 1

Section = Literal["replay", "documentation", "check", "scan", "fuzz"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ExcerptLineModel(_Model):
    number: int
    text: str
    hit: bool


_AGGREGATED = ("scan", "fuzz")


def finding_key(finding: Finding, section: str) -> str:
    """A stable id for 'the same finding' across runs: what, where, and in which source.

    Scan and fuzz findings are aggregates over many responses: their id leaves the source out,
    so the same drift in two captures (or two generated requests) is the same finding.
    """
    source = "" if section in _AGGREGATED else _identity(finding.source or "")
    parts = [
        section,
        finding.operation,
        finding.kind.value,
        # A finding about no place in the response (a divergence on a request parameter or an
        # error code) is told apart by the field it is about.
        finding.path or finding.field or "",
        finding.rule or "",
        source,
    ]
    if section in _AGGREGATED and (variant := variant_field(finding.path, finding.field)):
        # A pointer into a JSON-string payload does not name its variant; an aggregate over
        # many responses is one per variant (as a response's own source tells them apart).
        # Only then: every other finding keeps the id it had.
        parts.append(variant)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def place_key(finding: ReportFinding) -> tuple[str, ...]:
    """What `report diff` matches on: a finding's id with array indices as '*', so that one
    drift across an array that grew or shrank (a live label list) is the same drift."""
    source = "" if finding.section in _AGGREGATED else _identity(finding.source or "")
    where = generalise(finding.path) if finding.path else finding.field or ""
    place: tuple[str, ...] = (
        finding.section,
        finding.operation,
        finding.kind,
        where,
        finding.rule or "",
        source,
    )
    if finding.section in _AGGREGATED and (variant := variant_field(finding.path, finding.field)):
        place += (variant,)  # as finding_key
    return place


# "cassette <directory>/<product>/<Operation>/<scenario>.yaml#<index>", alone or in parentheses
_CASSETTE = re.compile(r"cassette (?:[^#()]*/)?([^/#()]+/[^/#()]+/[^/#()]+#\d+)")


def _identity(source: str) -> str:
    """A source as its identity: a cassette by <product>/<Operation>/<scenario>.yaml#index, the
    part of its path that the layout fixes, so a copy in a directory of another name (or found
    from another working directory) holds the same findings."""
    return _CASSETTE.sub(r"cassette \1", source)


class ReportFinding(_Model):
    id: str = Field(description="Stable across runs for the same finding; used by `report diff`")
    section: Section
    status: Literal["new", "waived"]
    waiver: str | None = None
    lapsed_waiver: str | None = Field(
        default=None,
        description="A new finding that an expired waiver would have accepted: that waiver's id "
        "(known drift whose waiver lapsed, not drift never seen before); written only then",
    )
    operation: str
    kind: str
    severity: Severity
    path: str = Field(description="RFC 6901 JSON pointer into the response")
    decoded_at: list[str] = Field(default_factory=list)
    message: str
    expected: Any = None
    observed: str | None = None
    field: str | None = None
    contract_location: str | None = None
    rule: str | None = None
    source: str | None = None
    excerpt: list[ExcerptLineModel] = Field(
        default_factory=list,
        description="The response around the finding, its line marked; kept for the first three "
        "findings of one kind at one place (array indices as '*') in one source, empty for the "
        "rest",
    )
    severity_reason: str | None = Field(
        default=None,
        description="The drift policy's reason, when one of its overrides set this finding's "
        "severity; when null, the severity is the kind's default (see severity_rationale)",
    )
    repeats: str | None = Field(
        default=None,
        description="The id of the finding this one repeats: a cassette derived from a "
        "documentation example shows what the documentation lint reports for that example. "
        "Listed in its section, counted once, as the finding it repeats.",
    )
    # Aggregated scans count each distinct finding once:
    count: int = 1
    first_seen: int | None = Field(default=None, description="Scan: first line number")
    last_seen: int | None = Field(default=None, description="Scan: last line number")
    example_lines: list[int] = Field(default_factory=list)
    observed_values: list[str] = Field(
        default_factory=list,
        description="Scan: the distinct observed values when there were several (the new enum "
        "values, say), the earliest first; at most 10, or 100 where the value is the drift (an "
        "undocumented enum value, error code or variant)",
    )
    more_observed_values: bool = Field(
        default=False, description="Scan: distinct values were observed past observed_values"
    )

    @model_serializer(mode="wrap")
    def _without_unlapsed(self, write: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Added within format_version 1: written only when a waiver lapsed, so that a reader
        # from before it (which refuses members it does not know) reads every other report.
        data: dict[str, Any] = write(self)
        if data.get("lapsed_waiver") is None:
            data.pop("lapsed_waiver", None)
        return data

    def observed_summary(self, limit: int = 10) -> str | None:
        """The observed value, or the first distinct ones of a scan joined ("Weird", "Odd", …)."""
        if not self.observed_values:
            return self.observed
        more = self.more_observed_values or len(self.observed_values) > limit
        return ", ".join(self.observed_values[:limit]) + (", …" if more else "")


def distinct_observed(findings: Iterable[ReportFinding], limit: int) -> tuple[list[str], bool]:
    """The distinct values observed across findings (a scan's own lists included), the earliest
    first, at most limit; and whether there were more."""
    observed: list[str] = []
    more = False
    for finding in findings:
        more = more or finding.more_observed_values
        for value in finding.observed_values or ([finding.observed] if finding.observed else []):
            if value not in observed:
                observed.append(value)
    return observed[:limit], more or len(observed) > limit


class CheckedSource(_Model):
    """One thing that was checked: a cassette interaction, a documentation example, a file."""

    id: str
    section: Section
    operation: str
    status: int | None = None
    cassette: str | None = None
    interaction: int | None = None
    origin: Literal["live", "local", "documentation", "unknown", "file", "scan"]
    request: dict[str, str] = Field(
        default_factory=dict, description="fuzz: the business parameters sent (nothing secret)"
    )
    recorded_at: dt.datetime | None = None
    age_days: int | None = None
    region: str | None = None
    endpoint: str | None = None
    sdk: dict[str, str] = Field(default_factory=dict)
    documentation: str | None = None
    synthesized: list[str] = Field(default_factory=list)
    provenance_problem: str | None = None
    written: bool = Field(
        default=True,
        description="record: False when the recording was checked but not written (--check, or "
        "a scenario that failed); `cassette` is then where it would have been written",
    )
    new: int = 0
    waived: int = 0
    worst: Severity | None = None


#: What the per-operation counts count, said under each table of them.
OPERATION_COUNTS = (
    "checked: responses of this run judged (the documentation's examples are the lint's, not "
    "counted here); breaking, warning, info, waived: findings, each counted as "
    "often as it was seen (in a scan or a property-based run, once per occurrence, so one "
    "response may add several, and a request left unanswered adds its no-answer finding)"
)


class OperationSummary(_Model):
    operation: str
    checked: int = Field(0, description="Responses checked")
    breaking: int = Field(0, description="New breaking findings, each counted as often as seen")
    warning: int = Field(0, description="New warnings, each counted as often as seen")
    info: int = Field(0, description="New info findings, each counted as often as seen")
    waived: int = Field(0, description="Waived findings, each counted as often as seen")


class WaiverNote(_Model):
    id: str
    operation: str
    kind: str
    reason: str
    expires: dt.date | None = None
    problem: Literal["expired", "unused"]


class ReportProblem(_Model):
    """Input that could not be checked at all (an unreadable cassette, say)."""

    where: str
    message: str


class ReportVerdict(_Model):
    passed: bool
    exit_code: int
    new_breaking: int
    new: int
    waived: int
    headline: str


class ScanStats(_Model):
    file: str
    lines: int
    interactions: int
    skipped_lines: int
    distinct_findings: int
    seconds: float
    workers: int


class FuzzOperationStats(_Model):
    operation: str
    positive: int = 0
    negative: int = 0
    existing_ids: int = Field(0, description="positive requests naming a task that exists")
    statuses: dict[str, int] = Field(default_factory=dict)


class FuzzStats(_Model):
    """How a property-based run was made: reproduce it with the same seed and bound."""

    endpoint: str
    seed: int
    max_examples: int = Field(description="Requests drawn per operation and mode")
    modes: list[str]
    cases: int
    seconds: float
    operations: list[FuzzOperationStats] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class BehaviourChangeModel(_Model):
    """A difference from the previous recording of a cassette (volatile values ignored)."""

    cassette: str
    interaction: int | None = Field(
        None,
        description="Index of the answer in the new recording (in the previous one when the "
        "change is item-removed); answers are paired by status, error code and polled state",
    )
    path: str = Field(description="JSON pointer into the decoded response body, or /status")
    change: str = Field(description="field-added, field-removed, type-changed, value-changed, ...")
    old: str | None = None
    new: str | None = None


class RecordedScenario(_Model):
    """One recording scenario and what became of it."""

    operation: str
    scenario: str
    cassette: str
    outcome: Literal["recorded", "checked", "skipped", "failed"]
    message: str = ""
    attempts: int = 0
    retries: int = 0
    states: list[str] = Field(default_factory=list)


#: What every report is written with, whatever its run: a file without one of these is no report
#: (the rest may be absent from a report an earlier version wrote).
WRITTEN_ALWAYS = (
    "format",
    "format_version",
    "tool_version",
    "generated_at",
    "run",
    "title",
    "verdict",
    "findings",
)


def _require_written(schema: dict[str, Any]) -> None:
    schema["required"] = [*WRITTEN_ALWAYS]


class DriftReport(_Model):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_require_written)

    format: Literal["aliconform-drift-report"] = "aliconform-drift-report"
    format_version: Literal[1] = 1
    tool_version: str
    generated_at: dt.datetime
    run: Literal["replay", "scan", "check", "record", "fuzz"]
    title: str
    inputs: dict[str, str] = Field(default_factory=dict)
    verdict: ReportVerdict
    operations: list[OperationSummary] = Field(default_factory=list)
    findings: list[ReportFinding] = Field(default_factory=list)
    sources: list[CheckedSource] = Field(default_factory=list)
    waivers: list[WaiverNote] = Field(default_factory=list)
    problems: list[ReportProblem] = Field(default_factory=list)
    severity_rationale: dict[str, str] = Field(default_factory=dict)
    scan: ScanStats | None = None
    fuzz: FuzzStats | None = None
    recording: list[RecordedScenario] = Field(
        default_factory=list, description="record: every scenario and its outcome"
    )
    behaviour: list[BehaviourChangeModel] = Field(
        default_factory=list, description="record: changes since the previous recordings"
    )

    def findings_in(self, section: Section) -> list[ReportFinding]:
        return [finding for finding in self.findings if finding.section == section]

    def unwritten(self, finding: ReportFinding) -> bool:
        """Whether the finding's source is a recording checked but not written (record --check,
        a scenario that failed): its cassette path is only where it would have been."""
        return finding.source is not None and finding.source in self._unwritten_sources

    @functools.cached_property
    def _unwritten_sources(self) -> frozenset[str]:
        return frozenset(source.id for source in self.sources if not source.written)
