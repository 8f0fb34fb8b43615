"""Severity: how much a finding matters to code that parses the response, and the overrides.

The default severity of every kind is decided here, once, with its reason. A project overrides
it per kind, per operation, per path (a JSON-pointer glob) and per contract field (a glob over
its field path, which names a payload's variant) in its drift policy file.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aliconform.drift.findings import Finding, Kind, Severity

__all__ = [
    "DEFAULT_SEVERITY",
    "SEVERITY_RATIONALE",
    "SeverityOverride",
    "SeverityPolicy",
    "field_matches",
]

B, W, INFO = Severity.BREAKING, Severity.WARNING, Severity.INFO

#: kind -> (default severity, why). Read this table to know what fails a build.
SEVERITY_RATIONALE: dict[Kind, tuple[Severity, str]] = {
    Kind.UNPARSEABLE_BODY: (B, "a parser gets no JSON at all"),
    Kind.MISSING_REQUIRED_FIELD: (
        B,
        "code that reads the field gets nothing where it was promised",
    ),
    Kind.TYPE_MISMATCH: (B, "typed access (an int, a list, a dict) fails or misreads the value"),
    Kind.UNEXPECTED_NULL: (B, "a null where a value is documented fails typed access"),
    Kind.INVALID_JSON_PAYLOAD: (B, "decoding the JSON inside the string raises"),
    Kind.UNDOCUMENTED_ENUM_VALUE: (
        B,
        "status and type values drive control flow; exhaustive matches and strict enums reject "
        "a new value",
    ),
    Kind.UNDOCUMENTED_HTTP_STATUS: (B, "error handling keyed on the documented statuses misses it"),
    Kind.UNDOCUMENTED_FIELD: (W, "tolerant readers ignore an added field; strict models reject it"),
    Kind.FORMAT_VIOLATION: (
        W,
        "the value has the right type but parsing it (a date, a URI) may fail",
    ),
    Kind.OUT_OF_RANGE: (W, "the value is typed right but outside the documented range"),
    Kind.UNDOCUMENTED_VARIANT: (W, "the payload shape for this type is not documented"),
    Kind.INVARIANT_VIOLATION: (
        W,
        "each field is well-formed but together they contradict the docs",
    ),
    Kind.UNDOCUMENTED_ERROR_CODE: (W, "the error falls through to generic handling"),
    Kind.ERROR_STATUS_MISMATCH: (W, "the code is documented, with another HTTP status"),
    Kind.DOCUMENTED_DIVERGENCE: (
        INFO,
        "the sources disagree; the contract records it with a reason",
    ),
    Kind.REJECTED_VALID_REQUEST: (
        B,
        "a request the documentation allows, about a task that exists, gets an error",
    ),
    Kind.SERVER_ERROR: (
        W,
        "the service fails (5xx) on a request instead of answering or refusing it; callers see "
        "an error that retrying does not cure",
    ),
    Kind.ACCEPTED_INVALID_REQUEST: (
        W,
        "a request the documentation forbids is answered as if valid; code that relies on "
        "the service to reject bad input does not get the documented error",
    ),
    Kind.UNDOCUMENTED_CONTENT_TYPE: (
        W,
        "the answer is not declared as JSON; clients that check the media type refuse it",
    ),
    Kind.SCHEMA_VIOLATION: (
        W,
        "the OpenAPI document's schema rejects a response the drift engine did not flag here; "
        "tools generated from the OpenAPI export would reject it",
    ),
    Kind.CHECK_FAILED: (W, "a schemathesis check failed that no other kind describes"),
}
DEFAULT_SEVERITY: dict[Kind, Severity] = {
    kind: sev for kind, (sev, _) in SEVERITY_RATIONALE.items()
}


@dataclass(frozen=True, slots=True)
class SeverityOverride:
    severity: Severity
    reason: str
    kind: Kind | None = None
    operation: str | None = None
    path: str | None = None  # glob over the JSON pointer, e.g. /Labels/*/LabelName
    field: str | None = None  # glob over the contract field, e.g. Results.Result[].Data(ASR).*

    def matches(self, finding: Finding) -> bool:
        return (
            (self.kind is None or self.kind is finding.kind)
            and (self.operation is None or self.operation == finding.operation)
            and (self.path is None or fnmatch.fnmatchcase(finding.path, self.path))
            and field_matches(self.field, finding.field)
        )


def field_matches(pattern: str | None, field: str | None) -> bool:
    """Whether a finding's contract field (Results.Result[].Data(ASR).text) matches a glob in
    which only * is a wildcard (any characters): a field path's brackets and parentheses are
    literal, where fnmatch would read [] as a set of characters. No pattern matches anything."""
    if pattern is None:
        return True
    return field is not None and _field_pattern(pattern).fullmatch(field) is not None


@functools.cache
def _field_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, pattern.split("*"))))


@dataclass(frozen=True, slots=True)
class SeverityPolicy:
    overrides: Sequence[SeverityOverride] = ()

    def severity(self, kind: Kind) -> Severity:
        return DEFAULT_SEVERITY[kind]

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """The findings with overrides applied; the last matching override wins, and its
        reason goes with the finding (even when it confirms the default severity: the policy
        is then why the severity stays)."""
        if not self.overrides:
            return findings
        result = []
        for finding in findings:
            for override in reversed(self.overrides):
                if override.matches(finding):
                    finding = finding.with_severity(override.severity, override.reason)
                    break
            result.append(finding)
        return result
