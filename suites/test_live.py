"""Live conformance: every recording scenario called against a real account, checked against
its contract, nothing overwritten. Runs in `tox -e live` only (ALICONFORM_LIVE=1), and skips,
saying why, without credentials or without the scenario variables. A skip is never a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aliconform import load_contracts
from aliconform.drift.waivers import judge, load_policy
from aliconform.record import RecordTarget, load_scenarios, record_scenarios
from aliconform.sdk import NoCredentialsError, credentials_source

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def live_target() -> RecordTarget:
    if os.environ.get("ALICONFORM_LIVE") != "1":
        pytest.skip("live tests run in `tox -e live` (ALICONFORM_LIVE=1)")
    try:
        source = credentials_source()
    except NoCredentialsError as exc:
        pytest.skip(str(exc))
    print(f"credentials from {source}")
    return RecordTarget(
        region=os.environ.get("ALIBABA_CLOUD_REGION_ID", "cn-shanghai"),
        endpoint=os.environ.get("ALICONFORM_ENDPOINT") or None,
    )


def test_live_answers_conform_to_the_contracts(live_target: RecordTarget) -> None:
    contracts = load_contracts(REPO / "contracts")
    scenarios = load_scenarios(REPO / "scenarios.yaml", contracts)
    run = record_scenarios(scenarios, contracts, live_target, REPO / "cassettes", check_only=True)
    failed = [f"{r.cassette.display}: {r.message}" for r in run.with_outcome("failed")]
    assert not failed, "\n".join(failed)
    if not run.with_outcome("checked"):
        skipped = "; ".join(f"{r.scenario.name}: {r.message}" for r in run.results)
        pytest.skip(f"every scenario was skipped: {skipped}")
    verdict = judge(run.replay.findings, load_policy(REPO / "drift-policy.yaml"))
    breaking = [
        f"{f.operation} {f.kind.value} at {f.path or '/'}: {f.message}"
        for f in verdict.new
        if f.severity.value == "breaking"
    ]
    assert not breaking, "\n".join(breaking)
