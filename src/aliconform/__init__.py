"""aliconform: contract tests and drift reports for Alibaba Cloud IMM and ICE query APIs.

The names below are imported when first used: installing aliconform adds a pytest plugin that
every pytest run in the environment imports, and that import must not load the contracts'
models and the drift engine for a test run that never checks a response.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aliconform.errors import AliconformError, ContractError, ContractIssue, UnknownOperationError

if TYPE_CHECKING:
    from aliconform.contracts import Contract, ContractSet, load_contracts
    from aliconform.drift import Finding, Kind, Severity, check_response

__all__ = [
    "AliconformError",
    "Contract",
    "ContractError",
    "ContractIssue",
    "ContractSet",
    "Finding",
    "Kind",
    "Severity",
    "UnknownOperationError",
    "__version__",
    "check_response",
    "load_contracts",
]

__version__ = "0.1.0"

_LAZY = {
    "Contract": "aliconform.contracts",
    "ContractSet": "aliconform.contracts",
    "load_contracts": "aliconform.contracts",
    "Finding": "aliconform.drift",
    "Kind": "aliconform.drift",
    "Severity": "aliconform.drift",
    "check_response": "aliconform.drift",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aliconform' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
