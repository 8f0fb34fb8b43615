"""Property-based conformance: schemathesis-generated requests, sent signed in the real RPC wire
form, judged by schemathesis's checks and the drift engine.

The default run fuzzes the local twin (bounded, fixed seed) and writes its drift report to
reports/fuzz/. `tox -e live` (ALICONFORM_LIVE=1, credentials set) fuzzes the real endpoints
instead, naming existing tasks from the scenarios' environment variables; it creates no task
unless ALICONFORM_FUZZ_SETUP=1.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from aliconform import load_contracts
from aliconform.drift.doclint import lint_docs
from aliconform.drift.waivers import load_policy
from aliconform.fuzz import (
    Credentials,
    FuzzOptions,
    FuzzRun,
    FuzzTransportError,
    WireTarget,
    fuzz_twin,
    known_parameters,
    run_fuzz,
)
from aliconform.record import RecordTarget, load_scenarios
from aliconform.report import fuzz_report, write_reports

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = load_contracts(REPO / "contracts")
SCENARIOS = REPO / "scenarios.yaml"
SEED = 20201109
EXAMPLES = 20  # per operation and mode


def _key(finding: object) -> tuple[str, str, str, str]:
    return (finding.operation, finding.kind.value, finding.path, finding.rule or "")  # type: ignore[attr-defined]


def _write(run: FuzzRun, out: Path, origin: str) -> object:
    report = fuzz_report(
        run,
        CONTRACTS,
        load_policy(REPO / "drift-policy.yaml"),
        origin=origin,  # type: ignore[arg-type]
    )
    write_reports(report, out)
    return report


@pytest.fixture(scope="module")
def twin_run() -> FuzzRun:
    return fuzz_twin(CONTRACTS, FuzzOptions(max_examples=EXAMPLES, seed=SEED), SCENARIOS)


def test_every_operation_is_exercised_in_both_modes(twin_run: FuzzRun) -> None:
    counts = Counter((case.operation, case.mode) for case in twin_run.cases)
    assert set(counts) == {(op, mode) for op in CONTRACTS for mode in ("positive", "negative")}
    assert all(n >= EXAMPLES // 2 for n in counts.values()), counts
    for operation in CONTRACTS:
        mine = [c for c in twin_run.cases if c.operation == operation]
        assert any(c.known_ids and c.status == 200 for c in mine), f"{operation}: no success"
        assert any(c.mode == "negative" and c.status == 400 for c in mine), operation
        assert not [c.error for c in mine if c.error], operation


def test_the_twin_answers_generated_requests_as_documented(twin_run: FuzzRun) -> None:
    """Against the twin, the only findings are the contradictions the documentation's own
    examples carry (the twin answers with those examples): nothing about how requests are
    treated, no undocumented status or code, nothing schemathesis's checks object to."""
    report = _write(twin_run, REPO / "reports" / "fuzz", "local")
    documented = {_key(f) for f in lint_docs(CONTRACTS)}
    unexplained = sorted({_key(f) for f in twin_run.findings} - documented)
    assert not unexplained, "\n".join(map(str, unexplained))
    assert report.verdict.new_breaking == 0  # type: ignore[attr-defined]


def test_the_same_seed_sends_the_same_requests() -> None:
    options = FuzzOptions(max_examples=5, seed=SEED, operations=("QuerySmarttagJob",))
    first = fuzz_twin(CONTRACTS, options, SCENARIOS)
    second = fuzz_twin(CONTRACTS, options, SCENARIOS)

    # Job ids differ between twins; the generated part of each request does not.
    def sent(run: FuzzRun) -> list[tuple[str, bool, dict[str, str]]]:
        # Every value as sent, except the ids of tasks the twin created (new on each twin).
        return [
            (
                c.id,
                c.known_ids,
                {k: v for k, v in c.params.items() if not (c.known_ids and k == "JobId")},
            )
            for c in run.cases
        ]

    assert sent(first) == sent(second)
    assert len({json.dumps(params, sort_keys=True) for _, _, params in sent(first)}) > 1


@pytest.mark.live
def test_live_service_answers_generated_requests_as_documented() -> None:
    if os.environ.get("ALICONFORM_LIVE") != "1":
        pytest.skip("live tests run in `tox -e live` (ALICONFORM_LIVE=1)")
    try:
        credentials = Credentials.from_default_chain()
    except FuzzTransportError as exc:
        pytest.skip(str(exc))
    record_target = RecordTarget(
        region=os.environ.get("ALIBABA_CLOUD_REGION_ID", "cn-shanghai"),
        endpoint=os.environ.get("ALICONFORM_ENDPOINT") or None,
    )
    hosts = {c.product: record_target.host_and_protocol(c)[0] for c in CONTRACTS.values()}
    known = known_parameters(
        load_scenarios(SCENARIOS, CONTRACTS),
        CONTRACTS,
        record_target,
        allow_setup=os.environ.get("ALICONFORM_FUZZ_SETUP") == "1",
        credentials=credentials,
    )
    run = run_fuzz(CONTRACTS, WireTarget(hosts=hosts), credentials, FuzzOptions(seed=SEED), known)
    report = _write(run, REPO / "reports" / "live-fuzz", "live")
    breaking = [
        f"{f.operation} {f.kind} at {f.path or '/'}: {f.message} ({f.source})"
        for f in report.findings  # type: ignore[attr-defined]
        if f.status == "new" and f.severity.value == "breaking"
    ]
    assert not breaking, "\n".join(breaking)
