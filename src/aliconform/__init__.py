"""aliconform: contract tests and drift reports for Alibaba Cloud IMM and ICE query APIs."""

from aliconform.contracts import Contract, ContractSet, load_contracts
from aliconform.drift import Finding, Kind, Severity, check_response
from aliconform.errors import AliconformError, ContractError, ContractIssue, UnknownOperationError

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
