"""Recording end to end, offline: `aliconform record` through the official SDK against the twin.

Every scenario in the shipped scenarios.yaml is recorded (with short poll waits); the cassettes
replay cleanly; a drift profile shows up in the report as exactly the injected drifts; faults
are retried and never damage a cassette; a killed recording leaves every cassette whole; the
planted credentials appear nowhere on disk.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from aliconform import ContractSet, load_contracts
from aliconform.cassettes.replay import replay_all
from aliconform.cassettes.store import discover_cassettes, load_cassette
from aliconform.cli import main
from aliconform.drift.waivers import DriftPolicy
from aliconform.fuzz import TWIN_SCENARIO_VARIABLES
from aliconform.record import RecordRun, RecordTarget, RetryPolicy, load_scenarios, record_scenarios
from aliconform.report import record_report
from aliconform.sdk import sdk_invoke
from aliconform.secrets import scan_secrets
from aliconform.twin import TwinConfig, TwinServer, expected_findings, parse_faults
from conftest import serving_json

REPO = Path(__file__).resolve().parents[1]


def _planted(prefix: str, length: int) -> str:
    """A realistic-looking credential made at run time (so this file holds none)."""
    rng = random.SystemRandom()
    return prefix + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


KEY_ID = _planted("LTAI5t", 18)
KEY_SECRET = _planted("", 30)


@pytest.fixture
def fast_scenarios(tmp_path: Path) -> Path:
    """The shipped scenarios with poll waits cut to milliseconds."""
    data = yaml.safe_load((REPO / "scenarios.yaml").read_text("utf-8"))
    for scenario in data["scenarios"]:
        if "poll" in scenario:
            scenario["poll"].update(interval="5ms", max_interval="10ms", timeout="20s")
    path = tmp_path / "scenarios.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for the default chain, and the scenario variables, all pointing at the twin."""
    for name in list(os.environ):
        if name.startswith("ALIBABA_CLOUD_") or name.startswith("ALICONFORM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    for name, value in TWIN_SCENARIO_VARIABLES.items():
        monkeypatch.setenv(name, value)
    # alibabacloud-credentials reads its environment variables once, at import; a process
    # started with them set (the CLI, the kill test's subprocess) needs nothing more.
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setattr(auth_util, "environment_access_key_id", KEY_ID)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", KEY_SECRET)
    monkeypatch.setattr(auth_util, "environment_security_token", None)
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")


def _config(**options: object) -> TwinConfig:
    return TwinConfig(credentials={KEY_ID: KEY_SECRET}, **options)  # type: ignore[arg-type]


@pytest.fixture
def twin(account: None) -> Iterator[TwinServer]:
    with TwinServer(_config()) as server:
        yield server


def _existing_ids(
    twin: TwinServer, contracts: ContractSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks and jobs created up front, for the live-existing-* scenarios."""
    target = RecordTarget("cn-shanghai", endpoint=f"http://{twin.endpoint}")
    creations = [
        (
            "GetVideoLabelClassificationResult",
            "CreateVideoLabelClassificationTask",
            "TaskId",
            "ALICONFORM_IMM_VIDEO_LABEL_TASK_ID",
            {"SourceURI": "oss://aliconform-media/video.mp4"},
        ),
        (
            "GetImageModerationResult",
            "CreateImageModerationTask",
            "TaskId",
            "ALICONFORM_IMM_IMAGE_MODERATION_TASK_ID",
            {"SourceURI": "oss://aliconform-media/i.jpg"},
        ),
        (
            "GetVideoModerationResult",
            "CreateVideoModerationTask",
            "TaskId",
            "ALICONFORM_IMM_VIDEO_MODERATION_TASK_ID",
            {"SourceURI": "oss://aliconform-media/v.mp4"},
        ),
        (
            "QuerySmarttagJob",
            "SubmitSmarttagJob",
            "JobId",
            "ALICONFORM_ICE_SMARTTAG_JOB_ID",
            {"Input": {"Type": "OSS", "Media": "oss://aliconform-media/video.mp4"}},
        ),
        (
            "QueryIProductionJob",
            "SubmitIProductionJob",
            "JobId",
            "ALICONFORM_ICE_IPRODUCTION_JOB_ID",
            {
                "FunctionName": "Cover",
                "Input": {"Type": "OSS", "Media": "oss://aliconform-media/video.mp4"},
                "Output": {"Type": "OSS", "Media": "oss://aliconform-media/out/"},
            },
        ),
    ]
    for operation, action, id_field, variable, params in creations:
        contract = contracts[operation]
        if contract.product == "imm":
            params = {"ProjectName": "aliconform-twin", **params}
        response = sdk_invoke(contract, action, params, target.options_for(contract))
        monkeypatch.setenv(variable, str(response.body.to_map()[id_field]))


def _record(
    scenarios: Path,
    cassettes: Path,
    twin: TwinServer,
    contracts: ContractSet,
    check_only: bool = False,
    signature: Literal["v3", "v2"] = "v3",
) -> RecordRun:
    target = RecordTarget("cn-shanghai", endpoint=f"http://{twin.endpoint}", signature=signature)
    return record_scenarios(
        load_scenarios(scenarios, contracts),
        contracts,
        target,
        cassettes,
        check_only=check_only,
        policy=RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05),
    )


def _cli(twin: TwinServer, scenarios: Path, cassettes: Path, out: Path, *extra: str) -> int:
    """`aliconform record` against the twin, with short retry waits."""
    endpoint = f"http://{twin.endpoint}"
    options = ["--scenarios", str(scenarios), "--cassettes", str(cassettes), "--out", str(out)]
    return main(["record", *options, "--endpoint", endpoint, "--backoff", "0.01", *extra])


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- recording every scenario ----------------------------------------------------------------


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_every_scenario_records_through_the_sdk_and_replays_cleanly(
    signature: Literal["v3", "v2"],
    twin: TwinServer,
    contracts: ContractSet,
    fast_scenarios: Path,
    cassettes_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _existing_ids(twin, contracts, monkeypatch)
    run = _record(fast_scenarios, cassettes_copy, twin, contracts, signature=signature)
    outcomes = {(r.scenario.operation, r.scenario.name): r.outcome for r in run.results}
    failed = {
        f"{r.scenario.operation}/{r.scenario.name}": r.message
        for r in run.results
        if r.outcome != "recorded"
    }
    assert not failed
    assert len(outcomes) == 20

    lifecycle = {r.scenario.operation: r.states for r in run.results if r.scenario.setup}
    assert lifecycle == {
        "GetVideoLabelClassificationResult": ["Running", "Succeeded"],
        "GetImageModerationResult": ["Running", "Succeeded"],
        "GetVideoModerationResult": ["Running", "Succeeded"],
        "QuerySmarttagJob": ["Submitted", "Processing", "Success"],
        "QueryIProductionJob": ["Queuing", "Analyzing", "Success"],
    }
    # one interaction per state; setup calls and nothing else kept
    cassette = load_cassette(cassettes_copy / "ice/QuerySmarttagJob/live-lifecycle.yaml")
    assert len(cassette.interactions) == 3

    replayed = replay_all(cassettes_copy, contracts)
    assert replayed.problems == []
    assert replayed.stale_provenance == []
    recorded = [i for i in replayed.interactions if i.ref.scenario.startswith("live-")]
    assert len(recorded) == sum(
        len(load_cassette(r.cassette.path).interactions) for r in run.results
    )
    assert {i.provenance.origin for i in recorded if i.provenance} == {"local"}
    assert {i.provenance.signature for i in recorded if i.provenance} == {signature}
    # The twin answers with the documentation's example shapes, mended where the examples
    # contradict the tables: its recordings conform.
    assert [(i.ref.display, f.kind, f.path) for i in recorded for f in i.findings] == []

    # the planted credentials reached the twin (it verified the signatures) but no file
    on_disk = b"".join(_tree(cassettes_copy).values())
    assert KEY_ID.encode() not in on_disk
    assert KEY_SECRET.encode() not in on_disk
    assert any(entry.signature == signature for entry in twin.log)


# --- drift profiles --------------------------------------------------------------------------


def _report_findings(out: Path) -> set[tuple[str, str, str]]:
    report = json.loads((out / "drift.json").read_text("utf-8"))
    return {(f["operation"], f["kind"], f["path"]) for f in report["findings"]}


@pytest.mark.parametrize(
    "profile",
    [
        "added-field",
        "type-change",
        "new-enum-value",
        "broken-json-payload",
        "dropped-required-field",
        "all",
    ],
)
def test_a_drift_profile_is_reported_as_exactly_the_injected_drifts(
    profile: str,
    account: None,
    contracts: ContractSet,
    fast_scenarios: Path,
    cassettes_copy: Path,
    tmp_path: Path,
) -> None:
    lifecycles = ("--check", "--scenario", "live-lifecycle")  # all five operations
    before = _tree(cassettes_copy)
    with TwinServer(_config()) as clean:
        code = _cli(clean, fast_scenarios, cassettes_copy, tmp_path / "a", *lifecycles)
    assert code == 0
    with TwinServer(_config(drift=profile)) as drifting:
        code = _cli(drifting, fast_scenarios, cassettes_copy, tmp_path / "b", *lifecycles)
    baseline, drifted = _report_findings(tmp_path / "a"), _report_findings(tmp_path / "b")
    injected = {
        (operation, kind, pointer)
        for operation in contracts
        for kind, pointer in expected_findings(profile, operation)
    }
    assert injected, "the profile injects nothing"
    assert baseline == set()  # a twin without a profile answers as the tables say
    assert drifted == injected
    # The shipped waivers are for the documentation's examples, which a recording never
    # checks: they are not stale because a recording did not match them.
    waivers = json.loads((tmp_path / "a" / "drift.json").read_text("utf-8"))["waivers"]
    assert [w for w in waivers if w["problem"] == "unused"] == []
    assert _tree(cassettes_copy) == before  # --check writes no cassette
    sources = json.loads((tmp_path / "b" / "drift.json").read_text("utf-8"))["sources"]
    assert sources
    assert [s["cassette"] for s in sources if s["written"]] == []  # and says so
    if drifted:  # where a finding names its source, the HTML and Markdown say so too
        summary = (tmp_path / "b" / "summary.md").read_text("utf-8")
        rows = [line for line in summary.splitlines() if line.startswith("| breaking |")]
        rows += [line for line in summary.splitlines() if line.startswith("| warning |")]
        assert rows
        assert all(row.endswith("(checked, not written) |") for row in rows), rows
        page = (tmp_path / "b" / "drift.html").read_text("utf-8")
        named = page.count("<dt>source</dt>")
        assert named == page.count("(checked, not written)</span></dd>") > 0
    breaking = any(
        f["severity"] == "breaking" and f["status"] == "new"
        for f in json.loads((tmp_path / "b" / "drift.json").read_text("utf-8"))["findings"]
    )
    assert code == (1 if breaking else 0)


# --- faults ----------------------------------------------------------------------------------


def test_transient_faults_are_retried_and_never_recorded(
    account: None, contracts: ContractSet, fast_scenarios: Path, cassettes_copy: Path
) -> None:
    faults = parse_faults(
        "throttle=2,unavailable=1@QuerySmarttagJob,server-error=1@QuerySmarttagJob,"
        "drop=1@QueryIProductionJob,truncated=1@GetImageModerationResult,"
        "malformed=1@GetVideoModerationResult"
    )
    with TwinServer(_config(faults=faults)) as twin:
        run = _record(fast_scenarios, cassettes_copy, twin, contracts)
        applied = [entry.fault for entry in twin.log if entry.fault]
    assert sorted(applied) == sorted(
        ["throttle", "throttle", "unavailable", "server-error", "drop", "truncated", "malformed"]
    )
    recorded = run.with_outcome("recorded")
    assert recorded, [r.message for r in run.results]
    assert [r.message for r in run.with_outcome("failed")] == []
    assert sum(r.retries for r in run.results) == 7
    for result in recorded:
        for interaction in load_cassette(result.cassette.path).interactions:
            assert interaction.response.status.code not in (429, 500, 503)
            json.loads(interaction.response.body.string)  # no garbled body was kept


@pytest.mark.parametrize("fault", ["server-error", "unavailable", "drop"])
def test_a_create_call_is_not_sent_twice_after_an_ambiguous_failure(
    fault: str, account: None, contracts: ContractSet, fast_scenarios: Path, cassettes_copy: Path
) -> None:
    """After a 5xx or a dropped connection the task may exist: sending the create again could
    start a second one."""
    faults = parse_faults(f"{fault}=1@SubmitSmarttagJob")
    with TwinServer(_config(faults=faults)) as twin:
        scenarios = [
            s for s in load_scenarios(fast_scenarios, contracts) if s.name == "live-lifecycle"
        ]
        target = RecordTarget("cn-shanghai", endpoint=f"http://{twin.endpoint}")
        run = record_scenarios(scenarios, contracts, target, cassettes_copy)
        submits = [entry for entry in twin.log if entry.action == "SubmitSmarttagJob"]
    outcome = {r.scenario.operation: r for r in run.results}
    assert outcome["QuerySmarttagJob"].outcome == "failed"
    assert "not sent again" in outcome["QuerySmarttagJob"].message
    assert len(submits) == 1
    assert outcome["QueryIProductionJob"].outcome == "recorded"


def test_a_persistent_failure_leaves_the_existing_cassette_untouched(
    account: None,
    contracts: ContractSet,
    fast_scenarios: Path,
    cassettes_copy: Path,
    tmp_path: Path,
) -> None:
    target = cassettes_copy / "ice/QuerySmarttagJob/live-lifecycle.yaml"
    target.write_bytes(
        (cassettes_copy / "ice/QuerySmarttagJob/doc-example-success.yaml").read_bytes()
    )
    before = target.read_bytes()
    faults = parse_faults("server-error=*@QuerySmarttagJob")
    with TwinServer(_config(faults=faults)) as twin:
        code = _cli(
            twin,
            fast_scenarios,
            cassettes_copy,
            tmp_path / "r",
            "--max-attempts",
            "3",
            "--operation",
            "QuerySmarttagJob",
            "--operation",
            "GetImageModerationResult",
        )
    assert code == 2
    assert target.read_bytes() == before
    report = json.loads((tmp_path / "r" / "drift.json").read_text("utf-8"))
    outcomes = {(r["operation"], r["scenario"]): r["outcome"] for r in report["recording"]}
    assert outcomes[("QuerySmarttagJob", "live-lifecycle")] == "failed"
    assert outcomes[("GetImageModerationResult", "live-lifecycle")] == "recorded"
    assert any("left as it was" in p["message"] for p in report["problems"])
    written = {s["cassette"]: s["written"] for s in report["sources"]}
    assert written["cassettes/imm/GetImageModerationResult/live-lifecycle.yaml"] is True
    assert all(written.values())  # the failed scenario staged nothing to check
    # nothing secret in what was written: the planted key, or anything the scanner knows
    written = b"".join(_tree(tmp_path / "r").values()) + b"".join(_tree(cassettes_copy).values())
    assert KEY_ID.encode() not in written
    assert KEY_SECRET.encode() not in written
    hits = scan_secrets([tmp_path / "r", cassettes_copy], root=tmp_path)
    assert [(h, (tmp_path / h.file).read_text().splitlines()[h.line - 1]) for h in hits] == []


@pytest.mark.parametrize("cassettes_as", ["path", "."])
@pytest.mark.parametrize("check_only", [False, True])
def test_a_secret_that_scrubbing_misses_never_reaches_a_cassette(
    check_only: bool,
    cassettes_as: str,
    account: None,
    contracts: ContractSet,
    fast_scenarios: Path,
    cassettes_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The secret scan is the last gate before a cassette is written: with request scrubbing
    switched off, the signed headers (the planted AccessKey id among them) fail the scenario
    instead of being written, and the cassette already there stays as it was."""
    from aliconform.cassettes import scrub

    monkeypatch.setattr(scrub, "scrub_request", lambda request: request)
    before = _tree(cassettes_copy)
    scenarios = [
        s
        for s in load_scenarios(fast_scenarios, contracts)
        if s.operation == "GetImageModerationResult"
    ]
    with TwinServer(_config()) as twin:
        target = RecordTarget("cn-shanghai", endpoint=f"http://{twin.endpoint}")
        if cassettes_as == ".":  # the directory given as "." has no name of its own
            monkeypatch.chdir(cassettes_copy)
        where = cassettes_copy if cassettes_as == "path" else Path()
        run = record_scenarios(scenarios, contracts, target, where, check_only=check_only)
    ran = [r for r in run.results if r.outcome != "skipped"]
    assert ran, [r.message for r in run.results]
    for result in ran:
        assert result.outcome == "failed", result.message
        assert "looks like a secret (alibaba-access-key-id at line " in result.message
        left = "left as it was" if result.cassette.path.exists() else "nothing written ("
        assert left in result.message
        assert KEY_ID[:4] not in result.message.replace("alibaba-access-key-id", "")
    assert _tree(cassettes_copy) == before
    # withheld from the report too: an excerpt of the body could carry the secret
    report = record_report(run, contracts, DriftPolicy())
    assert report.sources == []
    assert report.findings == []


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_refused_credentials_record_nothing_and_leak_nothing(
    signature: str, account: None, fast_scenarios: Path, cassettes_copy: Path, tmp_path: Path
) -> None:
    """A refused V2 signature's message quotes the string the service signed, AccessKeyId
    included: the report must say what failed without repeating it."""
    before = _tree(cassettes_copy)
    with TwinServer(TwinConfig(credentials={KEY_ID: "another-secret"})) as twin:
        code = _cli(
            twin,
            fast_scenarios,
            cassettes_copy,
            tmp_path / "r",
            "--signature",
            signature,
            "--operation",
            "GetImageModerationResult",
        )
    assert code == 2
    assert _tree(cassettes_copy) == before
    report = json.loads((tmp_path / "r" / "drift.json").read_text("utf-8"))
    assert {r["outcome"] for r in report["recording"]} == {"failed", "skipped"}
    assert any("SignatureDoesNotMatch" in r["message"] for r in report["recording"])
    written = b"".join(_tree(tmp_path / "r").values())
    assert KEY_ID.encode() not in written
    assert scan_secrets([tmp_path / "r"], root=tmp_path) == []


def test_behaviour_diff_names_what_changed_since_the_previous_recording(
    account: None, contracts: ContractSet, fast_scenarios: Path, cassettes_copy: Path
) -> None:
    with TwinServer(_config()) as twin:
        first = _record(fast_scenarios, cassettes_copy, twin, contracts)
        again = _record(fast_scenarios, cassettes_copy, twin, contracts)
    assert first.with_outcome("recorded")
    assert again.behaviour == []  # same service, new ids and times: no behaviour change
    with TwinServer(_config(drift="added-field")) as twin:
        drifted = _record(fast_scenarios, cassettes_copy, twin, contracts)
    added = {(c.cassette, c.path, c.change) for c in drifted.behaviour}
    assert added
    assert {change for _, _, change in added} == {"field-added"}


@pytest.mark.parametrize(
    ("blocked_at", "message"),
    [
        # the cassettes directory itself is a file
        ((), "cannot write the cassettes to {blocked}: Not a directory"),
        # the directory is fine, but where one operation's cassettes go is a file
        (
            ("imm", "GetVideoModerationResult"),
            "cannot write the GetVideoModerationResult cassettes to {blocked}",
        ),
    ],
    ids=["cassettes-directory", "operation-directory"],
)
def test_cassettes_that_cannot_be_written_stop_the_run_before_any_call(
    account: None,
    fast_scenarios: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    blocked_at: tuple[str, ...],
    message: str,
) -> None:
    """Found out after the calls, a setup task would already be created (and billed)."""
    cassettes = tmp_path / "cassettes"
    blocked = cassettes.joinpath(*blocked_at)
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("", "utf-8")
    with TwinServer(_config()) as twin:
        code = _cli(twin, fast_scenarios, cassettes, tmp_path / "r")
        assert twin.log == []
    assert code == 2
    assert message.format(blocked=blocked) in " ".join(capsys.readouterr().err.split())


def test_a_cassette_that_cannot_be_put_in_place_fails_its_scenario_and_the_run_goes_on(
    account: None,
    fast_scenarios: Path,
    cassettes_copy: Path,
    contracts: ContractSet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cassettes directory can change under a run that takes minutes (made read-only, a
    directory replaced): the scenario fails with the reason, the others are still put in place."""
    from aliconform.record import recorder

    real = recorder.write_cassette
    refused = "GetVideoModerationResult"

    def write(path: Path, *args: Any) -> None:
        if "staged" not in path.parts and path.parent.name == refused:
            raise PermissionError(13, "Permission denied", str(path))
        real(path, *args)

    monkeypatch.setattr(recorder, "write_cassette", write)
    before = _tree(cassettes_copy / "imm" / refused)
    with TwinServer(_config()) as twin:
        run = _record(fast_scenarios, cassettes_copy, twin, contracts)
    failed = run.with_outcome("failed")
    assert failed
    assert {r.scenario.operation for r in failed} == {refused}
    assert all("cannot write" in r.message and "Permission denied" in r.message for r in failed)
    # Named as it can be opened from where the command ran, not from the cassettes' own name.
    assert all(f"cannot write {cassettes_copy / 'imm' / refused}/" in r.message for r in failed)
    assert run.with_outcome("recorded")
    assert _tree(cassettes_copy / "imm" / refused) == before


def test_a_stop_while_cassettes_are_put_in_place_lands_after_their_report(
    account: None,
    contracts: ContractSet,
    fast_scenarios: Path,
    cassettes_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped once the first cassette is replaced, a run used to exit with no report: the
    change in that cassette was then never reported, since the next run compares with it. The
    stop is acted on once every cassette is in place and the report that says what changed."""
    from aliconform.record import recorder

    real = recorder.write_cassette
    stopped: list[Path] = []

    def write_then_stop(path: Path, *args: Any) -> None:
        real(path, *args)
        if "staged" not in path.parts and not stopped:
            stopped.append(path)
            signal.raise_signal(signal.SIGTERM)  # handled at once, were it not held

    with TwinServer(_config()) as twin:
        assert _record(fast_scenarios, cassettes_copy, twin, contracts).with_outcome("recorded")
    monkeypatch.setattr(recorder, "write_cassette", write_then_stop)
    before = _tree(cassettes_copy)
    out = tmp_path / "reports"
    with TwinServer(_config(drift="added-field")) as twin:
        code = _cli(twin, fast_scenarios, cassettes_copy, out)
    assert code == 128 + signal.SIGTERM
    assert stopped
    changed = {name for name, data in _tree(cassettes_copy).items() if before.get(name) != data}
    assert len(changed) > 2  # not only the first cassette (and its sidecar)
    report = json.loads((out / "drift.json").read_text("utf-8"))
    assert report["behaviour"]  # the report of what changed in them
    assert {change["change"] for change in report["behaviour"]} == {"field-added"}


def test_dry_run_calls_nothing(
    account: None, fast_scenarios: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TwinServer(_config()) as twin:
        code = main(
            [
                "record",
                "--dry-run",
                "--scenarios",
                str(fast_scenarios),
                "--endpoint",
                f"http://{twin.endpoint}",
            ]
        )
        assert twin.log == []
    assert code == 0
    printed = capsys.readouterr().out
    assert "SubmitSmarttagJob" in printed
    assert "poll until JobStatus is Success or Fail" in printed
    # A parameter that resolves to "" is left out of the call, and so out of the plan.
    (submit,) = [line for line in printed.splitlines() if "SubmitSmarttagJob http" in line]
    assert "TemplateId" not in submit


@pytest.mark.parametrize("check_only", [False, True], ids=["record", "check"])
def test_a_dry_run_names_where_each_cassette_would_go(
    account: None,
    fast_scenarios: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    check_only: bool,
) -> None:
    elsewhere = tmp_path / "my [cassettes]"
    options = ["--scenarios", str(fast_scenarios), "--cassettes", str(elsewhere), "--dry-run"]
    assert main(["record", *options, *(["--check"] if check_only else [])]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "live-lifecycle" in line]
    assert lines
    expected = f" -> {elsewhere / 'ice' / 'QuerySmarttagJob' / 'live-lifecycle.yaml'}"
    if check_only:  # a check writes nothing, so no line says where it would
        assert not any(" -> " in line for line in lines)
    else:
        assert any(line.endswith(expected) for line in lines), lines
        assert not any(" -> cassettes/" in line for line in lines)


# --- a killed recording ----------------------------------------------------------------------


def test_killing_a_recording_at_any_moment_leaves_every_cassette_whole(
    account: None, fast_scenarios: Path, cassettes_copy: Path, tmp_path: Path
) -> None:
    faults = parse_faults("latency=20ms")
    # A killed process cannot remove its scratch directory: keep those in this test's own.
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()

    def start(twin: TwinServer, cassettes: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aliconform.cli",
                "record",
                "--scenarios",
                str(fast_scenarios),
                "--cassettes",
                str(cassettes),
                "--endpoint",
                f"http://{twin.endpoint}",
                "--out",
                str(tmp_path / "reports"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(scratch_root)},
        )

    def live(cassettes: Path) -> list[str]:
        return [ref.display for ref in discover_cassettes(cassettes) if ref.scenario != "doc"]

    with TwinServer(_config(faults=faults)) as twin:
        # How long a whole run takes on this machine, so that the kills spread over all of it,
        # the writes at its end included, however fast or loaded the machine is.
        began = time.monotonic()
        assert start(twin, shutil.copytree(cassettes_copy, tmp_path / "timed")).wait() == 0
        whole = time.monotonic() - began
        written: list[str] = []
        for share in (0.1, 0.3, 0.5, 0.7, 0.85, 0.92, 0.96, 0.98, 1.0, 1.05, 1.1, 1.2):
            process = start(twin, cassettes_copy)
            time.sleep(whole * share)
            process.send_signal(signal.SIGKILL)
            process.wait()
            for ref in discover_cassettes(cassettes_copy):
                load_cassette(ref.path)  # raises on a half-written file
            # a write cut short leaves at most a hidden .partial file, never a damaged cassette
            strays = [
                p
                for p in cassettes_copy.rglob("*")
                if p.is_file() and not p.name.endswith((".yaml", ".partial", ".md"))
            ]
            assert strays == []
            written = [
                ref.display
                for ref in discover_cassettes(cassettes_copy)
                if ref.scenario.startswith("live-")
            ]
            if written:
                break  # a kill landed among or after real writes, not only before them
    assert written
    # and what was written is whole and vouched for: the replay finds nothing unreadable
    replayed = replay_all(cassettes_copy, load_contracts(REPO / "contracts"))
    assert replayed.problems == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_terminated_recording_removes_its_scratch_directory(
    signum: int, account: None, fast_scenarios: Path, cassettes_copy: Path, tmp_path: Path
) -> None:
    # The scratch directory can hold a recording withheld for a suspected secret: a stop by
    # SIGTERM (a CI timeout, `kill`) or SIGHUP (a closed terminal) must not leave it behind.
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    before = {p.relative_to(cassettes_copy): p.read_bytes() for p in cassettes_copy.rglob("*.*")}
    with TwinServer(_config(faults=parse_faults("latency=300ms"))) as twin:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aliconform.cli",
                "record",
                "--scenarios",
                str(fast_scenarios),
                "--cassettes",
                str(cassettes_copy),
                "--endpoint",
                f"http://{twin.endpoint}",
                "--out",
                str(tmp_path / "reports"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(scratch_root)},
        )
        deadline = time.monotonic() + 60
        while not any(scratch_root.glob("aliconform-record-*/staged/*/*")):
            assert process.poll() is None, "the recording ended before it staged anything"
            assert time.monotonic() < deadline, "the recording never staged a cassette"
            time.sleep(0.02)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    assert "Traceback" not in stderr
    assert list(scratch_root.iterdir()) == []
    after = {p.relative_to(cassettes_copy): p.read_bytes() for p in cassettes_copy.rglob("*.*")}
    assert after == before  # stopped while calling: nothing was put in place


def test_a_connection_refused_is_named_and_retried_even_for_a_create_call(
    account: None,
    fast_scenarios: Path,
    tmp_path: Path,
    contracts: ContractSet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    monkeypatch.setenv("ALICONFORM_IMM_IMAGE_MODERATION_TASK_ID", "ImageModeration-0123")

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chosen = [
        s
        for s in load_scenarios(fast_scenarios, contracts)
        if s.operation == "GetImageModerationResult"
        and s.name in ("live-lifecycle", "live-existing-task")
    ]
    run = record_scenarios(
        chosen,
        contracts,
        RecordTarget("cn-shanghai", endpoint=f"http://127.0.0.1:{port}"),
        tmp_path / "cassettes",
        policy=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002),
    )
    assert [r.scenario.name for r in run.results] == ["live-lifecycle", "live-existing-task"]
    for result in run.results:
        assert result.outcome == "failed"
        # Nothing was sent, so even the create call of the setup was sent again.
        assert "still failing after 3 attempts: could not connect (Connection refused)" in (
            result.message or ""
        ), result.message
        assert (result.attempts, result.retries) == (3, 2)
        # no cassette was there to leave as it was
        assert result.message.endswith(f"nothing written ({result.cassette.shown} does not exist)")
    assert not (tmp_path / "cassettes").exists()
    # a run where nothing answered still says what it called
    report = record_report(run, contracts, DriftPolicy())
    assert report.title == f"Recording against http://127.0.0.1:{port}"


def test_a_recording_in_a_pipe_prints_each_call_and_poll_as_a_line(
    twin: TwinServer,
    fast_scenarios: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In CI there is no terminal for a live bar: each step is a line, numbered by scenario."""
    only = ("--check", "--scenario", "live-lifecycle", "--operation", "QuerySmarttagJob")
    assert _cli(twin, fast_scenarios, tmp_path / "c", tmp_path / "r", *only) == 0
    lines = capsys.readouterr().err.splitlines()
    steps = [line for line in lines if line.startswith("[1/1] QuerySmarttagJob/live-lifecycle: ")]
    assert any(line.endswith(": calling SubmitSmarttagJob") for line in steps), lines
    assert any(line.endswith(": calling QuerySmarttagJob") for line in steps), lines
    assert any(": JobStatus Submitted; polling again in " in line for line in steps), lines


def test_a_poll_that_times_out_says_what_it_did_and_keeps_the_states_it_saw(
    account: None, fast_scenarios: Path, tmp_path: Path
) -> None:
    """A job that never finishes: the message counts the queries sent and the time taken (it
    gives up before a wait that would end past the timeout), and the report shows the states.
    The timeout leaves room for a slow machine to send a second query in it."""
    data = yaml.safe_load(fast_scenarios.read_text("utf-8"))
    for scenario in data["scenarios"]:
        if "poll" in scenario:
            scenario["poll"].update(interval="20ms", max_interval="20ms", timeout="1500ms")
    fast_scenarios.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    only = ("--check", "--scenario", "live-lifecycle", "--operation", "QuerySmarttagJob")
    out = tmp_path / "r"
    with TwinServer(_config(polls_before_done=10**6)) as twin:
        assert _cli(twin, fast_scenarios, tmp_path / "c", out, *only) == 2
    (row,) = json.loads((out / "drift.json").read_text("utf-8"))["recording"]
    assert row["outcome"] == "failed"
    assert row["states"] == ["Submitted", "Processing"]
    said = re.search(r"still Processing after (\d+) queries in ([\d.]+)s; the next", row["message"])
    assert said is not None, row["message"]
    assert int(said[1]) >= 2
    assert "0.02s later, would pass the poll timeout of 1.5s" in row["message"]


def test_a_recording_in_a_pipe_counts_the_skipped_scenarios_too(
    twin: TwinServer,
    fast_scenarios: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The counter ends at [N/N] when some scenarios are skipped for want of a variable."""
    monkeypatch.delenv("ALICONFORM_ICE_SMARTTAG_JOB_ID", raising=False)
    only = ("--check", "--operation", "QuerySmarttagJob")
    assert _cli(twin, fast_scenarios, tmp_path / "c", tmp_path / "r", *only) == 0
    lines = capsys.readouterr().err.splitlines()
    counted = [line.split("]")[0] for line in lines if line.startswith("[")]
    total = counted[-1].split("/")[1]
    assert counted[-1] == f"[{total}/{total}", lines
    assert any(": skipped: set ALICONFORM_ICE_SMARTTAG_JOB_ID" in line for line in lines), lines


def test_a_recording_that_skipped_every_scenario_cannot_pass(
    twin: TwinServer, fast_scenarios: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in TWIN_SCENARIO_VARIABLES:
        monkeypatch.delenv(name)
    out = tmp_path / "reports"
    code = _cli(twin, fast_scenarios, tmp_path / "cassettes", out, "--scenario", "live-lifecycle")
    assert code == 2
    report = json.loads((out / "drift.json").read_text("utf-8"))
    assert {r["outcome"] for r in report["recording"]} == {"skipped"}
    (problem,) = report["problems"]
    assert problem["message"].startswith("nothing was recorded or checked: all ")
    assert "ALICONFORM_ICE_" in problem["message"]
    assert "ALICONFORM_IMM_PROJECT" in problem["message"]
    assert not report["verdict"]["passed"]
    assert not (tmp_path / "cassettes").exists()


def test_scenario_filters_that_select_nothing_are_a_usage_error(
    fast_scenarios: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--scenarios", str(fast_scenarios), "--cassettes", str(tmp_path / "c"), "--dry-run"]
    code = main(
        [
            "record",
            *options,
            "--operation",
            "QuerySmarttagJob",
            "--scenario",
            "live-error-unknown-task",
        ]
    )
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert code == 2
    assert "no scenario named live-error-unknown-task for QuerySmarttagJob; its scenarios: " in err
    assert main(["record", *options, "--operation", "Nope"]) == 2
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert "operations with scenarios: GetImageModerationResult, " in err


# --- credentials the default chain fetches over HTTP -----------------------------------------


@pytest.fixture
def credentials_from_a_uri(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A credentials URI (ALIBABA_CLOUD_CREDENTIALS_URI, as the default chain reads it) on
    loopback, handing out the twin's key with a planted STS token: the same kind of exchange
    as the ECS instance metadata service and STS, which are not reachable here."""
    token = _planted("CAIS", 120)
    answer = json.dumps(
        {
            "Code": "Success",
            "AccessKeyId": KEY_ID,
            "AccessKeySecret": KEY_SECRET,
            "SecurityToken": token,
            "Expiration": "2099-01-01T00:00:00Z",
        }
    ).encode()
    with serving_json(answer) as base:
        uri = f"{base}/credentials"
        monkeypatch.setenv("ALIBABA_CLOUD_CREDENTIALS_URI", uri)
        monkeypatch.setenv("HOME", os.devnull)  # no CLI profile or credentials file of this machine
        from alibabacloud_credentials.utils import auth_util

        for name in ("access_key_id", "access_key_secret", "security_token"):
            monkeypatch.setattr(auth_util, f"environment_{name}", None)
        monkeypatch.setattr(auth_util, "environment_cli_profile_disabled", "true")
        monkeypatch.setattr(auth_util, "environment_credentials_uri", uri)
        yield token


def test_the_credential_chain_s_own_requests_are_never_recorded(
    twin: TwinServer,
    credentials_from_a_uri: str,
    contracts: ContractSet,
    fast_scenarios: Path,
    tmp_path: Path,
) -> None:
    """The SDK fetches credentials in the middle of the call being recorded; that exchange
    carries them in the clear and is not the API's behaviour: only calls to the endpoint are
    recorded."""
    scenarios = [
        s
        for s in load_scenarios(fast_scenarios, contracts)
        if s.operation == "GetImageModerationResult" and not s.setup
    ]
    target = RecordTarget("cn-shanghai", endpoint=f"http://{twin.endpoint}")
    run = record_scenarios(scenarios, contracts, target, tmp_path / "cassettes")
    recorded = [r for r in run.results if r.outcome == "recorded"]
    assert recorded, [r.message for r in run.results]
    assert all(r.outcome in ("recorded", "skipped") for r in run.results)
    for result in recorded:
        cassette = load_cassette(result.cassette.path)
        assert [i.request.uri.split("/?")[0] for i in cassette.interactions] == [
            f"http://{twin.endpoint}"
        ] * len(cassette.interactions)
    on_disk = b"".join(_tree(tmp_path / "cassettes").values())
    assert credentials_from_a_uri.encode() not in on_disk
    assert KEY_SECRET.encode() not in on_disk
    assert run.replay.problems == []
    assert {f.kind for i in run.replay.interactions for f in i.findings} == set()


def test_reports_that_fail_to_be_written_leave_every_cassette_as_it_was(
    twin: TwinServer,
    fast_scenarios: Path,
    cassettes_copy: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No cassette changes without the report of what changed in it: reports that cannot be
    written after the probe (a directory where drift.json goes) put the cassettes back."""
    out = tmp_path / "reports"
    (out / "drift.json").mkdir(parents=True)  # the probe passes; writing drift.json cannot
    new = "live-new-scenario"
    data = yaml.safe_load(fast_scenarios.read_text("utf-8"))
    copy = dict(next(s for s in data["scenarios"] if s["name"] == "live-error-unknown-task"))
    data["scenarios"].append({**copy, "name": new})  # a cassette that did not exist before
    fast_scenarios.write_text(yaml.safe_dump(data), "utf-8")
    # Put back byte for byte: a cassette saved with Windows line endings keeps them.
    first = tmp_path / "first-reports"
    assert (
        _cli(twin, fast_scenarios, cassettes_copy, first, "--scenario", "live-error-unknown-task")
        == 0
    )
    kept = list(cassettes_copy.rglob("live-error-unknown-task*.yaml"))
    assert len(kept) == 6  # three operations have the scenario: cassette and provenance each
    for path in kept:
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = _tree(cassettes_copy)
    code = _cli(twin, fast_scenarios, cassettes_copy, out, "--scenario", "live-error-unknown-task")
    code_new = _cli(twin, fast_scenarios, cassettes_copy, out, "--scenario", new)
    assert (code, code_new) == (2, 2)
    said = " ".join(capsys.readouterr().err.split())
    assert "cannot write the reports" in said
    assert "every cassette was left as it was" in said
    assert _tree(cassettes_copy) == before
    # Directories the promotion made for new cassettes are gone again.
    empty = tmp_path / "no-cassettes-yet"
    empty.mkdir()
    assert _cli(twin, fast_scenarios, empty, out, "--operation", "QuerySmarttagJob") == 2
    assert list(empty.iterdir()) == []


def test_a_previous_cassette_that_is_not_utf8_is_replaced_with_a_note(
    twin: TwinServer, fast_scenarios: Path, cassettes_copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    assert (
        _cli(twin, fast_scenarios, cassettes_copy, out, "--scenario", "live-error-unknown-task")
        == 0
    )
    (path,) = cassettes_copy.rglob("GetImageModerationResult/live-error-unknown-task.yaml")
    path.write_bytes(b"\xff\xfe garbage \x80\n")
    assert (
        _cli(twin, fast_scenarios, cassettes_copy, out, "--scenario", "live-error-unknown-task")
        == 0
    )
    assert b"garbage" not in path.read_bytes()
    report = json.loads((out / "drift.json").read_text("utf-8"))
    notes = " ".join(s["message"] for s in report["recording"])
    assert "the previous cassette was unreadable, so nothing to compare" in notes
