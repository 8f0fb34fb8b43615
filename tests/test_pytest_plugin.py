"""The pytest plugin as users meet it: each test writes a user's test module into a pytester
sandbox (a project with its own pyproject.toml and a copy of the committed cassettes) and runs
pytest there; the plugin comes from the installed `pytest11` entry point, as it does for users.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from aliconform.contracts import default_contracts_dir

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
EXAMPLE_START = "<!-- plugin-example:start -->"
EXAMPLE_END = "<!-- plugin-example:end -->"
CASSETTE = "cassettes/imm/GetImageModerationResult/doc-example-success.yaml"

# A user's canned response for GetImageModerationResult, conformant to the contract.
PRELUDE = """
import pytest

OPERATION = "GetImageModerationResult"
BODY = {
    "RequestId": "E6A120B1-BEB3-0F63-A7C2-0783B6000000",
    "ProjectName": "test-project",
    "Status": "Succeeded",
    "TaskType": "ImageModeration",
    "TaskId": "ImageModeration-ff207203-3f93-4645-a041-7b8f0f000000",
    "StartTime": "2023-04-03T09:44:31.029Z",
    "EndTime": "2023-04-03T09:44:32Z",
    "ModerationResult": {
        "URI": "oss://test-bucket/test-object",
        "Suggestion": "block",
        "Categories": ["porn"],
        "Frames": {
            "TotalCount": 30,
            "BlockFrames": [{"Rate": 30, "Offset": 2, "Label": "{\\"test\\": \\"val\\"}"}],
        },
    },
}
"""

# The user's code under test: it reads a moderation result through the official SDK.
SDK_CODE = """
from alibabacloud_imm20200930.client import Client
from alibabacloud_imm20200930.models import GetImageModerationResultRequest
from alibabacloud_tea_openapi.models import Config

RECORDED_TASK = "ImageModeration-ff207203-3f93-4645-a041-7b8f0f******"


def client():
    config = Config(
        access_key_id="test-key-id",
        access_key_secret="test-key-secret",
        endpoint="imm.cn-shanghai.aliyuncs.com",
        region_id="cn-shanghai",
    )
    return Client(config)


def suggestion(task_id):
    request = GetImageModerationResultRequest(
        project_name="test-project", task_id=task_id, task_type="ImageModeration"
    )
    response = client().get_image_moderation_result(request)
    return response.body.moderation_result.suggestion
"""


def module(*parts: str) -> str:
    return "\n".join(textwrap.dedent(part) for part in parts)


@pytest.fixture
def sandbox(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user's project: its pyproject.toml makes it the rootdir; cassettes/ as committed."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n")
    shutil.copytree(REPO / "cassettes", pytester.path / "cassettes")
    return pytester


def test_the_plugin_is_registered_as_the_pytest11_entry_point_aliconform() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert declared["project"]["entry-points"]["pytest11"] == {
        "aliconform": "aliconform.pytest_plugin"
    }
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert installed.get("aliconform") == "aliconform.pytest_plugin", (
        "the installed metadata lacks the entry point: reinstall (pip install -e .)"
    )


# --- assert_conforms ------------------------------------------------------------------------


def test_assert_conforms_passes_a_conformant_body_and_lists_every_finding_of_a_drifted_one(
    sandbox: pytest.Pytester,
) -> None:
    sandbox.makepyfile(
        test_user=module(
            PRELUDE,
            """
            def test_conformant(assert_conforms):
                assert assert_conforms(OPERATION, BODY) == []

            def test_drifted(assert_conforms):
                assert_conforms(OPERATION, dict(BODY, TaskId=123, Surprise=1))

            def test_a_warning_fails_by_default(assert_conforms):
                assert_conforms(OPERATION, dict(BODY, Surprise=1))

            def test_fail_on_breaking_only(assert_conforms):
                findings = assert_conforms(OPERATION, dict(BODY, Surprise=1), fail_on={"breaking"})
                assert [(f.kind.value, f.path) for f in findings] == [("undocumented-field", "/Surprise")]

            def test_status_and_headers(assert_conforms):
                assert_conforms(OPERATION, b"<html>busy</html>", 503, {"Content-Type": "text/html"})

            def test_an_sdk_model_is_a_usage_error(assert_conforms):
                class GetImageModerationResultResponseBody:
                    def to_map(self):
                        return dict(BODY)

                try:
                    assert_conforms(OPERATION, GetImageModerationResultResponseBody())
                except TypeError as error:
                    assert "an official SDK model" in str(error)
                    assert "raw body" in str(error)
                else:
                    raise RuntimeError("an SDK model was checked as a response")

            def test_fail_on_is_a_threshold(assert_conforms):
                # "warning" is warning or worse, as report diff's --fail-on: never a way to let
                # breaking drift pass
                for fail_on in ("warning", "info", {"warning"}, ["info"]):
                    try:
                        assert_conforms(OPERATION, dict(BODY, TaskId=123), fail_on=fail_on)
                    except AssertionError:
                        continue
                    raise RuntimeError(f"breaking drift passed fail_on={fail_on!r}")
                assert assert_conforms(OPERATION, dict(BODY, TaskId=123), fail_on="never")
            """,
        )
    )
    result = sandbox.runpytest("-v")
    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_drifted FAILED*",
            "*test_a_warning_fails_by_default FAILED*",
            "*test_fail_on_breaking_only PASSED*",
            "*test_status_and_headers FAILED*",
            "E * GetImageModerationResult (HTTP 200) does not conform to its contract: "
            "2 findings, 2 breaking or warning",
            "E *  x breaking: type-mismatch at /TaskId: integer where the documentation says "
            "string [[]*GetImageModerationResult.yaml:*[]]",
            "E *  x warning: undocumented-field at /Surprise: 'Surprise' is not documented*",
            "E * GetImageModerationResult (HTTP 200) does not conform to its contract: "
            "1 finding, 1 breaking or warning",
            "E * GetImageModerationResult (HTTP 503) does not conform to its contract:*",
            "E *  x breaking: unparseable-body at (whole body): the body is an HTML page:*"
            "(Content-Type: text/html)",
        ]
    )
    # the plugin's own frames are hidden: the failure points at the user's call
    assert "raise AssertionError(_describe(" not in result.stdout.str()


POLICY = """
format_version: 1
severity:
  - kind: undocumented-field
    path: /Surprise
    severity: info
    reason: Our client ignores fields it does not know.
