"""The OpenAPI export, the signed wire-form transport and the property-based runner, tested
against the twin: the runner must find real problems when the twin drifts or misbehaves."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from openapi_spec_validator import validate
from typer.testing import CliRunner

from aliconform import cli, load_contracts
from aliconform.cli import app
from aliconform.contracts.openapi import RPC_EXTENSION, openapi_document, operation_path
from aliconform.drift.doclint import lint_docs
from aliconform.drift.findings import Kind
from aliconform.fuzz import Credentials, FuzzOptions, FuzzRun, WireTarget, fuzz_twin, sign_request
from aliconform.record import RetryPolicy
from aliconform.twin import (
    DRIFT_PROFILES,
    TWIN_ACCESS_KEY_ID,
    TWIN_ACCESS_KEY_SECRET,
    TwinConfig,
    expected_findings,
    parse_faults,
)
from aliconform.twin.signing import WireRequest, authenticate

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = load_contracts(REPO / "contracts")
SCENARIOS = REPO / "scenarios.yaml"
DOCUMENTED = {(f.operation, f.kind.value, f.path) for f in lint_docs(CONTRACTS)}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document(CONTRACTS.values())


# --- the OpenAPI document ------------------------------------------------------------------


def test_the_document_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_one_path_per_action_with_its_real_wire_form(document: dict[str, Any]) -> None:
    assert set(document["paths"]) == {operation_path(c) for c in CONTRACTS.values()}
    for contract in CONTRACTS.values():
        item = document["paths"][operation_path(contract)]
        assert item["servers"][0]["url"] == "https://" + contract.endpoint.pattern
        operation = item["post"]
        assert operation["operationId"] == contract.operation
        wire = operation[RPC_EXTENSION]
        assert (wire["action"], wire["version"], wire["path"]) == (
            contract.operation,
            contract.api_version,
            "/",
        )
        names = [p["name"] for p in operation["parameters"]]
        assert names == list(contract.request.parameters)


def test_parameters_carry_enums_and_json_payloads(document: dict[str, Any]) -> None:
    image = document["paths"]["/imm/2020-09-30/GetImageModerationResult"]["post"]
    task_type = next(p for p in image["parameters"] if p["name"] == "TaskType")
    assert task_type["schema"]["enum"] == ["ImageModeration"]
    assert task_type["required"] is True
    smarttag = document["paths"]["/ice/2020-11-09/QuerySmarttagJob"]["post"]
    params = next(p for p in smarttag["parameters"] if p["name"] == "Params")
    schema = params["content"]["application/json"]["schema"]
    assert schema["properties"]["labelResultType"]["enum"] == ["auto", "hmi"]
    assert params["x-aliconform-string-schema"]["type"] == "string"


def test_success_schemas_describe_decoded_json_payloads(document: dict[str, Any]) -> None:
    text = json.dumps(document["components"]["schemas"]["QuerySmarttagJobResponse"])
    assert '"contentMediaType": "application/json"' in text
    assert '"contentSchema"' in text
    assert "#/$defs/" not in json.dumps(document)  # every reference resolves in the document


def test_error_responses_list_the_documented_codes_per_status(document: dict[str, Any]) -> None:
    for contract in CONTRACTS.values():
        responses = document["paths"][operation_path(contract)]["post"]["responses"]
        documented = {s for code in contract.error_codes().values() for s in code.statuses()}
        assert {int(s) for s in responses if s != "200"} == documented
        listed = {
            e["code"] for s in responses if s != "200" for e in responses[s]["x-aliconform-errors"]
        }
        assert listed == set(contract.error_codes())
    iproduction = document["paths"]["/ice/2020-11-09/QueryIProductionJob"]["post"]["responses"]
    assert (
        "IdempotentParameterMismatch"
        in iproduction["400"]["content"]["application/json"]["schema"]["properties"]["Code"][
            "anyOf"
        ][0]["enum"]
    )


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels == {f"POST {operation_path(c)}" for c in CONTRACTS.values()}


def test_the_cli_writes_the_document(tmp_path: Path, document: dict[str, Any]) -> None:
    runner = CliRunner()
    target = tmp_path / "out" / "openapi.json"
    result = runner.invoke(
        app, ["openapi", "--contracts", str(REPO / "contracts"), "--out", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text("utf-8")) == json.loads(json.dumps(document))
    printed = runner.invoke(app, ["openapi", "--contracts", str(REPO / "contracts")])
    assert json.loads(printed.stdout) == json.loads(target.read_text("utf-8"))


# --- the transport -------------------------------------------------------------------------


def _wire(signed: Any) -> WireRequest:
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(signed.url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    headers = {k.lower(): v for k, v in signed.headers.items()}
    return WireRequest("POST", parts.path, query, headers, b"")


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_requests_are_signed_as_the_gateway_verifies(signature: str) -> None:
    contract = CONTRACTS["QuerySmarttagJob"]
    target = WireTarget(hosts={"ice": "127.0.0.1:9"}, scheme="http", signature=signature)  # type: ignore[arg-type]
    credentials = Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET)
    query = {"JobId": "job é/~ 1", "Params": '{"labelResultType": "auto"}', "Extra": [1, {"a": 2}]}
    signed = sign_request(contract, query, target, credentials)
    # Flattened as the SDK flattens (Name.1, Name.2.a), and verified by the twin's check,
    # which recomputes the signature with the SDK's own functions.
    assert signed.params["Extra.1"] == "1"
    assert signed.params["Extra.2.a"] == "2"
    verified = authenticate(_wire(signed), {TWIN_ACCESS_KEY_ID: TWIN_ACCESS_KEY_SECRET})
    assert verified.version == signature
    tampered = _wire(signed)
    changed = dict(tampered.query, JobId="another") if signature == "v2" else tampered.query
    if signature == "v3":
        changed = {**tampered.query, "JobId": "another"}
    from aliconform.twin.signing import SignatureRejected

    with pytest.raises(SignatureRejected, match="SignatureDoesNotMatch"):
        authenticate(
            WireRequest("POST", "/", changed, tampered.headers, b""),
            {TWIN_ACCESS_KEY_ID: TWIN_ACCESS_KEY_SECRET},
        )
    assert TWIN_ACCESS_KEY_SECRET not in repr(credentials)


# --- finding problems ----------------------------------------------------------------------


def _run(config: TwinConfig, **options: Any) -> FuzzRun:
    defaults: dict[str, Any] = {"max_examples": 8, "seed": 7}
    return fuzz_twin(CONTRACTS, FuzzOptions(**{**defaults, **options}), SCENARIOS, config=config)


def _found(run: FuzzRun) -> set[tuple[str, str, str]]:
    return {(f.operation, f.kind.value, f.path) for f in run.findings}


@pytest.mark.parametrize("profile", sorted(set(DRIFT_PROFILES) - {"all"}))
def test_a_drifting_twin_is_caught_at_the_drifted_paths(profile: str) -> None:
    config = TwinConfig(contracts=CONTRACTS, drift=profile, polls_before_done=0)
    run = _run(config, modes=("positive",))
    injected = {
        (operation, kind, pointer)
        for operation in CONTRACTS
        for kind, pointer in expected_findings(profile, operation)
    }
    assert injected
    assert _found(run) - DOCUMENTED == injected


def test_a_failing_twin_is_caught() -> None:
    faults = parse_faults(
        "server-error=*@GetImageModerationResult,malformed=*@GetVideoModerationResult,"
        "drop=2@QuerySmarttagJob,throttle=*@QueryIProductionJob"
    )
    config = TwinConfig(contracts=CONTRACTS, faults=faults, polls_before_done=0)
    run = _run(config, max_examples=4, retry=RetryPolicy(max_attempts=1))
    kinds: dict[str, set[str]] = {}
    for finding in run.findings:
        kinds.setdefault(finding.operation, set()).add(finding.kind.value)
    assert Kind.SERVER_ERROR.value in kinds["GetImageModerationResult"]
    assert {Kind.UNPARSEABLE_BODY.value, Kind.UNDOCUMENTED_CONTENT_TYPE.value} <= kinds[
        "GetVideoModerationResult"
    ]
    # A content type that is not documented is shown as the content type, not the status.
    content_types = {f.observed for f in run.findings if f.kind is Kind.UNDOCUMENTED_CONTENT_TYPE}
    assert content_types
    assert all(isinstance(seen, str) and "/" in seen for seen in content_types), content_types
    unanswered = [c for c in run.cases if c.operation == "QuerySmarttagJob" and c.error]
    assert len(unanswered) == 2
    assert Kind.SERVER_ERROR.value in kinds["QuerySmarttagJob"]
    # Throttling.User is documented with HTTP 400; the twin throttles with 429.
    assert Kind.UNDOCUMENTED_HTTP_STATUS.value in kinds["QueryIProductionJob"]
    assert "GetVideoLabelClassificationResult" not in {
        op for op, kind, _ in _found(run) - DOCUMENTED
    }


def test_a_twin_that_accepts_forbidden_requests_is_caught() -> None:
    """The twin stops validating one operation's parameters; negative requests that name an
    existing task (with the parameter schemathesis mutated left as mutated) are answered 200."""
    config = TwinConfig(
        contracts=CONTRACTS,
        faults=parse_faults("lenient=*@GetVideoLabelClassificationResult"),
        polls_before_done=0,
    )
    run = _run(config, modes=("negative",), max_examples=12)
    lenient = [
        f
        for f in run.findings
        if f.operation == "GetVideoLabelClassificationResult"
        and f.kind is Kind.ACCEPTED_INVALID_REQUEST
    ]
    assert lenient, _found(run)
    assert all(f.rule == "schemathesis:AcceptedNegativeData" for f in lenient)
    accepted = [c for c in run.cases if c.id in {f.source for f in lenient}]
    assert all(c.known_ids and c.status == 200 for c in accepted)
    others = {op for op, kind, _ in _found(run) - DOCUMENTED if kind == "accepted-invalid-request"}
    assert others == {"GetVideoLabelClassificationResult"}


def test_a_known_task_that_the_service_denies_is_a_rejected_valid_request() -> None:
    from aliconform.fuzz import KnownParameters, run_fuzz
    from aliconform.twin import TwinServer

    known = KnownParameters({"QuerySmarttagJob": [{"JobId": "0" * 32}]})
    with TwinServer(TwinConfig(contracts=CONTRACTS)) as twin:
        target = WireTarget(hosts={"ice": twin.endpoint, "imm": twin.endpoint}, scheme="http")
        credentials = Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET)
        options = FuzzOptions(
            max_examples=6, seed=3, modes=("positive",), operations=("QuerySmarttagJob",)
        )
        run = run_fuzz(CONTRACTS, target, credentials, options, known)
    # Every other case names the known task (a drawn boolean gave about one in five).
    assert len(run.cases) == 6
    assert [c.known_ids for c in run.cases] == [True, False] * 3
    rejected = [f for f in run.findings if f.kind is Kind.REJECTED_VALID_REQUEST]
    assert rejected
    assert {f.source for f in rejected} == {c.id for c in run.cases if c.known_ids}
    assert all("JobId" in f.message for f in rejected)


def test_v2_signed_runs_reach_success_answers() -> None:
    run = fuzz_twin(
        CONTRACTS,
        FuzzOptions(max_examples=4, seed=1, modes=("positive",)),
        SCENARIOS,
        config=TwinConfig(contracts=CONTRACTS, polls_before_done=0),
        signature="v2",
    )
    assert {c.operation for c in run.cases if c.status == 200} == set(CONTRACTS)
    assert _found(run) <= DOCUMENTED


@pytest.fixture
def twin_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin's key for the default credentials chain, and the scenario variables."""
    from aliconform.fuzz import TWIN_SCENARIO_VARIABLES

    for name, value in TWIN_SCENARIO_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", TWIN_ACCESS_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", TWIN_ACCESS_KEY_SECRET)
    from alibabacloud_credentials.utils import auth_util

    monkeypatch.setattr(auth_util, "environment_access_key_id", TWIN_ACCESS_KEY_ID)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", TWIN_ACCESS_KEY_SECRET)
    monkeypatch.setattr(auth_util, "environment_security_token", None)


