"""aliconform: contract tests and drift reports for Alibaba Cloud IMM and ICE query APIs."""

from aliconform.contracts import Contract, ContractSet, load_contracts
from aliconform.errors import AliconformError, ContractError, ContractIssue, UnknownOperationError

__all__ = [
    "AliconformError",
    "Contract",
    "ContractError",
    "ContractIssue",
    "ContractSet",
    "UnknownOperationError",
    "__version__",
    "load_contracts",
]

__version__ = "0.1.0"