waivers:
  - id: task-id-number
    operation: GetImageModerationResult
    kind: type-mismatch
    path: /TaskId
    reason: The staging service sends a numeric TaskId; tracked with the vendor.
  - id: paused-status
    operation: GetImageModerationResult
    kind: undocumented-enum-value
    path: /Status
    reason: Paused was announced for a later release.
    expires: 2020-01-31
"""


def test_assert_conforms_applies_the_drift_policy_of_the_project(
    sandbox: pytest.Pytester,
) -> None:
    (sandbox.path / "drift-policy.yaml").write_text(POLICY)
    sandbox.makepyfile(
        test_user=module(
            PRELUDE,
            """
            def test_waived(assert_conforms):
                (finding,) = assert_conforms(OPERATION, dict(BODY, TaskId=123))
                assert (finding.kind.value, finding.path) == ("type-mismatch", "/TaskId")

            def test_overridden(assert_conforms):
                (finding,) = assert_conforms(OPERATION, dict(BODY, Surprise=1))
                assert finding.severity.value == "info"

            def test_expired(assert_conforms):
                assert_conforms(OPERATION, dict(BODY, Status="Paused", TaskId=123))
            """,
        )
    )
    result = sandbox.runpytest("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_expired FAILED*",
            "E * GetImageModerationResult (HTTP 200) does not conform to its contract: "
            "2 findings, 1 breaking or warning, 1 waived",
            "E *  x *undocumented-enum-value at /Status:* (waiver paused-status expired on "
            "2020-01-31)",
            "E *  w breaking: type-mismatch at /TaskId:* (waived by task-id-number)",
        ]
    )
    # Another policy named on the command line replaces the project's: nothing waived there.
    (sandbox.path / "strict-policy.yaml").write_text("format_version: 1\n")
    strict = sandbox.runpytest("--aliconform-policy", "strict-policy.yaml", "-k", "waived")
    strict.assert_outcomes(failed=1)
    # A broken policy is an error naming the file and the place.
    (sandbox.path / "drift-policy.yaml").write_text(POLICY.replace("reason: Paused", "raison: P"))
    broken = sandbox.runpytest("-k", "waived")
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(
        ["*aliconform could not load the drift policy *drift-policy.yaml:*", "*drift-policy.yaml:*"]
    )


def test_without_a_policy_of_its_own_a_project_gets_the_one_its_contracts_ship_with(
    sandbox: pytest.Pytester,
) -> None:
    """The same body, the same verdict as `aliconform check`: with the shipped contracts and no
    drift-policy.yaml in the rootdir, the shipped policy (a JSON-less Label is a warning)."""
    sandbox.makepyfile(
        test_user=module(
            PRELUDE,
            """
            import json
            from aliconform.drift.waivers import PACKAGED_POLICY_FILE

            PLAIN_LABEL = json.loads(json.dumps(BODY))
            PLAIN_LABEL["ModerationResult"]["Frames"]["BlockFrames"][0]["Label"] = "porn"

            def test_shipped_policy(assert_conforms, aliconform_policy):
                assert aliconform_policy.origin.endswith("drift-policy.yaml")
                (finding,) = assert_conforms(OPERATION, PLAIN_LABEL, fail_on="breaking")
                assert (finding.kind.value, finding.severity.value) == (
                    "invalid-json-payload",
                    "warning",
                )
            """,
        )
    )
    sandbox.runpytest().assert_outcomes(passed=1)
    # The project's own contracts, with no policy beside them: no overrides, no waivers.
    shutil.copytree(REPO / "contracts", sandbox.path / "own-contracts")
    own = sandbox.runpytest("--aliconform-contracts=own-contracts")
    own.assert_outcomes(failed=1)


def test_unknown_names_get_did_you_mean(sandbox: pytest.Pytester) -> None:
    sandbox.makepyfile(
        test_user=module(
            PRELUDE,
            """
            def test_operation(assert_conforms):
                assert_conforms("GetImageModerationResul", BODY)

            def test_severity(assert_conforms):
                assert_conforms(OPERATION, BODY, fail_on={"breakin"})

            def test_no_severity(assert_conforms):
                assert_conforms(OPERATION, BODY, fail_on=[])

            def test_none(assert_conforms):
                assert_conforms(OPERATION, BODY, fail_on=None)
            """,
        )
    )
    result = sandbox.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "E *UnknownOperationError: no contract for operation 'GetImageModerationResul' "
            "(did you mean 'GetImageModerationResult'?); known operations: *",
            "E * ValueError: fail_on: no severity 'breakin' (did you mean 'breaking'?); "
            "the severities are breaking, warning, info (or never)",
            # an empty set would pass every drift; None is no severity at all
            'E * ValueError: fail_on: no severity given; to fail on nothing, say "never"',
            "E * TypeError: fail_on: None is not a severity; *",
        ]
    )


def test_a_failure_quotes_no_credential_the_response_holds(sandbox: pytest.Pytester) -> None:
    key_id = "LTAI" + "5tAbCdEfGhIjKlMnOpQr"  # made at run time: this file holds no key
    sandbox.makepyfile(
        test_user=module(
            PRELUDE,
            """
            def test_a_key_for_a_status(assert_conforms):
                assert_conforms(OPERATION, {**BODY, "Status": "LTAI" + "5tAbCdEfGhIjKlMnOpQr"})
            """,
        )
    )
    result = sandbox.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*x breaking: undocumented-enum-value at /Status*"])
    assert key_id not in result.stdout.str()


def test_showlocals_shows_no_credential_from_the_environment(
    sandbox: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With -l, a failure inside an SDK call prints its signing frames' locals: the secret."""
    secret = "Zq" + "8vKs3nP0tRwX5yLm2aBcDeFgHiJk"  # made at run time
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    sandbox.makepyfile(
        test_user="""
        import os

        def sign(access_key_secret):
            assert access_key_secret == "the one the service knows"

        def test_a_call_that_fails_while_signing():
            sign(os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])

        def test_a_plain_failure():
            total = 1 + 1
            assert total == 3

        def test_a_shortened_secret():
            print("the secret is", os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
            assert os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] == "expected"

        def test_a_key_shaped_value():
            key = "LTAI" + "5tQZx8mN3pR7vW2yK9aB"
            assert key.startswith("x"), "bad key"

        class Config:
            def __init__(self, **options):
                self.__dict__.update(options)

            def __repr__(self):
                return f"Config({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

        def get_rpc_signature(params, secret, security_token=None):
            raise PermissionError("SignatureDoesNotMatch")

        def test_credentials_from_elsewhere():
            # a credentials file, another variable, a literal: known by the names they go by
            access_key_secret = "Hm" + "4rT8wQ2zXc6VbN1mKj9LpA"
            options = {"AccessKeySecret": "Gt" + "5yU9eR3wQa7SdF2gHj6KlZ", "region": "cn-hangzhou"}
            config = Config(access_key_secret="Bv" + "2nM6qW9eRt4YuI8oPa3SdF")
            get_rpc_signature(options, access_key_secret, security_token="Nc" + "7xZ1vB5nM9qW3eR")
        """
    )
    result = sandbox.runpytest("--showlocals", "-rf")
    result.assert_outcomes(failed=5)
    for elsewhere in ("Hm4rT8wQ", "Gt5yU9eR", "Bv2nM6qW", "Nc7xZ1vB"):
        assert elsewhere not in result.stdout.str(), elsewhere
    # what is not a credential stays, for the failure to be read
    result.stdout.fnmatch_lines(["*'region': 'cn-hangzhou'*", "*PermissionError: SignatureDoes*"])
    output = result.stdout.str()
    assert secret not in output
    assert "access_key_secret = " in output  # the locals are still shown, the value replaced
    result.stdout.fnmatch_lines(["*assert 2 == 3*", "total      = 2"])
    # pytest shortens a long value to its two ends ('Zq8vKs...eFgHiJk'): no end of it shows,
    # and what the test printed is scrubbed too
    for fragment in (secret[:8], secret[-8:]):
        assert fragment not in output, fragment
    assert "the secret is ***" in output
    # replacing values keeps pytest's report as it was: the summary line names the error
    result.stdout.fnmatch_lines(
        [
            "FAILED test_user.py::test_a_plain_failure - assert 2 == 3",
            "FAILED test_user.py::test_a_key_shaped_value - AssertionError: bad key",
        ]
    )
    assert "LTAI5tQZx8mN3pR7vW2yK9aB" not in output