def _fuzz_cli(endpoint: str, out: Path, *options: str) -> Any:
    common = ["--contracts", str(REPO / "contracts"), "--scenarios", str(SCENARIOS)]
    return CliRunner().invoke(
        app, ["fuzz", *common, "--endpoint", f"http://{endpoint}", "--out", str(out), *options]
    )


def test_the_cli_reports_a_drifting_twin(tmp_path: Path, twin_account: None) -> None:
    from aliconform.twin import TwinServer

    config = TwinConfig(contracts=CONTRACTS, drift="type-change", polls_before_done=0)
    out = tmp_path / "reports"
    with TwinServer(config) as twin:
        result = _fuzz_cli(twin.endpoint, out, "--max-examples", "4", "--mode", "positive")
    assert result.exit_code == 1, result.output
    report = json.loads((out / "drift.json").read_text("utf-8"))
    assert report["run"] == "fuzz"
    assert report["fuzz"]["seed"] == 20201109
    type_changes = [f for f in report["findings"] if f["kind"] == "type-mismatch"]
    assert type_changes
    assert all(f["count"] >= 1 and f["source"] for f in type_changes)
    assert (out / "drift.html").read_text("utf-8").count("Property-based run") >= 1
    assert 'failures="0"' not in (out / "junit.xml").read_text("utf-8")
    assert "Property-based run" in (out / "summary.md").read_text("utf-8")


