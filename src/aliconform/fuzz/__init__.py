"""Property-based conformance: schemathesis requests from the OpenAPI export, sent signed in
the real RPC wire form, judged by schemathesis's checks and the drift engine."""

from aliconform.fuzz.known import KnownParameters, known_parameters
from aliconform.fuzz.local import TWIN_SCENARIO_VARIABLES, fuzz_twin
from aliconform.fuzz.runner import (
    DriftFailure,
    FuzzCase,
    FuzzOptions,
    FuzzRun,
    drift_check,
    run_fuzz,
)
from aliconform.fuzz.transport import Credentials, FuzzTransportError, WireTarget, sign_request

__all__ = [
    "TWIN_SCENARIO_VARIABLES",
    "Credentials",
    "DriftFailure",
    "FuzzCase",
    "FuzzOptions",
    "FuzzRun",
    "FuzzTransportError",
    "KnownParameters",
    "WireTarget",
    "drift_check",
    "fuzz_twin",
    "known_parameters",
    "run_fuzz",
    "sign_request",
]