def test_what_the_plugin_scrubs_beyond_a_test_s_failure(
    sandbox: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module failing at import, bytes under a credential's name, and live logging show
    nothing secret; a pagination token is no credential and its diff stays readable."""
    secret = "Yw" + "3kLp9QzX7cVb2NmR5tGhJ8"  # made at run time
    key_id = "LTAI" + "5tQZx8mN3pR7vW2yK9aB"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
    monkeypatch.setenv("PLANTED_KEY_ID", key_id)
    sandbox.makepyfile(
        test_import="""
        import os

        raise RuntimeError("no client for " + os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"])
        """,
        test_import_error="""
        import os

        value = "cB1nT4vR7zL2qWm9xK"[::-1]  # the secret itself is not in the source
        key = os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
        raise ImportError(f"no client: Config(access_key_secret='{value}') or {key}")
        """,
        test_values="""
        import logging
        import os

        def test_bytes():
            access_key_secret = b"Qp" + b"4mZ8xW2vB6nT1kL9"
            holder = {"access_key_secret": bytearray(b"Rt" + b"7yH3jK5lP9qW2eS")}
            assert len(holder) == 2  # -l shows the locals

        def test_a_page_token():
            assert {"next_token": "page-2"} == {"next_token": "page-3"}

        def test_live_log():
            uri = "?AccessKeyId=" + os.environ["PLANTED_KEY_ID"] + "&Signature=c2lnbmVk"
            logging.getLogger("vcr.stubs").warning("Absolute URI: %s", uri)
        """,
    )
    result = sandbox.runpytest(
        "-l",
        "-o",
        "log_cli=true",
        "--log-cli-level=WARNING",
        "--log-file=run.log",
        "--continue-on-collection-errors",
    )
    result.assert_outcomes(passed=1, failed=2, errors=2)
    output = result.stdout.str()
    for planted in (secret, secret[:8], "Qp4mZ8xW", "Rt7yH3jK", key_id, "c2lnbmVk", "9mWq2Lz7"):
        assert planted not in output, planted
    assert "Absolute URI: ?AccessKeyId=" in output  # the record is shown, scrubbed
    logged = (sandbox.path / "run.log").read_text("utf-8")
    assert "Absolute URI: ?AccessKeyId=" in logged
    assert key_id not in logged
    assert "c2lnbmVk" not in logged
    assert "'next_token': 'page-2'" in output
    result.stdout.fnmatch_lines(["ERROR test_import.py - RuntimeError: no client for *"])


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        ("accessTokenString='abc'", "accessTokenString='***'"),
        ("OAuthTokenSigningKey='abc'", "OAuthTokenSigningKey='***'"),
        ("bearer_tokens='abc'", "bearer_tokens='***'"),
        ("tokenizer_secret='s'", "tokenizer_secret='***'"),
        ("Config(security_token='abcdefgh') is None", "Config(security_token='***') is None"),
        ("{'AccessKeySecret': bytearray(b'Rt7y')}", "{'AccessKeySecret': '***'}"),
        ("next_token='page-2'", "next_token='page-2'"),
        ("{'NextToken': 'page-2'}", "{'NextToken': 'page-2'}"),
        ("tokenizer='bert'", "tokenizer='bert'"),
        ("max_tokens='512'", "max_tokens='512'"),
    ],
)
def test_which_names_are_credentials(shown: str, expected: str) -> None:
    from aliconform.pytest_plugin import _without_named_secrets

    assert _without_named_secrets(shown) == expected


def test_the_contracts_come_from_the_option_the_ini_file_or_the_default(
    sandbox: pytest.Pytester,
) -> None:
    shutil.copytree(REPO / "contracts", sandbox.path / "option-contracts")
    shutil.copytree(REPO / "contracts", sandbox.path / "ini-contracts")
    sandbox.makepyfile(
        test_user="""
        import os
        from pathlib import Path

        def test_root(aliconform_contracts):
            assert Path(aliconform_contracts.root).resolve() == Path(os.environ["EXPECTED"])
            assert "QuerySmarttagJob" in aliconform_contracts
        """
    )

    def run(expected: Path, *args: str) -> pytest.RunResult:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("EXPECTED", str(expected.resolve()))
            return sandbox.runpytest(*args)

    run(default_contracts_dir()).assert_outcomes(passed=1)
    given = run(sandbox.path / "option-contracts", "--aliconform-contracts", "option-contracts")
    given.assert_outcomes(passed=1)
    sandbox.makepyprojecttoml("[tool.pytest.ini_options]\naliconform_contracts = 'ini-contracts'\n")
    run(sandbox.path / "ini-contracts").assert_outcomes(passed=1)
    # the command line wins over the ini file
    chosen = run(sandbox.path / "option-contracts", "--aliconform-contracts=option-contracts")
    chosen.assert_outcomes(passed=1)
    broken = run(sandbox.path, "--aliconform-contracts", "nowhere")
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(
        [
            "*aliconform could not load the contracts (named by --aliconform-contracts):*",
            "*nowhere: no such contracts directory*",
        ]
    )
    assert broken.stdout.str().count("nowhere: no such contracts directory") == 1  # not chained
    # a file where a directory is due: said without naming the CLI's --contracts
    (sandbox.path / "a-file.toml").write_text("")
    wrong = run(sandbox.path, "--aliconform-contracts=a-file.toml")
    wrong.stdout.fnmatch_lines(["*a-file.toml: not a directory (a contracts directory holds *"])
    assert "--contracts " not in wrong.stdout.str()
    # a TOML list where one path is due: said as such, not read as a directory named "['a']"
    sandbox.makepyprojecttoml(
        "[tool.pytest.ini_options]\naliconform_contracts = ['ini-contracts', 'more']\n"
    )
    listed = run(sandbox.path)
    listed.assert_outcomes(errors=1)
    listed.stdout.fnmatch_lines(
        ["*pyproject.toml: aliconform_contracts names one path, not list ['ini-contracts', *"]
    )
    assert "no such contracts directory" not in listed.stdout.str()


def test_the_project_s_own_contracts_are_found_from_any_directory(
    sandbox: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A project that keeps its own contracts beside its pytest configuration uses them however
    # deep the directory pytest is run from.
    shutil.copytree(REPO / "contracts", sandbox.path / "contracts")
    monkeypatch.delenv("ALICONFORM_CONTRACTS", raising=False)
    monkeypatch.setenv("EXPECTED", str((sandbox.path / "contracts").resolve()))
    deep = sandbox.path / "tests" / "unit"
    deep.mkdir(parents=True)
    (deep / "test_user.py").write_text(
        textwrap.dedent(
            """
            import os
            from pathlib import Path

            def test_root(aliconform_contracts):
                assert Path(aliconform_contracts.root).resolve() == Path(os.environ["EXPECTED"])
            """
        ),
        "utf-8",
    )
    monkeypatch.chdir(deep)
    sandbox.runpytest().assert_outcomes(passed=1)
    # contracts/ without its catalog is the project's own, and reported, not passed over
    (sandbox.path / "contracts" / "common" / "errors.yaml").unlink()
    broken = sandbox.runpytest()
    broken.assert_outcomes(errors=1)
    broken.stdout.fnmatch_lines(
        ["*contracts: not a contracts directory: there is no common/errors.yaml*"]
    )


# --- the cassette marker --------------------------------------------------------------------


def test_the_marker_replays_a_committed_cassette_to_the_official_sdk(
    sandbox: pytest.Pytester,
) -> None:
    sandbox.makepyfile(
        test_user=module(
            SDK_CODE,
            f"""
            import socket

            import pytest

            from aliconform.cassettes import NetworkBlockedError

            CASSETTE = {CASSETTE!r}

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_recorded(aliconform_cassette):
                assert suggestion(RECORDED_TASK) == "block"
                assert aliconform_cassette.play_count == 1
                assert aliconform_cassette.all_played

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_not_recorded():
                suggestion("ImageModeration-never-recorded")

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_asked_twice():
                suggestion(RECORDED_TASK)
                suggestion(RECORDED_TASK)

            @pytest.mark.aliconform_cassette(CASSETTE, allow_playback_repeats=True)
            def test_asked_twice_with_repeats():
                assert suggestion(RECORDED_TASK) == suggestion(RECORDED_TASK) == "block"

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_another_host():
                import requests

                requests.get("https://example.com/", timeout=5)

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_in_a_task_group():
                import requests

                try:
                    requests.get("https://example.com/", timeout=5)
                except Exception as exc:
                    caught = exc
                raise ExceptionGroup("tasks", [caught])  # as a task group does: no context

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_credentials_fetched():
                import requests

                requests.get("http://100.100.100.200/latest/meta-data/ram/", timeout=1)

            @pytest.mark.aliconform_cassette(CASSETTE)
            def test_the_network_is_blocked_but_not_loopback():
                with pytest.raises(NetworkBlockedError):
                    socket.create_connection(("192.0.2.1", 443), timeout=1)
                server = socket.socket()
                server.bind(("127.0.0.1", 0))
                server.listen()
                socket.create_connection(server.getsockname(), timeout=1).close()
                server.close()

            def test_without_the_marker(aliconform_cassette):
                assert aliconform_cassette is None
            """,
        )
    )
    result = sandbox.runpytest("-v")
    result.assert_outcomes(passed=4, failed=5)
    result.stdout.fnmatch_lines(
        [
            "*test_recorded PASSED*",
            "*test_not_recorded FAILED*",
            "*test_asked_twice FAILED*",
            "*test_asked_twice_with_repeats PASSED*",
            "*test_another_host FAILED*",
            "*Can't play back this request: no recorded interaction matches it*",
        ]
    )
    assert "TaskId: sent 'ImageModeration-never-recorded'" in result.stdout.str()
    # vcrpy advises a record mode; the marker takes none, and the failure says what to do,
    # for the reason the request was not answered.
    advice = _aliconform_sections(result.stdout.str())
    assert "replays only and takes no record mode" in advice["test_not_recorded"]
    assert "rpc_vcr(record_mode='new_episodes')" in advice["test_not_recorded"]
    assert "allow_playback_repeats=True" in advice["test_asked_twice"]
    assert "record_mode" not in advice["test_asked_twice"]
    assert "no RPC call to a method and URL it never recorded" in advice["test_another_host"]
    assert "no RPC call to a method and URL it never recorded" in advice["test_in_a_task_group"]
    # refused by the cassette (never sent), with what to do instead
    assert "fetches credentials" in advice["test_credentials_fetched"]
    assert "monkeypatch.setenv()" in advice["test_credentials_fetched"]


def _aliconform_sections(output: str) -> dict[str, str]:
    """The aliconform section of each failed test's report, by test name."""
    found: dict[str, str] = {}
    for block in re.split(r"^_{3,} (\w+) _{3,}$", output, flags=re.MULTILINE)[1:]:
        if block.startswith("test_") and "\n" not in block:
            name = block
        elif "- aliconform -" in block:
            found[name] = block.split("- aliconform -", 1)[1].split("\n=", 1)[0]
    return found


def test_a_request_the_cassette_lacks_is_shown_without_its_credentials(
    sandbox: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vcrpy's refusal quotes the request as sent; a V2 request carries its AccessKeyId,
    SecurityToken and Signature in the query. Neither the terminal nor junit.xml shows them."""
    key_id, token = "LTAI5t" + "Q8plantedKey1234567", "CAIS" + "x" * 120
    monkeypatch.setenv("PLANTED_KEY_ID", key_id)
    monkeypatch.setenv("PLANTED_TOKEN", token)
    sandbox.makepyfile(
        test_user=f"""
        import os

        import pytest
        from alibabacloud_imm20200930.client import Client
        from alibabacloud_imm20200930.models import GetImageModerationResultRequest
        from alibabacloud_tea_openapi.models import Config

        @pytest.mark.aliconform_cassette({CASSETTE!r})
        def test_not_recorded():
            config = Config(
                access_key_id=os.environ["PLANTED_KEY_ID"],
                access_key_secret="planted-secret",
                security_token=os.environ["PLANTED_TOKEN"],
                signature_algorithm="v2",
                endpoint="imm.cn-shanghai.aliyuncs.com",
                region_id="cn-shanghai",
            )
            request = GetImageModerationResultRequest(
                project_name="p", task_id="never-recorded", task_type="ImageModeration"
            )
            Client(config).get_image_moderation_result(request)
        """
    )
    result = sandbox.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    shown = result.stdout.str() + (sandbox.path / "junit.xml").read_text("utf-8")
    assert "TaskId: sent 'never-recorded'" in shown
    assert "AccessKeyId=***" in shown
    assert key_id not in shown
    assert token[:40] not in shown
    assert "Signature=***" in shown


def test_a_cassette_outside_the_rootdir_and_a_class_marker(
    sandbox: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "recorded.yaml"
    shutil.copy(REPO / CASSETTE, elsewhere)
    sandbox.makepyfile(
        test_user=module(
            SDK_CODE,
            f"""
            import pytest

            @pytest.mark.aliconform_cassette({str(elsewhere)!r}, allow_playback_repeats=True)
            class TestModeration:
                def test_twice(self, aliconform_cassette):
                    assert suggestion(RECORDED_TASK) == suggestion(RECORDED_TASK) == "block"
                    assert aliconform_cassette.play_count == 2
            """,
        )
    )
    sandbox.runpytest().assert_outcomes(passed=1)


def test_a_wrong_marker_is_an_error_that_says_what_is_wrong(sandbox: pytest.Pytester) -> None:
    sandbox.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.aliconform_cassette("cassettes/imm/GetImageModerationResult/doc-example-sucess.yaml")
        def test_misspelt():
            pass

        @pytest.mark.aliconform_cassette()
        def test_no_path():
            pass

        @pytest.mark.aliconform_cassette("cassettes/imm/GetImageModerationResult/doc-example-success.yaml", record_mode="all")
        def test_recording_asked_for():
            pass

        @pytest.mark.aliconform_cassette("cassettes/imm/GetImageModerationResult")
        def test_a_directory():
            pass
        """
    )
    result = sandbox.runpytest()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.aliconform_cassette: no cassette at "
            "cassettes/imm/GetImageModerationResult/doc-example-sucess.yaml (looked at *) "
            "(did you mean 'cassettes/imm/GetImageModerationResult/doc-example-success.yaml'?)",
            "*@pytest.mark.aliconform_cassette(path, allow_playback_repeats=False) takes one "
            "cassette path, not ()",
            "*@pytest.mark.aliconform_cassette(path, allow_playback_repeats=False): "
            "no option record_mode",
            "*@pytest.mark.aliconform_cassette: cassettes/imm/GetImageModerationResult is a "
            "directory (*); name one cassette file in it, <scenario>.yaml",
        ]
    )


