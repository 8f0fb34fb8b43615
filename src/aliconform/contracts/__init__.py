"""Contracts: the declarative statement of what the documentation promises for an operation."""

from aliconform.contracts.loader import (
    ContractSet,
    default_contracts_dir,
    load_catalog,
    load_contract,
    load_contracts,
)
from aliconform.contracts.model import Contract, ErrorCatalog, FieldSpec, Source
from aliconform.contracts.paths import FieldEntry, index_fields, iter_fields

__all__ = [
    "Contract",
    "ContractSet",
    "ErrorCatalog",
    "FieldEntry",
    "FieldSpec",
    "Source",
    "default_contracts_dir",
    "index_fields",
    "iter_fields",
    "load_catalog",
    "load_contract",
    "load_contracts",
]
