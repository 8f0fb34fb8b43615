"""The twin: a local stand-in for the IMM and ICE endpoints, for recording through the SDK.

It answers the five query operations and the five create/submit operations that feed them
over the real RPC wire form (V3 and V2 signatures, verified with the official SDK's own
functions), with the documentation's example responses, documented error codes, task
lifecycles, and on demand known drift (`DRIFT_PROFILES`) and faults (`parse_faults`).
"""

from aliconform.twin.app import HandledRequest, Twin, create_app
from aliconform.twin.config import TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET, TwinConfig
from aliconform.twin.drift import DRIFT_PROFILES, DriftProfile, apply_drift, expected_findings
from aliconform.twin.errors import TwinConfigError, TwinPortError
from aliconform.twin.faults import FAULT_KINDS, FaultPlan, FaultRule, parse_faults
from aliconform.twin.operations import CREATES, OPERATIONS, QUERIES
from aliconform.twin.server import TwinServer, run_twin

__all__ = [
    "CREATES",
    "DRIFT_PROFILES",
    "FAULT_KINDS",
    "OPERATIONS",
    "QUERIES",
    "TWIN_ACCESS_KEY_ID",
    "TWIN_ACCESS_KEY_SECRET",
    "DriftProfile",
    "FaultPlan",
    "FaultRule",
    "HandledRequest",
    "Twin",
    "TwinConfig",
    "TwinConfigError",
    "TwinPortError",
    "TwinServer",
    "apply_drift",
    "create_app",
    "expected_findings",
    "parse_faults",
    "run_twin",
]
