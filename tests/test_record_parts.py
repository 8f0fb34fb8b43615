"""The parts of recording that need no server: scenarios, retry decisions, targets, and the
behaviour diff between two recordings."""

from __future__ import annotations

import json
import random
import ssl
from pathlib import Path
from typing import Any

import pytest

from aliconform import ContractSet
from aliconform.cassettes.store import CassetteFile, load_cassette
from aliconform.record import RecordTarget, ScenarioError, TargetError, behaviour_diff
from aliconform.record.retry import RetryPolicy, is_transient, retry_delay
from aliconform.record.scenarios import load_scenarios, placeholders, resolve
from aliconform.record.target import is_loopback

REPO = Path(__file__).resolve().parents[1]
SUCCESS = REPO / "cassettes/imm/GetImageModerationResult/doc-example-success.yaml"


# --- scenarios -----------------------------------------------------------------------------


def test_the_shipped_scenarios_file_loads(contracts: ContractSet) -> None:
    scenarios = load_scenarios(REPO / "scenarios.yaml", contracts)
    assert {s.operation for s in scenarios} == set(contracts)
    lifecycles = [s for s in scenarios if s.setup is not None]
    assert len(lifecycles) == 5
    assert all(s.poll is not None for s in lifecycles)
    assert any(s.expect_error for s in scenarios)