# --- the strategies -------------------------------------------------------------------------


def test_the_strategies_drive_a_users_handler(sandbox: pytest.Pytester) -> None:
    sandbox.makepyfile(
        test_user="""
        from hypothesis import given, settings

        from aliconform.strategies import drifted_responses, responses

        OPERATION = "GetImageModerationResult"
        ACTIONS = {"pass": "publish", "review": "hold", "block": "remove"}

        def action(body):  # the user's handler: trusts the documented values
            result = body.get("ModerationResult")
            return ACTIONS[result["Suggestion"]] if result and "Suggestion" in result else "wait"

        @settings(max_examples=25, derandomize=True, database=None)
        @given(body=responses(OPERATION))
        def test_documented_responses(body, assert_conforms):
            assert assert_conforms(OPERATION, body) == []
            assert action(body) in {"publish", "hold", "remove", "wait"}

        @settings(max_examples=25, derandomize=True, database=None)
        @given(drifted=drifted_responses(OPERATION, "undocumented-enum-value", field="ModerationResult.Suggestion"))
        def test_a_new_suggestion(drifted):
            assert drifted.path == "/ModerationResult/Suggestion"
            action(drifted.body)
        """
    )
    result = sandbox.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_documented_responses PASSED*",
            "*test_a_new_suggestion FAILED*",
            "E * KeyError: 'AliconformUnknown'",
            "test_user.py:*: KeyError",
        ]
    )