def test_a_run_whose_positive_requests_never_succeed_cannot_pass(
    tmp_path: Path, twin_account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the scenario variables no request names a task that exists: every answer is an
    error, a drifting success response is never seen, and the run must not pass as clean."""
    from aliconform.fuzz import TWIN_SCENARIO_VARIABLES
    from aliconform.twin import TwinServer

    for name in TWIN_SCENARIO_VARIABLES:
        monkeypatch.delenv(name)
    config = TwinConfig(contracts=CONTRACTS, drift="type-change", polls_before_done=0)
    out = tmp_path / "reports"
    options = ("--max-examples", "3", "--mode", "positive", "--operation", "QuerySmarttagJob")
    with TwinServer(config) as twin:
        result = _fuzz_cli(twin.endpoint, out, *options)
    assert result.exit_code == 2, result.output
    report = json.loads((out / "drift.json").read_text("utf-8"))
    (problem,) = report["problems"]
    assert problem["where"].endswith(" QuerySmarttagJob")
    assert problem["message"].startswith("none of the 3 positive requests got a success answer")
    assert "none named a task that exists: give the scenario variables" in problem["message"]
    assert not report["verdict"]["passed"]


def test_a_run_whose_known_tasks_get_errors_says_so_not_to_set_variables() -> None:
    """Requests that named a real task and still got no success: the advice is the answers,
    not the scenario variables the run already had."""
    from aliconform.drift.waivers import DriftPolicy
    from aliconform.report import fuzz_report

    faults = parse_faults("server-error=*@QuerySmarttagJob")
    config = TwinConfig(contracts=CONTRACTS, faults=faults, polls_before_done=0)
    run = _run(
        config,
        max_examples=2,
        modes=("positive",),
        operations=("QuerySmarttagJob",),
        retry=RetryPolicy(max_attempts=1),
    )
    report = fuzz_report(run, CONTRACTS, DriftPolicy(), origin="local")
    (problem,) = report.problems
    assert "(2 with 500)" in problem.message
    assert "the 1 that named a task that exists were answered: 1 with 500; see the findings" in (
        problem.message
    )
    assert "scenario variables" not in problem.message


def test_the_same_run_twice_against_one_service_passes_twice(
    tmp_path: Path, twin_account: None
) -> None:
    """A fixed seed draws the same ClientToken again; sent again with another JobId (the setup
    makes a new job each run) it is rightly refused as IdempotentParameterMismatch. Positive
    requests carry a token of their own run and case."""
    from aliconform.twin import TwinServer

    options = ["--operation", "QueryIProductionJob", "--mode", "positive", "--max-examples", "25"]
    tokens: list[list[str]] = []
    seen = 0
    with TwinServer(TwinConfig(contracts=CONTRACTS, polls_before_done=0)) as twin:
        for number in (1, 2):
            result = _fuzz_cli(twin.endpoint, tmp_path / f"run{number}", *options)
            assert result.exit_code == 0, result.output
            report = json.loads((tmp_path / f"run{number}" / "drift.json").read_text("utf-8"))
            assert [f for f in report["findings"] if f["kind"] == "rejected-valid-request"] == []
            handled = twin.log
            tokens.append([t for e in handled[seen:] if (t := e.params.get("ClientToken"))])
            seen = len(handled)
    assert all(tokens)
    assert len(set(tokens[0] + tokens[1])) == len(tokens[0] + tokens[1])  # each used once


def test_the_cli_names_a_mistyped_mode() -> None:
    result = CliRunner().invoke(
        app, ["fuzz", "--mode", "postive", "--endpoint", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert "did you mean 'positive'" in " ".join(result.output.replace("│", " ").split())


# --- the wire form is the SDK's ------------------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, dict[str, str]]]] = []

    def do_POST(self) -> None:
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        body = b'{"RequestId": "r", "JobId": "j"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        return


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_the_wire_form_is_what_the_sdk_sends(
    signature: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same call through the official SDK client and through sign_request, with the SDK's
    nonce, clock and user agent pinned, carries the same query, headers and signature."""
    from alibabacloud_tea_openapi.utils import Utils

    from aliconform.sdk import SdkCallOptions, sdk_call

    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "nonce-1"))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2026-11-21T00:00:00Z"))
    monkeypatch.setattr(Utils, "get_user_agent", staticmethod(lambda _agent=None: "agent"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        contract = CONTRACTS["QuerySmarttagJob"]
        params = {"JobId": "job 1/é", "Params": '{"labelResultType":"auto"}'}
        token = "sts-token-for-the-test"
        options = SdkCallOptions(
            endpoint=host,
            region="cn-shanghai",
            access_key_id=TWIN_ACCESS_KEY_ID,
            access_key_secret=TWIN_ACCESS_KEY_SECRET,
            security_token=token,
            protocol="http",
            signature=signature,  # type: ignore[arg-type]
        )
        _Capture.seen.clear()
        sdk_call(contract, params, options)
        target = WireTarget(hosts={"ice": host}, scheme="http", signature=signature)  # type: ignore[arg-type]
        credentials = Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET, token, "static_sts")
        ours = sign_request(contract, params, target, credentials)
        ours.send(requests.Session(), 5)
    finally:
        server.shutdown()
    (sdk_path, sdk_headers), (our_path, our_headers) = _Capture.seen
    assert parse_qs(urlsplit(sdk_path).query) == parse_qs(urlsplit(our_path).query)
    transport = {"accept-encoding", "connection", "content-length", "content-type"}
    if signature == "v2":
        transport.add("accept")  # requests' default; V2 signs no header
    assert "authorization" in our_headers if signature == "v3" else "Signature=" in our_path
    assert {k: v for k, v in sdk_headers.items() if k not in transport} == {
        k: v for k, v in our_headers.items() if k not in transport
    }


def test_throttled_requests_are_sent_again_newly_signed() -> None:
    faults = parse_faults("throttle=2@QuerySmarttagJob")
    config = TwinConfig(contracts=CONTRACTS, faults=faults, polls_before_done=0)
    run = _run(
        config,
        max_examples=3,
        modes=("positive",),
        operations=("QuerySmarttagJob",),
        retry=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
    )
    assert sum(case.retries for case in run.cases) == 2
    assert all(case.status != 429 for case in run.cases)
    assert _found(run) <= DOCUMENTED  # nothing of the throttling reaches the findings


def test_a_refused_signature_leaks_nothing_into_the_report(tmp_path: Path) -> None:
    from aliconform.drift.waivers import DriftPolicy
    from aliconform.fuzz import run_fuzz
    from aliconform.report import fuzz_report, write_reports
    from aliconform.secrets import scan_secrets
    from aliconform.twin import TwinServer

    key_id = "LTAI5tPlantedKeyId1234"
    token = "CAISPlantedSecurityToken0123456789abcdef"
    config = TwinConfig(contracts=CONTRACTS, credentials={key_id: "the-right-secret"})
    with TwinServer(config) as twin:
        target = WireTarget(
            hosts={"ice": twin.endpoint, "imm": twin.endpoint}, scheme="http", signature="v2"
        )
        wrong = Credentials(key_id, "a-wrong-secret", token)
        options = FuzzOptions(max_examples=3, seed=5, operations=("QuerySmarttagJob",))
        run = run_fuzz(CONTRACTS, target, wrong, options)
    assert {case.status for case in run.cases} == {400}
    assert all(b"SignatureDoesNotMatch" in case.body for case in run.cases)
    # Refused requests tested nothing: they are not judged, and the run cannot pass.
    assert {case.refused for case in run.cases} == {"SignatureDoesNotMatch"}
    assert run.findings == []
    report = fuzz_report(run, CONTRACTS, DriftPolicy(), origin="local")
    assert report.verdict.exit_code == 2
    assert not report.verdict.passed
    (problem,) = report.problems
    assert (
        f"{len(run.cases)} of {len(run.cases)} requests were refused with SignatureDoesNotMatch"
        in (problem.message)
    )
    assert [(s.operation, s.checked) for s in report.operations] == [("QuerySmarttagJob", 0)]
    files = write_reports(report, tmp_path)
    for path in (files.html, files.json, files.junit, files.markdown):
        text = Path(path).read_text("utf-8")
        assert key_id not in text
        assert token not in text
        assert "a-wrong-secret" not in text
    assert b"string to sign omitted" in run.cases[0].body
    assert not scan_secrets([tmp_path], root=tmp_path)


def test_a_run_that_nothing_answers_cannot_pass() -> None:
    import socket

    from aliconform.drift.waivers import DriftPolicy
    from aliconform.fuzz import run_fuzz
    from aliconform.report import fuzz_report

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"127.0.0.1:{port}"
    target = WireTarget(hosts={"ice": endpoint, "imm": endpoint}, scheme="http", timeout=2.0)
    options = FuzzOptions(max_examples=2, seed=5, operations=("GetImageModerationResult",))
    run = run_fuzz(CONTRACTS, target, Credentials("LTAI5tNobodyHere12345", "s"), options)
    assert run.cases
    assert all(case.error is not None and case.status is None for case in run.cases)
    report = fuzz_report(run, CONTRACTS, DriftPolicy(), origin="local")
    assert report.verdict.exit_code == 2
    (problem,) = report.problems
    assert f"none of the {len(run.cases)} requests got an answer" in problem.message
    assert report.verdict.headline == f"{endpoint}: {problem.message}"
    assert {case.mode for case in run.cases} == {"positive", "negative"}
    # The problem says it once; nothing answered, so nothing was judged: no server-error
    # finding per request, and no response counted as checked.
    assert report.findings == []
    assert [(s.operation, s.checked) for s in report.operations] == [
        ("GetImageModerationResult", 0)
    ]


def test_a_region_one_product_lacks_leaves_its_operations_out(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import aliconform.fuzz as fuzz

    def no_credentials() -> Credentials:
        raise fuzz.FuzzTransportError("no credentials here")

    monkeypatch.setattr(fuzz.Credentials, "from_default_chain", staticmethod(no_credentials))
    wired: list[list[str]] = []
    real = cli._wire_target

    def watch(contracts: list[Any], target: Any, timeout: float) -> Any:
        wired.append(sorted(c.operation for c in contracts))
        return real(contracts, target, timeout)

    monkeypatch.setattr(cli, "_wire_target", watch)
    argv = ["fuzz", "--contracts", str(REPO / "contracts"), "--skip-without-credentials"]
    assert cli.main([*argv, "--region", "cn-qingdao"]) == 0
    assert "note: ice has no documented endpoint in region 'cn-qingdao'" in capsys.readouterr().err
    assert wired == [sorted(op for op in CONTRACTS if CONTRACTS[op].product == "imm")]
    assert cli.main([*argv, "--region", "cn-shangai"]) == 2
    assert "did you mean 'cn-shanghai'" in capsys.readouterr().err


def test_without_its_extra_fuzz_names_the_one_extra_that_brings_everything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    from aliconform.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "schemathesis" else real(name, *args),
    )
    assert main(["fuzz", "--endpoint", "127.0.0.1:1"]) == 2
    assert "pip install 'aliconform[fuzz]'" in " ".join(capsys.readouterr().err.split())


class _Elsewhere(BaseHTTPRequestHandler):
    """Another server: whatever reaches it was sent on by a redirect."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        return


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_redirect_is_judged_as_the_answer_and_never_followed() -> None:
    """A 302 is what the endpoint answered: following it would send the signed request, its
    key id and its STS token included, to another host, and judge that host's answer."""
    from aliconform.fuzz import run_fuzz

    elsewhere = _serve(_Elsewhere)

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("location", f"http://127.0.0.1:{elsewhere.server_address[1]}/x")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    redirecting = _serve(Redirecting)
    _Elsewhere.seen.clear()
    try:
        endpoint = f"127.0.0.1:{redirecting.server_address[1]}"
        target = WireTarget(hosts={"ice": endpoint, "imm": endpoint}, scheme="http")
        credentials = Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET, "sts-token-1")
        options = FuzzOptions(
            max_examples=2, seed=5, modes=("positive",), operations=("GetImageModerationResult",)
        )
        run = run_fuzz(CONTRACTS, target, credentials, options)
    finally:
        redirecting.shutdown()
        elsewhere.shutdown()
    assert _Elsewhere.seen == []
    assert run.cases
    assert {case.status for case in run.cases} == {302}
    kinds = {(f.kind, f.observed) for f in run.findings}
    assert (Kind.UNDOCUMENTED_HTTP_STATUS, "302") in kinds
    assert Kind.MISSING_REQUIRED_FIELD not in {f.kind for f in run.findings}


