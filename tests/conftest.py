from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aliconform import ContractSet, load_contracts

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"


@pytest.fixture(scope="session")
def contracts() -> ContractSet:
    return load_contracts(CONTRACTS)


@pytest.fixture
def contract_dir(tmp_path: Path) -> Callable[[str, str], Path]:
    """A contracts directory holding the real error catalog and one contract file."""

    def make(text: str, name: str = "imm/Sample.yaml") -> Path:
        root = tmp_path / "contracts"
        (root / "common").mkdir(parents=True, exist_ok=True)
        shutil.copy(CONTRACTS / "common" / "errors.yaml", root / "common" / "errors.yaml")
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def copy_of_contracts(tmp_path: Path) -> Path:
    """A writable copy of the real contracts, for tests that break one on purpose."""
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, target)
    return target