def test_the_plugin_works_without_hypothesis(tmp_path: Path) -> None:
    """hypothesis is an extra: the fixtures work without it, the strategies say what to install."""
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n", "utf-8")
    (tmp_path / "test_user.py").write_text(
        module(
            PRELUDE,
            """
            import sys

            def test_fixtures(assert_conforms):
                assert assert_conforms(OPERATION, BODY) == []
                assert sys.modules["hypothesis"] is None
                assert "aliconform.generate" not in sys.modules

            def test_strategies():
                with pytest.raises(ImportError, match=r"pip install 'aliconform\\[hypothesis\\]'"):
                    import aliconform.strategies
            """,
        ),
        "utf-8",
    )
    runner = (
        "import sys; sys.modules['hypothesis'] = None; import pytest; "
        "sys.exit(pytest.main(['-p', 'aliconform.pytest_plugin', '-p', 'no:cacheprovider', "
        "'-q', 'test_user.py']))"
    )
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", runner],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


# --- the README's example -------------------------------------------------------------------


def readme_example(text: str) -> str:
    """The ```python block between the plugin-example markers of the README."""
    if EXAMPLE_START not in text or EXAMPLE_END not in text:
        pytest.fail(
            f"README.md has no plugin example: put a ```python block between the lines "
            f"{EXAMPLE_START} and {EXAMPLE_END} (this test runs it)",
            pytrace=False,
        )
    section = text.split(EXAMPLE_START, 1)[1].split(EXAMPLE_END, 1)[0]
    found = re.search(r"^```python\n(.*?)^```", section, re.DOTALL | re.MULTILINE)
    if found is None:
        pytest.fail(
            f"README.md: no ```python block between {EXAMPLE_START} and {EXAMPLE_END}",
            pytrace=False,
        )
    return found.group(1)