def test_reports_that_cannot_be_written_stop_the_run_before_any_setup_call(
    tmp_path: Path, twin_account: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setup calls create tasks (billed, live): a run whose reports would be lost makes none."""
    import aliconform.fuzz
    import aliconform.report
    from aliconform.errors import AliconformError
    from aliconform.twin import TwinServer

    called: list[str] = []

    def unwritable(directory: Path, what: str = "the reports") -> None:
        called.append("probe")
        raise AliconformError(f"{directory}: cannot write {what} there (read-only)")

    def setup(*args: Any, **kwargs: Any) -> Any:
        called.append("setup")
        raise AssertionError("a setup call was made")

    monkeypatch.setattr(aliconform.report, "check_report_directory", unwritable)
    monkeypatch.setattr(aliconform.fuzz, "known_parameters", setup)
    with TwinServer(TwinConfig(contracts=CONTRACTS, polls_before_done=0)) as twin:
        result = _fuzz_cli(twin.endpoint, tmp_path / "reports", "--setup")
    # (main() turns the error into its message and exit 2; the app itself raises it)
    assert isinstance(result.exception, AliconformError), result.output
    assert "cannot write the reports there" in str(result.exception)
    assert called == ["probe"]


def _known_on_twin(config: TwinConfig, scenarios: list[Any], waits: list[float]) -> Any:
    """The known tasks of these scenarios on a twin, the waits between polls kept, not slept."""
    from aliconform.fuzz import TWIN_SCENARIO_VARIABLES, known_parameters
    from aliconform.record import RecordTarget
    from aliconform.twin import TwinServer

    with TwinServer(config) as twin:
        return known_parameters(
            scenarios,
            CONTRACTS,
            RecordTarget(region=config.region, endpoint=f"http://{twin.endpoint}"),
            environ=TWIN_SCENARIO_VARIABLES,
            allow_setup=True,
            credentials=Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET),
            sleep=waits.append,
        )


def test_a_task_set_up_for_the_run_is_polled_until_it_has_finished() -> None:
    """Queries that name a task created for the run see its result: a run of one request per
    operation catches a drift in the finished answer, not only "running"."""
    from aliconform.record import load_scenarios

    config = TwinConfig(contracts=CONTRACTS, polls_before_done=2)
    waits: list[float] = []
    known = _known_on_twin(config, load_scenarios(SCENARIOS, CONTRACTS), waits)
    # (the scenarios that name an existing task from the environment have none here)
    assert all(": needs ALICONFORM_" in note for note in known.notes), known.notes
    lifecycles = [s for s in load_scenarios(SCENARIOS, CONTRACTS) if s.setup is not None]
    # two "running" answers each, the waits doubling from the scenario's interval
    assert waits == [
        wait
        for s in lifecycles
        if s.poll is not None
        for wait in (s.poll.interval, min(2 * s.poll.interval, s.poll.max_interval))
    ]
    assert len(waits) == 2 * len(lifecycles)
    drifting = TwinConfig(contracts=CONTRACTS, drift="new-enum-value", polls_before_done=2)
    run = _run(drifting, max_examples=1, modes=("positive",))
    assert all(case.known_ids for case in run.cases)
    injected = {
        (operation, kind, pointer)
        for operation in CONTRACTS
        for kind, pointer in expected_findings("new-enum-value", operation)
    }
    assert injected <= _found(run)


def test_a_task_that_never_finishes_is_named_in_a_note() -> None:
    from aliconform.record import load_scenarios

    config = TwinConfig(contracts=CONTRACTS, polls_before_done=10_000)
    scenario = next(
        s for s in load_scenarios(SCENARIOS, CONTRACTS) if s.operation == "QuerySmarttagJob"
    )
    assert scenario.setup is not None
    assert scenario.poll is not None
    waits: list[float] = []
    known = _known_on_twin(config, [scenario], waits)
    assert sum(waits) <= scenario.poll.timeout
    assert max(waits) == scenario.poll.max_interval
    (note,) = known.notes
    assert f"QuerySmarttagJob/{scenario.name}: JobStatus was still" in note
    assert "queries that name the task see it unfinished" in note
    assert known.of("QuerySmarttagJob")  # still named: an unfinished task is still a task


def test_a_passing_server_error_is_sent_again_and_is_no_breaking_finding() -> None:
    """Queries change nothing: a 500 the next attempt does not repeat is no drift. One that
    stays is a server error (a warning), never a valid request the service refused."""
    faults = parse_faults("server-error=2@GetVideoModerationResult")
    config = TwinConfig(contracts=CONTRACTS, faults=faults, polls_before_done=0)
    retry = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)
    options = {"modes": ("positive",), "operations": ("GetVideoModerationResult",)}
    run = _run(config, max_examples=4, retry=retry, **options)
    assert sum(case.retries for case in run.cases) == 2
    assert _found(run) <= DOCUMENTED
    always = TwinConfig(
        contracts=CONTRACTS,
        faults=parse_faults("server-error=*@GetVideoModerationResult"),
        polls_before_done=0,
    )
    failing = _run(always, max_examples=4, retry=RetryPolicy(max_attempts=1), **options)
    kinds = {f.kind for f in failing.findings}
    assert Kind.SERVER_ERROR in kinds
    assert Kind.REJECTED_VALID_REQUEST not in kinds


def test_an_operation_named_twice_is_fuzzed_once(tmp_path: Path, twin_account: None) -> None:
    """...and the operations not named get no setup call (a billed task, live) and no polls."""
    from aliconform.twin import TwinServer

    out = tmp_path / "reports"
    twice = ("--operation", "QuerySmarttagJob") * 2
    with TwinServer(TwinConfig(contracts=CONTRACTS, polls_before_done=0)) as twin:
        result = _fuzz_cli(twin.endpoint, out, "--max-examples", "2", "--mode", "positive", *twice)
        actions = {entry.action for entry in twin.log}
    assert result.exit_code == 0, result.output
    assert actions == {"SubmitSmarttagJob", "QuerySmarttagJob"}
    report = json.loads((out / "drift.json").read_text("utf-8"))
    assert report["fuzz"]["operations"][0]["positive"] == 2, report["fuzz"]
