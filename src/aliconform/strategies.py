"""Hypothesis strategies for testing your own code: the import to use in your tests.

    from aliconform.strategies import drifted_responses, responses

`responses(operation)` draws response bodies that conform to the operation's contract, encoded
as the API sends them (JSON payloads as strings); `responses(operation, drift=kind)` and
`drifted_responses(operation, kind)` draw ones with exactly one drift of that kind. Needs
hypothesis: `pip install 'aliconform[hypothesis]'`. The generators live in aliconform.generate
(conformant, decoded bodies) and aliconform.drifting (one drift); this module gathers them.
"""

from __future__ import annotations

from aliconform.drifting import (
    DRIFT_KINDS,
    DriftedResponse,
    UnsupportedDriftError,
    drift_fields,
    drift_kinds,
    drifted_responses,
    responses,
)
from aliconform.generate import conformant_responses, encode

__all__ = [
    "DRIFT_KINDS",
    "DriftedResponse",
    "UnsupportedDriftError",
    "conformant_responses",
    "drift_fields",
    "drift_kinds",
    "drifted_responses",
    "encode",
    "responses",
]