def test_the_readme_example_runs_as_written(sandbox: pytest.Pytester) -> None:
    example = readme_example(README.read_text("utf-8"))
    for feature in ("assert_conforms", "@pytest.mark.aliconform_cassette", "aliconform.strategies"):
        assert feature in example, f"the README example no longer shows {feature}"
    sandbox.makepyfile(test_readme_example=example)
    # Bounded and repeatable here; the example itself keeps hypothesis's defaults.
    sandbox.makeconftest(
        """
        from hypothesis import settings

        settings.register_profile("readme", max_examples=25, derandomize=True, database=None)
        settings.load_profile("readme")
        """
    )
    result = sandbox.runpytest_subprocess("-v")  # a subprocess: the profile stays there
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    written = len(re.findall(r"^def test_", example, re.MULTILINE))
    assert outcomes.get("passed", 0) == written, (outcomes, written)
    assert set(outcomes) <= {"passed", "warnings"}, outcomes


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    # Every pytest run in an environment with aliconform installed imports the plugin; the
    # contracts, the engine and their libraries wait until a fixture is used.
    probe = (
        "import sys, aliconform.pytest_plugin\n"
        "heavy = ('aliconform.contracts', 'aliconform.drift', 'aliconform.cassettes', 'pydantic',"
        " 'msgspec', 'ruamel', 'vcr', 'deepdiff', 'jinja2', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
    # and the package's front still offers everything, imported when first asked for
    front = (
        "import aliconform; print(aliconform.check_response.__module__, aliconform.Kind.__name__)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", front], capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["aliconform.drift.engine", "Kind"]


def test_a_cassette_path_outside_the_rootdir_searches_nothing(tmp_path: Path) -> None:
    # "../" is lexically inside the rootdir; searching its target for a suggestion would walk
    # whatever lies above the project (the whole filesystem, for enough "../").
    from aliconform.pytest_plugin import _nearest_cassette

    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (root / "cassettes").mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "x.yaml").write_text("interactions: []\n")
    (root / "cassettes" / "x.yaml").write_text("interactions: []\n")
    assert _nearest_cassette(root / ".." / "elsewhere" / "y.yaml", root) == ""
    assert "cassettes/x.yaml" in _nearest_cassette(root / "cassettes" / "y.yaml", root)


