"""Live conformance: every recording scenario called against a real account, checked against
its contract, nothing overwritten. Runs in `tox -e live` only (ALICONFORM_LIVE=1), after its
`aliconform record --check`, whose report it judges; skips, saying why, without credentials or
without the scenario variables. A skip is never a pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aliconform.record import RecordTarget
from aliconform.report import load_report
from aliconform.sdk import NoCredentialsError, credentials_source

REPO = Path(__file__).resolve().parents[1]
LIVE_REPORTS = REPO / "reports" / "live"

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
    """The verdict of the live check `tox -e live` runs first (`aliconform record --check --out
    reports/live`, its arguments after `--`): the scenarios are called once, not again here, so
    no task is created twice, and the generated requests below run whatever it found."""
    del live_target  # credentials and ALICONFORM_LIVE checked: the check ran against the account
    report_file = LIVE_REPORTS / "drift.json"
    if not report_file.is_file():
        pytest.fail(
            f"no {report_file.relative_to(REPO)}: the live check wrote no report (its output is "
            "above); run `aliconform record --check --out reports/live` before this suite",
            pytrace=False,
        )
    report = load_report(report_file)
    failed = [
        f"{row.cassette}: {row.message}" for row in report.recording if row.outcome == "failed"
    ]
    assert not failed, "\n".join(failed)
    if not any(row.outcome == "checked" for row in report.recording):
        skipped = "; ".join(f"{row.scenario}: {row.message}" for row in report.recording)
        pytest.skip(f"every scenario was skipped: {skipped}")
    breaking = [
        f"{f.operation} {f.kind} at {f.path or '/'}: {f.message}"
        for f in report.findings
        if f.status == "new" and f.severity.value == "breaking"
    ]
    assert not breaking, "\n".join(breaking)
    assert not report.problems, "\n".join(f"{p.where}: {p.message}" for p in report.problems)
