"""Conformance of the contracts to the official SDK models, their second source.

Fails when a response field or request parameter the installed SDK model knows is missing from
the contract or typed incompatibly, unless the contract records that divergence with a reason.
"""

from __future__ import annotations

import pytest

from aliconform import ContractSet, load_contracts
from aliconform.contracts.sdkcheck import compare_with_sdk

CONTRACTS = load_contracts()


@pytest.fixture(scope="module")
def contracts() -> ContractSet:
    return CONTRACTS


@pytest.mark.parametrize("operation", list(CONTRACTS))
def test_contract_matches_sdk_model(contracts: ContractSet, operation: str) -> None:
    contract = contracts[operation]
    pytest.importorskip(contract.sources.sdk.module.split(".")[0])
    mismatches = compare_with_sdk(contract)
    assert not mismatches, "\n".join(f"{m.kind}: {m.path}: {m.message}" for m in mismatches)