def test_the_strategies_read_the_contracts_the_fixtures_use(
    sandbox: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The project keeps its own contracts, of one operation; the strategies (built at import,
    # before any fixture) must draw from those, from whichever directory pytest is run.
    own = sandbox.path / "contracts"
    shutil.copytree(REPO / "contracts", own)
    for product in ("imm", "ice"):
        for contract in (own / product).glob("*.yaml"):
            if contract.stem != "GetImageModerationResult":
                contract.unlink()
    tests = sandbox.mkdir("tests")
    (tests / "test_user.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from hypothesis import given, settings

            from aliconform import UnknownOperationError
            from aliconform.strategies import responses

            @settings(max_examples=5, derandomize=True, database=None)
            @given(body=responses("GetImageModerationResult"))
            def test_drawn_from_the_projects_contracts(body, assert_conforms, aliconform_contracts):
                assert list(aliconform_contracts) == ["GetImageModerationResult"]
                assert assert_conforms("GetImageModerationResult", body) == []

            def test_an_operation_the_project_has_no_contract_for():
                with pytest.raises(UnknownOperationError):
                    responses("GetVideoModerationResult")
            """
        )
    )
    # A conftest.py (loaded before the session is configured) builds strategies too.
    (tests / "conftest.py").write_text(
        textwrap.dedent(
            """
            from aliconform import UnknownOperationError
            from aliconform.strategies import responses

            SHARED = responses("GetImageModerationResult")
            try:
                responses("GetVideoModerationResult")
                OTHERS = "drawn from contracts that are not the project's"
            except UnknownOperationError:
                OTHERS = "refused"
            """
        )
    )
    (tests / "test_conftest.py").write_text(
        "from conftest import OTHERS\n\n"
        "def test_the_conftest_read_the_projects_contracts():\n"
        "    assert OTHERS == 'refused'\n"
    )
    monkeypatch.chdir(tests)
    sandbox.runpytest(str(tests)).assert_outcomes(passed=3)
    # The same, from the rootdir with no arguments, the contracts named by the ini file.
    moved = sandbox.path / "api-contracts"
    own.rename(moved)
    sandbox.makepyprojecttoml(
        "[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n"
        "aliconform_contracts = 'api-contracts'\n"
    )
    monkeypatch.chdir(sandbox.path)
    sandbox.runpytest(str(tests)).assert_outcomes(passed=3)
