"""The replay suite: every committed cassette interaction, played back offline and checked.

One test per interaction. The network is blocked while replaying (a request that no cassette
answers fails rather than reaching out). New breaking findings, after the drift policy's
waivers, fail the test with the operation, JSON path and kind; warnings are reported and pass.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import pytest

from aliconform import ContractSet, load_contracts
from aliconform.cassettes import (
    ReplayedInteraction,
    discover_cassettes,
    iter_replay,
    load_cassette,
    load_provenance,
)
from aliconform.cassettes.store import CassetteRef, provenance_is_current, survey_cassettes
from aliconform.drift.findings import Severity
from aliconform.drift.waivers import judge, load_policy
from aliconform.errors import AliconformError

REPO = Path(__file__).resolve().parents[1]
CASSETTES = REPO / "cassettes"


def _cases() -> list[object]:
    """One case per interaction; a file that cannot be replayed (unreadable, misplaced) is a
    case of its own that fails with the reason, so that it fails its own test and never the
    collection of every other one."""
    refs, misplaced = survey_cassettes(CASSETTES)
    cases = [pytest.param(item.display, item.reason, id=item.display) for item in misplaced]
    for ref in refs:
        name = f"{ref.operation}/{ref.scenario}"
        try:
            count = len(load_cassette(ref.path).interactions)
        except AliconformError as exc:
            cases.append(pytest.param(ref, str(exc), id=name))
            continue
        cases += [pytest.param(ref, index, id=f"{name}#{index}") for index in range(count)]
    return cases


@functools.cache
def _contracts() -> ContractSet:
    return load_contracts(REPO / "contracts")


@functools.cache
def _replayed(ref: CassetteRef) -> tuple[list[ReplayedInteraction], str | None]:
    """The interactions played back and checked, and why the rest could not be, if so."""
    played: list[ReplayedInteraction] = []
    try:
        cassette = load_cassette(ref.path)
        played.extend(iter_replay(ref, cassette, _contracts(), load_provenance(ref)))
    except AliconformError as exc:
        return played, str(exc)
    return played, None


class DriftWarning(UserWarning):
    """A non-breaking difference between a recorded response and its contract."""


@pytest.mark.parametrize(("ref", "index"), _cases())
def test_recorded_interaction_conforms(ref: CassetteRef | str, index: int | str) -> None:
    if isinstance(index, str):
        pytest.fail(f"{ref}: {index}", pytrace=False)
    assert isinstance(ref, CassetteRef)
    played, problem = _replayed(ref)
    if index >= len(played):
        pytest.fail(f"{ref.display}: {problem}", pytrace=False)
    interaction = played[index]
    verdict = judge(interaction.findings, load_policy(REPO / "drift-policy.yaml"), operations=[])
    for finding in verdict.new:
        if finding.severity is not Severity.BREAKING:
            warnings.warn(f"{finding.operation}: {finding}", DriftWarning, stacklevel=1)
    breaking = verdict.new_breaking
    assert not breaking, "\n".join(
        f"{f.operation} {f.path or '/'} {f.kind.value}: {f.message} (contract {f.contract_location})"
        for f in breaking
    )


def test_every_cassette_has_current_provenance() -> None:
    stale = []
    for ref in discover_cassettes(CASSETTES):
        provenance = load_provenance(ref)
        if provenance is None:
            stale.append(f"{ref.display}: no provenance sidecar")
        elif not provenance_is_current(provenance, load_cassette(ref.path)):
            stale.append(f"{ref.display}: changed since its provenance was written")
    assert not stale, "\n".join(stale)


def test_the_library_covers_every_operation_and_documented_error() -> None:
    refs = discover_cassettes(CASSETTES)
    contracts = _contracts()
    by_operation: dict[str, set[str]] = {}
    for ref in refs:
        by_operation.setdefault(ref.operation, set()).add(ref.scenario)
    assert set(by_operation) == set(contracts)
    for operation, scenarios in by_operation.items():
        whole_examples = [e for e in contracts[operation].examples if e.of is None]
        assert {f"doc-example-{e.name}" for e in whole_examples} <= scenarios, operation
        assert any(s.startswith("doc-error-missing-") for s in scenarios), operation
    imm = [op for op, c in contracts.items() if c.product == "imm"]
    for operation in imm:
        assert {"doc-error-resource-not-found", "doc-error-invalid-tasktype"} <= by_operation[
            operation
        ]
    assert "doc-error-idempotent-parameter-mismatch" in by_operation["QueryIProductionJob"]
