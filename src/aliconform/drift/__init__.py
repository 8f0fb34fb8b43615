"""The drift engine: check responses against contracts and classify every divergence."""

from aliconform.drift.engine import check_response
from aliconform.drift.findings import Finding, Kind, Severity
from aliconform.drift.policy import SEVERITY_RATIONALE, SeverityOverride, SeverityPolicy

__all__ = [
    "SEVERITY_RATIONALE",
    "Finding",
    "Kind",
    "Severity",
    "SeverityOverride",
    "SeverityPolicy",
    "check_response",
]