def test_the_shipped_scenarios_leave_out_operations_a_project_has_no_contract_for(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """A project with contracts for some operations uses the shipped scenarios for those; its
    own scenarios file is held to its contracts, where an unknown operation is most often a
    typo."""
    from aliconform import load_contracts

    subset = tmp_path / "contracts"
    (subset / "imm").mkdir(parents=True)
    (subset / "common").mkdir()
    for name in ("imm/GetImageModerationResult.yaml", "common/errors.yaml"):
        (subset / name).write_text((REPO / "contracts" / name).read_text("utf-8"), "utf-8")
    some = load_contracts(subset)
    scenarios = load_scenarios(REPO / "scenarios.yaml", some)
    assert scenarios
    assert {s.operation for s in scenarios} == {"GetImageModerationResult"}
    shipped = load_scenarios(REPO / "scenarios.yaml", contracts)
    assert len(scenarios) == len([s for s in shipped if s.operation in some])
    # A copy nobody edited (`scenarios init`) is the shipped file; an edited one is the project's.
    own = tmp_path / "scenarios.yaml"
    own.write_text((REPO / "scenarios.yaml").read_text("utf-8"), "utf-8")
    assert {s.operation for s in load_scenarios(own, some)} == {"GetImageModerationResult"}
    own.write_bytes((REPO / "scenarios.yaml").read_bytes().replace(b"\n", b"\r\n"))
    assert {s.operation for s in load_scenarios(own, some)} == {"GetImageModerationResult"}
    own.write_text((REPO / "scenarios.yaml").read_text("utf-8") + "# ours\n", "utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(own, some)
    assert "no contract for 'QuerySmarttagJob'" in str(caught.value)


def _scenario_errors(tmp_path: Path, contracts: ContractSet, text: str) -> list[str]:
    """The lines of the error that loading a scenarios file with this text raises."""
    path = tmp_path / "scenarios.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path, contracts)
    return str(caught.value).splitlines()


def test_a_bad_scenario_is_named_with_file_line_and_suggestion(
    tmp_path: Path, contracts: ContractSet
) -> None:
    text = "\n".join(
        _scenario_errors(
            tmp_path,
            contracts,
            "format_version: 1\n"
            "scenarios:\n"
            "  - name: one\n"
            "    operation: GetImageModerationResult\n"
            "    params: {TaskID: x}\n"
            "  - name: two\n"
            "    operation: QuerySmarttagJb\n",
        )
    )
    assert "scenarios.yaml:5" in text
    assert "did you mean 'TaskId'" in text
    assert "scenarios.yaml:7" in text
    assert "did you mean 'QuerySmarttagJob'" in text


def test_a_scenario_cannot_take_the_name_of_a_documentation_cassette(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """doc-* cassettes are derived from the pages' examples; a recording must not replace one."""
    text = "\n".join(
        _scenario_errors(
            tmp_path,
            contracts,
            "format_version: 1\n"
            "scenarios:\n"
            "  - name: doc-example-success\n"
            "    operation: GetImageModerationResult\n"
            "    params: {TaskId: x}\n",
        )
    )
    assert "scenarios.yaml:3" in text
    assert "doc-" in text


def test_a_scenario_that_cannot_be_recorded_is_refused_before_anything_is_called(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """An expected error with a poll (one answer, no status to poll), and a name too long for
    its cassette's file names, were found only after the calls were made."""
    text = "\n".join(
        _scenario_errors(
            tmp_path,
            contracts,
            "format_version: 1\n"
            "scenarios:\n"
            "  - name: probe\n"
            "    operation: QuerySmarttagJob\n"
            "    params: {JobId: x}\n"
            "    expect_error: '*'\n"
            "    poll: {field: JobStatus, terminal: [Success]}\n"
            f"  - name: {'n' * 101}\n"
            "    operation: QuerySmarttagJob\n"
            "    params: {JobId: x}\n",
        )
    )
    assert "scenarios.yaml:3" in text
    assert "expect_error and poll cannot go together" in text
    # and editors say so as it is typed: the JSON Schema refuses the pair too
    from jsonschema import Draft202012Validator

    from aliconform.record import ScenarioFile

    schema = Draft202012Validator(ScenarioFile.model_json_schema())
    probe = {"name": "p", "operation": "QuerySmarttagJob", "expect_error": "*"}
    assert schema.is_valid({"format_version": 1, "scenarios": [probe]})
    polled = {**probe, "poll": {"field": "JobStatus", "terminal": ["Success"]}}
    assert not schema.is_valid({"format_version": 1, "scenarios": [polled]})
    assert "scenarios.yaml:8" in text
    assert "at most 100 characters" in text


@pytest.mark.parametrize(
    ("region", "endpoint", "message"),
    [
        ("cn-shanghai", "127.0.0.1:99999", "the port must be a number from 1 to 65535"),
        ("cn-shanghai", "http://127.0.0.1:http", "the port must be a number from 1 to 65535"),
        ("cn-shanghai", "localhost:0", "the port must be a number from 1 to 65535"),
        ("cn-shanghai", "localhost:", "the port must be a number from 1 to 65535"),
        ("cn-shanghai", ":8080", "expected host[:port] or a URL"),
        ("cn-shanghai", "https://[::1", "Invalid IPv6 URL"),
        ("cn-shanghai", "::1", "write an IPv6 address in brackets, e.g. [::1]:8765"),
        ("cn-shanghai", "http://h:1/?x", "RPC calls go to '/', with no path, query or fragment"),
        ("", "127.0.0.1:8080", "--region is empty"),
    ],
)
def test_an_unusable_target_is_one_usage_error_up_front(
    region: str, endpoint: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main

    argv = ["record", "--dry-run", "--region", region, "--endpoint", endpoint]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_mistyped_capture_or_error_code_is_caught_before_anything_is_called(
    tmp_path: Path, contracts: ContractSet
) -> None:
    lines = _scenario_errors(
        tmp_path,
        contracts,
        "format_version: 1\n"
        "scenarios:\n"
        "  - name: lifecycle\n"
        "    operation: GetImageModerationResult\n"
        "    setup:\n"
        "      action: CreateImageModerationTask\n"
        "      capture: {TaskId: TaskId}\n"
        "    params:\n"
        "      TaskId: ${setup.TaskID}\n"
        "  - name: no-setup\n"
        "    operation: GetImageModerationResult\n"
        "    params: {TaskId: '${setup.TaskId}'}\n"
        "  - name: probe\n"
        "    operation: GetImageModerationResult\n"
        "    params: {TaskId: nope}\n"
        "    expect_error: ResourceNotFund\n"
        "  - name: templated\n"
        "    operation: GetImageModerationResult\n"
        "    params: {TaskId: nope}\n"
        "    expect_error: ResourceNotFound\n"
        "  - name: setup-from-setup\n"
        "    operation: GetImageModerationResult\n"
        "    setup:\n"
        "      action: CreateImageModerationTask\n"
        "      params: {ProjectName: '${setup.Project}'}\n"
        "      capture: {TaskId: TaskId}\n"
        "    params: {TaskId: '${setup.TaskId}'}\n",
    )
    assert len(lines) == 4, lines
    assert "scenarios.yaml:25" in lines[3]
    assert "a setup's parameters cannot use ${setup.*}" in lines[3]
    assert "scenarios.yaml:9" in lines[0]
    assert "the setup captures no 'TaskID' (did you mean 'TaskId'?); it captures TaskId" in lines[0]
    assert "scenarios.yaml:12" in lines[1]
    assert "${setup.TaskId} needs a setup step, and there is none" in lines[1]
    assert "scenarios.yaml:16" in lines[2]
    assert "'ResourceNotFund' is not an error code the documentation lists" in lines[2]
    assert "did you mean 'ResourceNotFound'" in lines[2]


def test_a_mistyped_poll_setup_action_or_placeholder_is_caught_before_anything_is_called(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """A poll on a field the answer lacks would keep the first answer as if it were final, a
    terminal value the field never takes would poll until the timeout, an unknown setup action
    fails only after the run started, and a broken placeholder is sent as it is."""
    lines = _scenario_errors(
        tmp_path,
        contracts,
        "format_version: 1\n"
        "scenarios:\n"
        "  - name: lifecycle\n"
        "    operation: GetVideoLabelClassificationResult\n"
        "    setup:\n"
        "      action: CreateVideoLabelTask\n"
        "      params: {ProjectName: '$ALICONFORM_IMM_PROJECT'}\n"
        "      capture: {TaskId: TaskId}\n"
        "    params: {TaskId: '${setup.TaskId}', ProjectName: '${ALICONFORM_IMM_PROJECT'}\n"
        "    poll: {field: status, terminal: [Succeeded]}\n"
        "  - name: terminal\n"
        "    operation: GetVideoLabelClassificationResult\n"
        "    params: {TaskId: x}\n"
        "    poll: {field: Status, terminal: [Succeded, Failed]}\n"
        "  - name: optional\n"
        "    operation: GetVideoLabelClassificationResult\n"
        "    params: {TaskId: x}\n"
        "    poll: {field: Code, terminal: [x]}\n",
    )
    text = "\n".join(lines)
    assert len(lines) == 6, lines
    assert "scenarios.yaml:18" in text
    assert "Code is not required by the contract" in text
    assert "scenarios.yaml:7" in text
    assert "'$ALICONFORM_IMM_PROJECT' is not a placeholder" in text
    assert "scenarios.yaml:9" in text
    assert "'${ALICONFORM_IMM_PROJECT' is not a placeholder" in text
    assert "scenarios.yaml:10" in text
    assert "not a response field (did you mean 'Status'?)" in text
    assert "scenarios.yaml:6" in text
    assert "'CreateVideoLabelTask' is not an action of the alibabacloud-imm20200930 SDK" in text
    assert "did you mean 'CreateVideoLabelClassificationTask'" in text
    assert "scenarios.yaml:14" in text
    assert "'Succeded' is not a value of Status (did you mean 'Succeeded'?)" in text


def test_a_placeholder_in_a_default_is_refused_not_sent_as_it_is(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """`${A:-${B}}` reads as A with the default `${B` and a stray `}`: unset A would send the
    text `${B}`. Defaults are text; the file says so rather than call with it."""
    lines = _scenario_errors(
        tmp_path,
        contracts,
        "scenarios:\n"
        "  - name: nested\n"
        "    operation: GetVideoLabelClassificationResult\n"
        "    params: {TaskId: x, ProjectName: '${ALICONFORM_A:-${ALICONFORM_B}}'}\n",
    )
    text = "\n".join(lines)
    assert len(lines) == 1, lines
    assert "scenarios.yaml:4" in text
    assert "a default cannot hold a placeholder (they are not expanded)" in text
    resolved = resolve({"P": "${ALICONFORM_A:-plain}"}, environ={})
    assert resolved.params == {"P": "plain"}


def test_a_malformed_poll_duration_is_rejected_with_its_place(
    tmp_path: Path, contracts: ContractSet
) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "scenarios:\n"
        "  - name: one\n"
        "    operation: QuerySmarttagJob\n"
        "    params: {JobId: x}\n"
        "    poll: {field: JobStatus, terminal: [Success], interval: soon}\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match=r"scenarios.yaml:5.*not a duration"):
        load_scenarios(path, contracts)
    for value in ("[1]", "true", "{s: 1}"):
        path.write_text(path.read_text("utf-8").replace("soon", value), "utf-8")
        with pytest.raises(ScenarioError, match=r"scenarios.yaml:5.*not a duration"):
            load_scenarios(path, contracts)
        path.write_text(path.read_text("utf-8").replace(value, "soon"), "utf-8")


def test_placeholders_resolve_from_environment_defaults_and_setup() -> None:
    params = {
        "ProjectName": "${PROJECT}",
        "TaskId": "${setup.TaskId}",
        "Template": "${TEMPLATE:-fallback}",
        "Input": {"Media": "oss://${BUCKET}/a.mp4"},
    }
    resolved = resolve(params, {"TaskId": "t-1"}, {"PROJECT": "p"})
    assert resolved.params == {
        "ProjectName": "p",
        "TaskId": "t-1",
        "Template": "fallback",
        "Input": {"Media": "oss://${BUCKET}/a.mp4"},
    }
    assert resolved.missing == ("BUCKET",)
    assert placeholders(params) == ["PROJECT", "BUCKET"]


# --- retries -------------------------------------------------------------------------------


class _SdkError(Exception):
    def __init__(self, status: int | None, code: str | None, retry_after: int | None = None):
        super().__init__(f"{status} {code}")
        self.status_code = status
        self.code = code
        self.retry_after = retry_after


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_SdkError(400, "Throttling.User"), True),
        (_SdkError(400, "RequestsTooFrequent"), True),
        (_SdkError(400, "Throttling.Resource"), True),
        (_SdkError(400, "SomethingElse", retry_after=1500), True),
        (_SdkError(429, "Whatever"), True),
        (_SdkError(503, "ServiceUnavailable"), True),
        (_SdkError(500, "InternalError"), True),
        (_SdkError(404, "ResourceNotFound"), False),
        (_SdkError(400, "SignatureDoesNotMatch"), False),
        (ConnectionResetError("peer reset"), True),
        (json.JSONDecodeError("Expecting value", "{", 1), True),
        (ValueError("not a network problem"), False),
    ],
)
def test_what_is_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_create_is_sent_again_only_when_throttled_or_never_sent() -> None:
    import socket

    import requests

    from aliconform.record.retry import connection_not_opened, is_refused_before_processing

    assert is_refused_before_processing(_SdkError(429, "Throttling.User"))
    assert is_refused_before_processing(_SdkError(400, "Throttling.Api"))
    assert not is_refused_before_processing(_SdkError(503, "ServiceUnavailable"))
    assert not is_refused_before_processing(_SdkError(500, "InternalError"))
    assert not is_refused_before_processing(ConnectionResetError("peer reset"))
    # requests' own failures, as the SDK wraps them: refused means nothing was sent; a read
    # that timed out may follow a request the service is already working on.
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2.0)
    wrapped = RuntimeError("the SDK's own wrapper, chained only by inner_exception")
    wrapped.inner_exception = refused.value  # type: ignore[attr-defined]
    assert connection_not_opened(wrapped) == "Connection refused"
    assert is_refused_before_processing(wrapped)
    read_timeout = requests.ReadTimeout("HTTPConnectionPool(...): Read timed out.")
    assert connection_not_opened(read_timeout) is None
    assert not is_refused_before_processing(read_timeout)
    assert is_transient(read_timeout)


def test_a_wrapped_connection_error_is_retried() -> None:
    outer = RuntimeError("the SDK's own wrapper")
    outer.__cause__ = ConnectionAbortedError("dropped")
    assert is_transient(outer)


def test_backoff_honours_the_service_hint_and_stays_bounded() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=8.0)
    assert retry_delay(_SdkError(429, "Throttling", retry_after=1500), 1, policy) == 1.5
    assert retry_delay(_SdkError(429, "Throttling", retry_after=60_000), 1, policy) == 8.0
    rng = random.Random(7)
    delays = [retry_delay(_SdkError(503, None), n, policy, rng) for n in range(1, 10)]
    assert all(0 <= d <= 8.0 for d in delays)
    assert max(delays) > 1.0  # the ceiling grows past the first attempt's


# --- targets -------------------------------------------------------------------------------


def test_region_resolves_to_the_documented_endpoint(contracts: ContractSet) -> None:
    target = RecordTarget(region="cn-beijing")
    assert target.host_and_protocol(contracts["QuerySmarttagJob"]) == (
        "ice.cn-beijing.aliyuncs.com",
        "https",
    )
    assert target.host_and_protocol(contracts["GetImageModerationResult"])[0] == (
        "imm.cn-beijing.aliyuncs.com"
    )


def test_an_unknown_region_suggests_the_nearest(contracts: ContractSet) -> None:
    with pytest.raises(TargetError, match="did you mean 'cn-shanghai'"):
        RecordTarget(region="cn-shangai").host_and_protocol(contracts["QuerySmarttagJob"])


def test_an_endpoint_override_wins_for_every_product(contracts: ContractSet) -> None:
    target = RecordTarget(region="cn-shanghai", endpoint="http://127.0.0.1:8765")
    for contract in contracts.values():
        assert target.host_and_protocol(contract) == ("127.0.0.1:8765", "http")
    with pytest.raises(TargetError, match="with no path, query or fragment"):
        RecordTarget("cn-shanghai", "http://127.0.0.1:1/api").host_and_protocol(
            contracts["QuerySmarttagJob"]
        )


@pytest.mark.parametrize(
    "endpoint", ["http://user:s3cr3t-pass@127.0.0.1:8765", "user:s3cr3t-pass@127.0.0.1:8765"]
)
def test_an_endpoint_with_a_password_is_refused_without_repeating_it(
    contracts: ContractSet, endpoint: str
) -> None:
    with pytest.raises(TargetError) as caught:
        RecordTarget("cn-shanghai", endpoint).host_and_protocol(contracts["QuerySmarttagJob"])
    assert "a user or password in it is neither needed nor sent" in str(caught.value)
    assert "s3cr3t-pass" not in str(caught.value)


def test_a_bare_host_is_https_except_on_this_machine(contracts: ContractSet) -> None:
    """The twin speaks plain HTTP: `--endpoint 127.0.0.1:8765` must reach it, while a bare
    remote host (a VPC endpoint, a proxy) keeps TLS; a scheme given is always kept."""
    contract = contracts["QuerySmarttagJob"]
    for local in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765"):
        assert RecordTarget("cn-shanghai", local).host_and_protocol(contract) == (local, "http")
    remote = RecordTarget("cn-shanghai", "ice-vpc.cn-shanghai.aliyuncs.com")
    assert remote.host_and_protocol(contract)[1] == "https"
    tls = RecordTarget("cn-shanghai", "https://127.0.0.1:8443")
    assert tls.host_and_protocol(contract) == ("127.0.0.1:8443", "https")


def test_a_failed_tls_handshake_is_explained() -> None:
    from aliconform.record.recorder import _brief

    inner = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    outer = RuntimeError("HTTPSConnectionPool(host='127.0.0.1', port=8767): " + "x" * 300)
    outer.__cause__ = inner
    assert "is the endpoint plain http?" in _brief(outer)


def test_loopback_endpoints_are_not_live() -> None:
    assert is_loopback("127.0.0.1:8765")
    assert is_loopback("localhost")
    assert is_loopback("[::1]")
    assert not is_loopback("imm.cn-shanghai.aliyuncs.com")


# --- behaviour diff ------------------------------------------------------------------------


def _with_body(cassette: CassetteFile, change: dict[str, object]) -> CassetteFile:
    """A copy of the cassette whose first response body has some top-level keys changed."""
    data = cassette.model_dump()
    body = json.loads(data["interactions"][0]["response"]["body"]["string"])
    for key, value in change.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    data["interactions"][0]["response"]["body"]["string"] = json.dumps(body)
    return CassetteFile.model_validate(data)


def test_volatile_values_do_not_count_as_behaviour() -> None:
    old = load_cassette(SUCCESS)
    new = _with_body(
        old,
        {
            "RequestId": "F0000000-0000-0000-0000-000000000000",
            "TaskId": "ImageModeration-other",
            "StartTime": "2030-01-01T00:00:00.1Z",
            "EndTime": "2030-01-01T00:00:05.2Z",
        },
    )
    assert behaviour_diff(old, new, "c.yaml") == []
    assert behaviour_diff(None, new, "c.yaml") == []


def test_a_new_field_a_vanished_field_and_a_type_change_are_named() -> None:
    old = load_cassette(SUCCESS)
    new = _with_body(old, {"Novel": "x", "ProjectName": None, "Status": 3})
    changes = {(c.path, c.change) for c in behaviour_diff(old, new, "c.yaml")}
    assert changes == {
        ("/Novel", "field-added"),
        ("/ProjectName", "field-removed"),
        ("/Status", "type-changed"),
    }


def test_changes_inside_json_string_payloads_and_signed_urls() -> None:
    old = load_cassette(SUCCESS)
    before = _with_body(
        old,
        {
            "UserData": json.dumps({"a": 1}),
            "Url": "https://b.oss.example.com/o.jpg?Expires=1&OSSAccessKeyId=x&Signature=y",
        },
    )
    after = _with_body(
        old,
        {
            "UserData": json.dumps({"a": "1"}),
            "Url": "https://b.oss.example.com/o.jpg?Expires=2&OSSAccessKeyId=z&Signature=w",
        },
    )
    changes = behaviour_diff(before, after, "c.yaml")
    assert [(c.path, c.change) for c in changes] == [("/UserData/a", "type-changed")]


def _polled(*bodies: dict[str, object]) -> CassetteFile:
    """A cassette of one answer per polled state, as record keeps them."""
    data = load_cassette(SUCCESS).model_dump()
    (first,) = data["interactions"]
    data["interactions"] = [
        {**first, "response": {**first["response"], "body": {"string": json.dumps(body)}}}
        for body in bodies
    ]
    return CassetteFile.model_validate(data)


SUBMITTED = {"Status": "Submitted", "RequestId": "A"}
PROCESSING = {"Status": "Processing", "RequestId": "B", "Progress": 40}
SUCCEEDED = {"Status": "Succeeded", "RequestId": "C", "Labels": [{"Name": "cup"}]}


def test_a_state_one_recording_skipped_is_one_answer_added_or_removed() -> None:
    """A job that finished sooner skips a polled state; the answers after it are unchanged."""
    longer = _polled(SUBMITTED, PROCESSING, SUCCEEDED)
    shorter = _polled(SUBMITTED, SUCCEEDED)
    gone = behaviour_diff(longer, shorter, "c.yaml", state_field="Status")
    assert [(c.interaction, c.path, c.change) for c in gone] == [
        (1, "(whole body)", "item-removed")
    ]
    assert gone[0].old is not None
    assert "Processing" in gone[0].old
    came = behaviour_diff(shorter, longer, "c.yaml", state_field="Status")
    assert [(c.interaction, c.path, c.change) for c in came] == [(1, "(whole body)", "item-added")]


def test_answers_paired_by_state_still_show_their_own_changes() -> None:
    before = _polled(SUBMITTED, PROCESSING, SUCCEEDED)
    after = _polled(PROCESSING, {**SUCCEEDED, "Labels": [{"Name": 3}]})
    changes = behaviour_diff(before, after, "c.yaml", state_field="Status")
    assert [(c.interaction, c.path, c.change) for c in changes] == [
        (0, "(whole body)", "item-removed"),
        (1, "/Labels/0/Name", "type-changed"),
    ]


def test_a_state_the_service_renamed_is_a_value_change_of_the_state_field() -> None:
    before = _polled(PROCESSING, SUCCEEDED)
    after = _polled({**PROCESSING, "Status": "Running"}, SUCCEEDED)
    changes = behaviour_diff(before, after, "c.yaml", state_field="Status")
    assert [(c.interaction, c.path, c.change, c.new) for c in changes] == [
        (0, "/Status", "value-changed", '"Running"')
    ]


def test_a_region_one_product_lacks_skips_its_scenarios_and_a_bad_endpoint_fails_them(
    tmp_path: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main
    from aliconform.record import record_scenarios

    ice = [
        s
        for s in load_scenarios(REPO / "scenarios.yaml", contracts)
        if s.operation == "QuerySmarttagJob"
    ]
    environ = {"ALICONFORM_ICE_VIDEO_URI": "oss://b/v.mp4", "ALICONFORM_ICE_SMARTTAG_JOB_ID": "j"}
    # cn-qingdao: an IMM region, not an ICE one. Nothing is called, nothing raises.
    run = record_scenarios(ice, contracts, RecordTarget("cn-qingdao"), tmp_path, environ=environ)
    assert {r.outcome for r in run.results} == {"skipped"}
    assert all(
        "ice has no documented endpoint in region 'cn-qingdao'" in r.message for r in run.results
    )
    bad = RecordTarget("cn-shanghai", endpoint="ftp://127.0.0.1:1")
    run = record_scenarios(ice, contracts, bad, tmp_path, environ=environ)
    assert {r.outcome for r in run.results} == {"failed"}
    assert all("expected host[:port] or a URL" in r.message for r in run.results)
    assert not list(tmp_path.iterdir())
    # The command says so once, up front, and lists the others as they would run.
    assert main(["record", "--dry-run", "--region", "cn-qingdao"]) == 0
    captured = capsys.readouterr()
    assert "note: ice has no documented endpoint in region 'cn-qingdao'" in captured.err
    assert "did you mean" not in captured.err
    assert "imm.cn-qingdao.aliyuncs.com" in captured.out


@pytest.mark.parametrize(
    ("code", "accepted"),
    [
        ("ResourceNotFound", True),  # documented as it is
        ("InvalidTaskType", True),  # Invalid{ParameterName}, with a parameter of the operation
        ("MissingTaskId", True),
        ("Forbidden", True),  # a refusal of the caller: a probe may expect one
        ("InvalidParamter", False),  # matches the template's shape, names no parameter
        ("ResourceNotFund", False),
    ],
)
def test_what_a_probe_may_expect(
    tmp_path: Path, contracts: ContractSet, code: str, accepted: bool
) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        "scenarios:\n  - name: probe\n    operation: GetImageModerationResult\n"
        f"    params: {{TaskId: nope}}\n    expect_error: {code}\n",
        encoding="utf-8",
    )
    if accepted:
        assert load_scenarios(path, contracts)[0].expect_error == code
        return
    with pytest.raises(ScenarioError, match=r"scenarios.yaml:5.*did you mean"):
        load_scenarios(path, contracts)


def test_a_failed_assertion_is_called_a_bug_not_a_scenario_failure(
    tmp_path: Path, contracts: ContractSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of aliconform's own met while recording one scenario is named as one (where it
    failed), and the other scenarios still run; an assertion elsewhere (the SDK) is not."""
    from aliconform.record import record_scenarios, recorder

    def ours(scenario: Any, session: Any, note: Any, environ: Any) -> None:
        recorder._poll(scenario, session, {}, lambda _: None, note)  # asserts a poll is given

    def theirs(*args: object) -> None:
        assert args == (), "never true"

    [scenario] = [
        s
        for s in load_scenarios(REPO / "scenarios.yaml", contracts)
        if s.name == "live-error-unknown-job" and s.operation == "QuerySmarttagJob"
    ]
    target = RecordTarget("cn-shanghai", endpoint="127.0.0.1:9")
    messages = []
    for capture in (ours, theirs):
        monkeypatch.setattr(recorder, "_capture", capture)
        run = record_scenarios([scenario], contracts, target, tmp_path / "cassettes")
        [result] = run.results
        assert result.outcome == "failed"
        assert result.message.endswith("does not exist)")
        messages.append(result.message)
    assert messages[0].startswith(
        "internal error (a bug in aliconform; please report it): assertion "
        "'assert poll is not None' failed at recorder.py:"
    )
    assert messages[1].startswith("AssertionError: never true")


@pytest.mark.parametrize(
    "written", ["${ ALICONFORM_IMM_PROJECT }", "${ALICONFORM_IMM_PROJECT-x}", "${A:=x}", "${A-B}"]
)
def test_a_shell_form_this_file_does_not_take_is_not_sent_as_written(
    tmp_path: Path, contracts: ContractSet, written: str
) -> None:
    (line,) = _scenario_errors(
        tmp_path,
        contracts,
        "format_version: 1\n"
        "scenarios:\n"
        "  - name: one\n"
        "    operation: GetImageModerationResult\n"
        f"    params: {{TaskId: x, ProjectName: '{written}'}}\n",
    )
    assert "scenarios.yaml:5" in line
    assert f"'{written}' is not a placeholder; write ${{NAME}} or ${{NAME:-default}}" in line
