"""check_response on hand-made responses: each finding kind, error bodies, the verdict."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aliconform import ContractSet, UnknownOperationError, load_contracts
from aliconform.drift import Kind, Severity, check_response
from aliconform.drift.doclint import field_pointer, lint_docs
from aliconform.drift.waivers import DriftPolicy, Waiver, judge, load_policy
from aliconform.errors import ContractError

REPO = Path(__file__).resolve().parents[1]
OPERATIONS = [
    "GetVideoLabelClassificationResult",
    "GetImageModerationResult",
    "GetVideoModerationResult",
    "QuerySmarttagJob",
    "QueryIProductionJob",
]


def kinds(findings: list) -> list[tuple[str, str]]:
    return [(f.kind.value, f.path) for f in findings]


def image(**changes: object) -> dict:
    body = {
        "RequestId": "E6A120B1-BEB3-0F63-A7C2-0783B6AAAAAA",
        "ProjectName": "test-project",
        "Status": "Succeeded",
        "StartTime": "2023-04-03T09:44:31.029Z",
        "EndTime": "2023-04-03T09:44:32Z",
        "TaskType": "ImageModeration",
        "TaskId": "ImageModeration-ff207203-3f93-4645-a041-7b8f0f000000",
        "ModerationResult": {
            "URI": "oss://test-bucket/test-object",
            "Suggestion": "block",
            "Categories": ["porn"],
            "Frames": {"TotalCount": 30, "BlockFrames": [{"Rate": 30, "Offset": 2, "Label": "{}"}]},
        },
    }
    body.update(changes)
    return body


def test_a_clean_response(contracts: ContractSet) -> None:
    assert (
        check_response("GetImageModerationResult", json.dumps(image()), contracts=contracts) == []
    )
    assert check_response("GetImageModerationResult", image(), contracts=contracts) == []


def test_the_package_itself_offers_check_response() -> None:
    """The name the documentation gives: aliconform.check_response, with the shipped contracts."""
    import aliconform

    found = aliconform.check_response("GetImageModerationResult", json.dumps(image(Status=7)))
    assert [(f.kind, f.path) for f in found] == [(aliconform.Kind.TYPE_MISMATCH, "/Status")]
    assert isinstance(found[0], aliconform.Finding)
    assert found[0].severity is aliconform.Severity.BREAKING


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", [("unparseable-body", "")]),
        (b"   ", [("unparseable-body", "")]),
        (b"<html><body>502 Bad Gateway</body></html>", [("unparseable-body", "")]),
        (b'{"RequestId": "x", "Status"', [("unparseable-body", "")]),
        (b"[" * 50_000 + b"]" * 50_000, [("unparseable-body", "")]),
        (b"\xff\xfe\x00", [("unparseable-body", "")]),
        (b"[]", [("type-mismatch", "")]),
        (b"null", [("type-mismatch", "")]),
    ],
    ids=["empty", "blank", "html", "truncated", "deep", "binary", "array", "null"],
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_bodies_that_are_not_a_json_object(
    contracts: ContractSet, operation: str, body: bytes, expected: list
) -> None:
    assert kinds(check_response(operation, body, contracts=contracts)) == expected


@pytest.mark.parametrize(
    ("encode", "said"),
    [
        (lambda text: b"\xef\xbb\xbf" + text.encode(), "byte order mark (U+FEFF)"),
        (lambda text: "\ufeff" + text, "byte order mark (U+FEFF)"),
        (lambda text: text.encode("utf-16"), "not UTF-8, which RFC 8259 requires"),
        (lambda text: text.encode("utf-32-le"), "not JSON"),  # NULs between ASCII: UTF-8
    ],
    ids=["utf-8-bom-bytes", "bom-text", "utf-16", "utf-32"],
)
def test_a_conforming_response_not_sent_as_plain_utf_8_is_unparseable(
    contracts: ContractSet, encode: Callable[[str], bytes | str], said: str
) -> None:
    """json.loads reads these (it guesses the encoding from bytes, skipping a byte order mark);
    the official SDK decodes UTF-8 and json-parses the text, and refuses them."""
    body = encode(json.dumps(image()))
    findings = check_response("GetImageModerationResult", body, contracts=contracts)
    assert kinds(findings) == [("unparseable-body", "")]
    assert findings[0].severity is Severity.BREAKING
    assert said in findings[0].message


def test_html_error_page_names_the_content_type(contracts: ContractSet) -> None:
    findings = check_response(
        "QuerySmarttagJob",
        b"<html>busy</html>",
        503,
        {"Content-Type": "text/html"},
        contracts=contracts,
    )
    assert kinds(findings) == [("unparseable-body", "")]
    assert "HTML" in findings[0].message
    assert "text/html" in findings[0].message


def test_very_large_body(contracts: ContractSet) -> None:
    frames = [{"Rate": 1.5, "Offset": i, "Label": "{}"} for i in range(50_000)]
    body = image(ModerationResult={"Frames": {"TotalCount": 50_000, "BlockFrames": frames}})
    assert check_response("GetImageModerationResult", json.dumps(body), contracts=contracts) == []


def test_format_range_and_enum_findings(contracts: ContractSet) -> None:
    body = image(StartTime="yesterday", EndTime="2023-04-03 09:44:32")
    body["ModerationResult"]["URI"] = "https://bucket/object"
    body["ModerationResult"]["Frames"]["TotalCount"] = -1
    found = kinds(check_response("GetImageModerationResult", body, contracts=contracts))
    assert ("format-violation", "/StartTime") in found
    assert ("format-violation", "/EndTime") in found
    assert ("format-violation", "/ModerationResult/URI") in found
    assert ("out-of-range", "/ModerationResult/Frames/TotalCount") in found


_NOT_JSON_NUMBERS = [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")]


@pytest.mark.parametrize(("literal", "shown"), _NOT_JSON_NUMBERS)
@pytest.mark.parametrize("parsed", [False, True], ids=["text", "parsed"])
def test_nan_and_infinity_are_not_json_numbers_wherever_a_value_is_documented(
    contracts: ContractSet, literal: str, shown: str, parsed: bool
) -> None:
    text = json.dumps(image()).replace('"Rate": 30', f'"Rate": {literal}')
    text = text.replace('"TotalCount": 30', f'"TotalCount": {literal}')
    text = text.replace('"ProjectName": "test-project"', f'"ProjectName": {literal}')
    body = json.loads(text) if parsed else text
    findings = check_response("GetImageModerationResult", body, contracts=contracts)
    found = {(f.kind.value, f.path): f for f in findings}
    for path, documented in [
        ("/ModerationResult/Frames/BlockFrames/0/Rate", "number"),
        ("/ModerationResult/Frames/TotalCount", "integer"),
        ("/ProjectName", "string"),
    ]:
        finding = found[("type-mismatch", path)]
        assert finding.message == (
            f"{shown} where the documentation says {documented}: not a JSON number"
            " (RFC 8259), so strict parsers refuse the whole body"
        )
        assert finding.observed == shown
        assert finding.severity.value == "breaking"
    assert len(findings) == 3


@pytest.mark.parametrize(("literal", "shown"), [("1e400", "Infinity"), ("-1E+999", "-Infinity")])
def test_a_number_beyond_a_double_is_json_and_is_not_called_a_word(
    contracts: ContractSet, literal: str, shown: str
) -> None:
    """1e400 is JSON, unlike the word Infinity that Python reads it as: the finding says what
    the response holds, beside the words of the test above, in the same body."""
    text = json.dumps(image()).replace('"Rate": 30', f'"Rate": {literal}')
    text = text.replace('"TotalCount": 30', '"TotalCount": Infinity')
    findings = check_response("GetImageModerationResult", text, contracts=contracts)
    found = {f.path: f for f in findings if f.kind.value == "type-mismatch"}
    rate = found["/ModerationResult/Frames/BlockFrames/0/Rate"]
    assert rate.message == (
        "a number beyond a double's range where the documentation says number: JSON allows it, "
        f"but some parsers refuse it and others read it as {shown}"
    )
    assert rate.observed == shown
    assert "not a JSON number" in found["/ModerationResult/Frames/TotalCount"].message
    assert len(findings) == 2


@pytest.mark.parametrize(("literal", "_shown"), _NOT_JSON_NUMBERS)
def test_nan_anywhere_in_a_json_string_payload_makes_it_invalid_json(
    contracts: ContractSet, literal: str, _shown: str
) -> None:
    # Label's payload is an open object: its keys are undocumented, but it must still be JSON.
    body = image()
    body["ModerationResult"]["Frames"]["BlockFrames"][0]["Label"] = f'{{"score": {literal}}}'
    findings = check_response("GetImageModerationResult", body, contracts=contracts)
    assert [(f.kind.value, f.path) for f in findings] == [
        ("invalid-json-payload", "/ModerationResult/Frames/BlockFrames/0/Label")
    ]
    assert f"{literal} is not JSON (RFC 8259 has no NaN or Infinity)" in findings[0].message


@pytest.mark.parametrize("status", ["400", 400.0, True, None])
def test_a_status_that_is_not_an_int_is_the_callers_mistake(
    contracts: ContractSet, status: object
) -> None:
    with pytest.raises(TypeError, match="status must be an int HTTP status, not "):
        check_response("GetImageModerationResult", b"{}", status, contracts=contracts)  # type: ignore[arg-type]


def test_a_status_may_be_an_http_status_enum(contracts: ContractSet) -> None:
    import http

    body = b'{"RequestId": "r", "Code": "ResourceNotFound", "Message": "m"}'
    as_enum = check_response(
        "GetImageModerationResult", body, http.HTTPStatus.BAD_REQUEST, contracts=contracts
    )
    assert as_enum == check_response("GetImageModerationResult", body, 400, contracts=contracts)


def test_format_and_range_messages_say_what_was_documented(contracts: ContractSet) -> None:
    body = image(StartTime="yesterday")
    body["ModerationResult"]["Frames"]["TotalCount"] = -1
    findings = check_response("GetImageModerationResult", body, contracts=contracts)
    messages = {finding.path: finding.message for finding in findings}
    assert messages["/StartTime"] == (
        "not a valid date-time: expected RFC 3339 timestamp with zone,"
        " up to nine fraction digits (2021-12-24T03:00:38.89Z)"
    )
    assert messages["/ModerationResult/Frames/TotalCount"] == (
        "-1 is outside the range >= 0 (the contract assumes this; no source states it: see the"
        " field's assumptions)"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"TaskId": "VideoModeration-1"},
            ("invariant-violation", "/TaskId", "task-id-carries-task-type"),
        ),
        (
            {"EndTime": "2023-04-03T09:44:30.999999999Z"},
            ("invariant-violation", "/EndTime", "end-not-before-start"),
        ),
        ({"Status": "Failed"}, ("invariant-violation", "/Code", "failed-has-error")),
        ({"Status": "Running"}, ("invariant-violation", "/EndTime", "running-has-not-ended")),
    ],
)
def test_invariants(contracts: ContractSet, changes: dict, expected: tuple) -> None:
    findings = check_response("GetImageModerationResult", image(**changes), contracts=contracts)
    assert [(f.kind.value, f.path, f.rule) for f in findings][:1] == [expected]
    assert findings[0].contract_location
    assert "GetImageModerationResult.yaml:" in findings[0].contract_location


@pytest.mark.parametrize(
    ("start", "end", "violated"),
    [
        # written to the second, an end within the second the task started is not before it
        ("2023-04-03T09:44:31.029Z", "2023-04-03T09:44:31Z", False),
        ("2023-04-03T09:44:31.029Z", "2023-04-03T09:44:31.0Z", False),
        ("2023-04-03T09:44:31.029Z", "2023-04-03T09:44:30Z", True),
        ("2023-04-03T09:44:31.029Z", "2023-04-03T09:44:31.028Z", True),
        ("2023-04-03T09:44:31Z", "2023-04-03T09:44:30.999Z", True),
        ("2023-04-03T17:44:31.5+08:00", "2023-04-03T09:44:31Z", False),
    ],
)
def test_times_are_ordered_at_the_precision_both_are_written_to(
    contracts: ContractSet, start: str, end: str, violated: bool
) -> None:
    body = image(StartTime=start, EndTime=end)
    for sent in (body, json.dumps(body)):
        findings = check_response("GetImageModerationResult", sent, contracts=contracts)
        assert [f.rule for f in findings] == (["end-not-before-start"] if violated else [])


@pytest.mark.parametrize(
    ("code", "said"),
    [(None, "Code is missing"), ("", "Code is empty"), ("null", "Code is null")],
)
def test_a_conditional_invariant_points_at_the_member_and_says_what_it_is(
    contracts: ContractSet, code: str | None, said: str
) -> None:
    body = image(Status="Failed", Message="it failed")
    if code is not None:
        body["Code"] = None if code == "null" else code
    findings = check_response("GetImageModerationResult", body, contracts=contracts)
    (violation,) = [f for f in findings if f.rule == "failed-has-error"]
    assert violation.path == "/Code"
    assert violation.field == "Code"
    assert f"Status is Failed but {said}" in violation.message


@pytest.mark.parametrize(
    ("operation", "result", "rule"),
    [
        ("GetImageModerationResult", "ModerationResult", "succeeded-has-moderation-result"),
        ("GetVideoModerationResult", "ModerationResult", "succeeded-has-moderation-result"),
        ("GetVideoLabelClassificationResult", "Labels", "succeeded-has-labels"),
    ],
)
def test_a_succeeded_imm_task_without_its_result_is_reported(
    contracts: ContractSet, operation: str, result: str, rule: str
) -> None:
    task_type = operation.removeprefix("Get").removesuffix("Result")
    body = {
        "RequestId": "r",
        "Status": "Succeeded",
        "TaskType": task_type,
        "TaskId": f"{task_type}-1",
    }
    for sent in (body, json.dumps(body)):
        findings = check_response(operation, sent, contracts=contracts)
        assert [(f.kind.value, f.path, f.rule) for f in findings] == [
            ("invariant-violation", f"/{result}", rule)
        ]
    running = check_response(operation, {**body, "Status": "Running"}, contracts=contracts)
    assert rule not in {f.rule for f in running}


def test_a_succeeded_task_may_carry_a_code_and_message(contracts: ContractSet) -> None:
    """The page's own example: Status Succeeded beside Code and Message. No source says a
    succeeded task has none, so the contract does not hold responses to that."""
    body = image(Code="ResourceNotFound", Message="The specified resource project is not found.")
    assert check_response("GetImageModerationResult", body, contracts=contracts) == []


def test_findings_resting_on_an_assumption_say_so(contracts: ContractSet) -> None:
    """No response table has a Required column, and one page lists no status values: a finding
    that rests on what the contract assumes tells the reader, one resting on a page does not."""
    body = image()
    del body["RequestId"]
    (missing,) = check_response("GetImageModerationResult", body, contracts=contracts)
    assert missing.kind is Kind.MISSING_REQUIRED_FIELD
    assert "the contract assumes this" in missing.message
    documented = check_response(
        "GetImageModerationResult", image(Status="Done"), contracts=contracts
    )
    assert [f.kind for f in documented] == [Kind.UNDOCUMENTED_ENUM_VALUE]
    assert "assumes" not in documented[0].message  # this page lists its status values
    label = {"RequestId": "r", "Status": "Done", "TaskId": "VideoLabelClassification-1"}
    (assumed,) = check_response("GetVideoLabelClassificationResult", label, contracts=contracts)
    assert "the contract assumes this" in assumed.message
    failed = check_response("GetImageModerationResult", image(Status="Failed"), contracts=contracts)
    inferred = next(f for f in failed if f.rule == "failed-has-error")
    assert "no source states it" in inferred.message


def test_count_and_echo_invariants(contracts: ContractSet) -> None:
    body = image()
    body["ModerationResult"]["Frames"]["TotalCount"] = 0
    found = check_response(
        "GetImageModerationResult",
        body,
        contracts=contracts,
        request={"ProjectName": "other", "TaskId": body["TaskId"]},
    )
    assert [(f.path, f.rule) for f in found] == [
        ("/ModerationResult/Frames/BlockFrames", "block-frames-within-total"),
        ("/ProjectName", "project-echoes-request"),
    ]


def test_a_request_is_the_parameters_sent_by_their_api_names(contracts: ContractSet) -> None:
    """The official SDK's request model is what a caller has: its to_map() is the parameters
    as sent. A name the operation does not take would leave its echo check unrun, silently."""
    models = pytest.importorskip("alibabacloud_imm20200930.models")
    body = image()
    sent = models.GetImageModerationResultRequest(
        project_name="other", task_id=body["TaskId"], task_type="ImageModeration"
    )
    found = check_response("GetImageModerationResult", body, contracts=contracts, request=sent)
    assert [f.rule for f in found] == ["project-echoes-request"]
    # The RPC call's own parameters may come along (a captured query string).
    framed = {"Action": "GetImageModerationResult", "Version": "2020-09-30", "TaskId": "t"}
    check_response("GetImageModerationResult", body, contracts=contracts, request=framed)
    with pytest.raises(
        ValueError,
        match=r"request: 'task_id' is not a parameter of "
        r"GetImageModerationResult \(did you mean 'TaskId'\?\)",
    ):
        check_response(
            "GetImageModerationResult", body, contracts=contracts, request={"task_id": "t"}
        )
    with pytest.raises(TypeError, match=r"request: the parameters sent, by name \(.*\), not list"):
        check_response("GetImageModerationResult", body, contracts=contracts, request=["TaskId"])


def test_findings_inside_a_payload_chosen_by_its_sibling(contracts: ContractSet) -> None:
    data = {
        "persons": [{"name": 7, "occurrences": [{"from": 9.0, "to": 1.0, "scene": "closeUp"}]}],
        "extra": 1,
    }
    body = {
        "JobStatus": "Success",
        "RequestId": "r",
        "Results": {"Result": [{"Type": "VideoLabel", "Data": json.dumps(data)}]},
    }
    findings = check_response("QuerySmarttagJob", body, contracts=contracts, source="unit")
    assert {(f.kind.value, f.path) for f in findings} == {
        ("type-mismatch", "/Results/Result/0/Data/persons/0/name"),
        ("undocumented-field", "/Results/Result/0/Data/extra"),
        ("invariant-violation", "/Results/Result/0/Data/persons/0/occurrences/0/to"),
    }
    assert all(f.decoded_at == ("/Results/Result/0/Data",) for f in findings)
    assert all(f.source == "unit" for f in findings)
    assert {f.field for f in findings} >= {"Results.Result[].Data(VideoLabel).persons[].name"}
    # The same payload under Type=Meta is judged by the Meta shape instead.
    body["Results"]["Result"][0]["Type"] = "Meta"
    meta = {f.path for f in check_response("QuerySmarttagJob", body, contracts=contracts)}
    assert meta == {"/Results/Result/0/Data/persons", "/Results/Result/0/Data/extra"}


def test_payload_that_is_not_json(contracts: ContractSet) -> None:
    body = {
        "RequestId": "r",
        "JobId": "j",
        "Status": "Success",
        "FunctionName": "Cover",
        "Result": "{oops",
        "FinishTime": "2024-01-01T00:00:00Z",
    }
    findings = check_response("QueryIProductionJob", body, contracts=contracts)
    assert kinds(findings) == [("invalid-json-payload", "/Result")]
    assert findings[0].severity is Severity.BREAKING


def _line_at(location: str | None) -> str:
    assert location is not None
    path, line = location.rsplit(":", 1)
    return (REPO / path).read_text("utf-8").splitlines()[int(line) - 1]


def test_error_bodies(contracts: ContractSet) -> None:
    envelope = {
        "RequestId": "r",
        "HostId": "ice.cn-shanghai.aliyuncs.com",
        "Code": "IdempotentParameterMismatch",
        "Message": "m",
        "Recommend": "https://next.api.aliyun.com/troubleshoot?q=x",
    }
    assert check_response("QueryIProductionJob", envelope, 400, contracts=contracts) == []
    mismatched = check_response("QueryIProductionJob", envelope, 404, contracts=contracts)
    assert kinds(mismatched) == [("error-status-mismatch", "/Code")]
    # located at the entry that documents the code and its status, not the errors: section
    assert _line_at(mismatched[0].contract_location).strip() == "IdempotentParameterMismatch:"
    assert (
        mismatched[0].message == "IdempotentParameterMismatch is documented with HTTP 400, not 404"
    )
    assert kinds(check_response("QuerySmarttagJob", envelope, 400, contracts=contracts)) == [
        ("undocumented-error-code", "/Code")
    ]
    missing = {
        "RequestId": "r",
        "HostId": "h",
        "Code": "MissingJobId",
        "Message": "JobId is mandatory for this action.",
    }
    assert check_response("QuerySmarttagJob", missing, 400, contracts=contracts) == []
    # Missing{ParameterName} stands for the operation's own parameters (and the signing ones):
    # GetImageModerationResult takes no JobId, and MissingFoo names nothing at all
    for code, documented in [
        ("MissingJobId", False),
        ("MissingFoo", False),
        ("MissingTaskId", True),
        ("MissingSignatureNonce", True),
    ]:
        found = check_response(
            "GetImageModerationResult", {**missing, "Code": code}, 400, contracts=contracts
        )
        assert (kinds(found) == []) is documented, (code, found)
    odd = {"RequestId": "r", "Code": "Throttling.User", "Message": "m", "Retry": 1}
    throttled = check_response("QuerySmarttagJob", odd, 429, contracts=contracts)
    assert kinds(throttled) == [
        ("undocumented-http-status", ""),
        ("undocumented-field", "/Retry"),
        ("error-status-mismatch", "/Code"),
    ]
    where = throttled[-1].contract_location
    assert where is not None
    assert where.rsplit(":", 1)[0].endswith("contracts/common/errors.yaml")
    assert _line_at(where).strip() == "Throttling.User:"
    assert throttled[-1].message == (
        "Throttling.User is documented with HTTP 400, not 429 (by the shared error codes of "
        "https://help.aliyun.com/en/document_detail/434846.html, not the operation's page)"
    )
    assert kinds(
        check_response("QuerySmarttagJob", {"RequestId": "r"}, 500, contracts=contracts)
    ) == [
        ("missing-required-field", "/Code"),
        ("missing-required-field", "/Message"),
    ]


@pytest.mark.parametrize("status", [404, 418])
@pytest.mark.parametrize("parsed", [False, True], ids=["text", "parsed"])
def test_a_success_response_under_an_error_status_is_one_finding_not_one_per_member(
    contracts: ContractSet, status: int, parsed: bool
) -> None:
    body = image()
    findings = check_response(
        "GetImageModerationResult",
        body if parsed else json.dumps(body),
        status,
        contracts=contracts,
    )
    # One finding, also where the status is not a documented one at all (418).
    assert kinds(findings) == [("undocumented-http-status", "")]
    assert findings[0].message == (
        f"HTTP {status} over the operation's success response, which is documented with "
        "HTTP 200: no error envelope says what failed"
    )
    assert findings[0].severity == Severity.BREAKING
    assert (findings[0].expected, findings[0].observed) == ([200], str(status))
    assert _line_at(findings[0].contract_location).strip() == "response:"
    # IMM's success response carries the task's Code and Message, as the page's example does:
    # they are its own members, not an error envelope.
    with_task_code = image(Code="ResourceNotFound", Message="The task is not found.")
    assert check_response("GetImageModerationResult", with_task_code, contracts=contracts) == []
    assert kinds(
        check_response("GetImageModerationResult", with_task_code, status, contracts=contracts)
    ) == [("undocumented-http-status", "")]
    # A body that is not the success response either is judged as an error body, member by
    # member.
    drifted = check_response(
        "GetImageModerationResult", image(Status=1), status, contracts=contracts
    )
    assert ("undocumented-field", "/Status") in kinds(drifted)


def test_status_divergence_in_the_catalog_is_accepted(contracts: ContractSet) -> None:
    body = {"RequestId": "r", "Code": "SignatureDoesNotMatch", "Message": "m"}
    assert check_response("GetVideoModerationResult", body, 403, contracts=contracts) == []
    assert check_response("GetVideoModerationResult", body, 400, contracts=contracts) == []


def test_unknown_operation_is_the_only_exception(contracts: ContractSet) -> None:
    with pytest.raises(UnknownOperationError):
        check_response("QuerySmartTagJob", b"{}", contracts=contracts)


# --- documentation lint ---------------------------------------------------------------------

#: The seed documents' self-contradictions, as lint-docs reports them. Changing a contract or a
#: seed page changes this list on purpose.
DOCUMENTATION_CONTRADICTIONS = {
    ("GetImageModerationResult", "documented-divergence", "/EndTime"),
    ("GetVideoModerationResult", "type-mismatch", "/UserData"),
    ("GetVideoModerationResult", "type-mismatch", "/ModerationResult/Frames/BlockFrames/0/Label"),
    ("GetVideoModerationResult", "documented-divergence", "/EndTime"),
    ("GetVideoModerationResult", "documented-divergence", "/UserData"),
    (
        "GetVideoModerationResult",
        "documented-divergence",
        "/ModerationResult/Frames/BlockFrames/*/Label",
    ),
    ("QueryIProductionJob", "type-mismatch", "/Result"),
    ("QueryIProductionJob", "documented-divergence", "/Result"),
    ("QueryIProductionJob", "invariant-violation", "/FinishTime"),
    ("QueryIProductionJob", "documented-divergence", "/FunctionName"),
    ("QuerySmarttagJob", "documented-divergence", "/Results/Result/*/Type"),
    ("QuerySmarttagJob", "documented-divergence", "/Results/Result/*/Data/type"),
    ("QuerySmarttagJob", "documented-divergence", "/Results/Result/*/Data/autoChapters"),
    # the examples' nanoseconds against the SDK's milliseconds
    ("GetVideoLabelClassificationResult", "documented-divergence", "/StartTime"),
    ("GetVideoLabelClassificationResult", "documented-divergence", "/EndTime"),
    # a task that succeeded, with the error code the table describes as the task's
    ("GetImageModerationResult", "documented-divergence", "/Code"),
    ("GetVideoLabelClassificationResult", "documented-divergence", "/Code"),
    ("GetVideoModerationResult", "documented-divergence", "/Code"),
    # the request example's TaskId is not the response's
    ("GetVideoModerationResult", "documented-divergence", "/TaskId"),
    # "The request ID", with the TaskId as its example
    ("GetVideoModerationResult", "documented-divergence", "/RequestId"),
    # the shared error catalog's, listed once (under the first operation that inherits them)
    ("GetImageModerationResult", "documented-divergence", "error SignatureDoesNotMatch"),
    ("GetImageModerationResult", "documented-divergence", "error InvalidAccessKeyId.NotFound"),
    ("GetImageModerationResult", "documented-divergence", "error InvalidSecurityToken.Expired"),
}


def test_lint_docs_pins_the_contradictions(contracts: ContractSet) -> None:
    findings = lint_docs(contracts)
    pinned = [(f.operation, f.kind.value, f.path or f.field) for f in findings]
    assert set(pinned) == DOCUMENTATION_CONTRADICTIONS
    assert len(pinned) == len(DOCUMENTATION_CONTRADICTIONS)  # each said once
    catalog = [f for f in findings if (f.field or "").startswith("error ")]
    assert all("common/errors.yaml:" in (f.contract_location or "") for f in catalog)
    cpv = next(f for f in findings if f.path == "/Results/Result/*/Data/type")
    assert cpv.decoded_at == ("/Results/Result/*/Data",)  # the pointer goes into a JSON string
    assert all(f.contract_location and ".yaml:" in f.contract_location for f in findings)
    # each cites where it is published: the operation's page, or the list of shared codes the
    # catalog took the code from (the operation's page only points to such a list)
    assert [f.source for f in catalog] == [
        "error catalog https://help.aliyun.com/en/document_detail/434846.html"
    ] * 3
    others = [f for f in findings if f not in catalog]
    assert all(f.source and f.source.startswith("documentation ") for f in others)
    cover = next(f for f in findings if f.path == "/Result")
    assert cover.decoded_at == ("/Result",)
    assert cover.field == "Result(Cover)"


def test_field_pointer() -> None:
    assert (
        field_pointer("Results.Result[].Data(VideoLabel).persons[].name")
        == "/Results/Result/*/Data/persons/*/name"
    )
    assert field_pointer("UserData") == "/UserData"


# --- waivers and severity ------------------------------------------------------------------


def test_waivers_expiry_and_unused(contracts: ContractSet) -> None:
    findings = check_response(
        "GetVideoModerationResult",
        {"RequestId": "r", "Status": "Done", "TaskId": "t"},
        contracts=contracts,
    )
    assert kinds(findings) == [("undocumented-enum-value", "/Status")]
    today = dt.date(2026, 11, 21)
    waiver = Waiver(
        id="new-status",
        operation="GetVideoModerationResult",
        kind=Kind.UNDOCUMENTED_ENUM_VALUE,
        path="/Status",
        reason="the service added Done in 2026",
    )
    verdict = judge(findings, DriftPolicy(waivers=[waiver]), today=today)
    assert verdict.passed
    assert not verdict.new
    assert [w.id for _, w in verdict.waived] == ["new-status"]
    expired = waiver.model_copy(update={"expires": dt.date(2026, 1, 1)})
    verdict = judge(findings, DriftPolicy(waivers=[expired]), today=today)
    assert not verdict.passed
    assert verdict.expired == [expired]
    elsewhere = waiver.model_copy(update={"path": "/Other"})
    verdict = judge(
        findings,
        DriftPolicy(waivers=[elsewhere]),
        operations=["GetVideoModerationResult"],
        today=today,
    )
    assert verdict.unused == [elsewhere]
    assert verdict.exit_code == 1


def test_severity_override_per_kind_and_path(tmp_path: Path) -> None:
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(
        "format_version: 1\nseverity:\n"
        "  - {kind: undocumented-enum-value, path: /Status, severity: info, reason: statuses are advisory here}\n"
    )
    policy = load_policy(policy_file)
    findings = check_response(
        "GetVideoModerationResult", {"RequestId": "r", "Status": "Done", "TaskId": "t"}
    )
    verdict = judge(findings, policy)
    assert [f.severity for f in verdict.new] == [Severity.INFO]
    assert verdict.passed


def _two_variants_with_a_number_for_a_string(contracts: ContractSet) -> list:
    """QuerySmarttagJob: a Meta and an ASR payload, each with one type mismatch."""
    (example,) = [
        e for e in contracts["QuerySmarttagJob"].examples if e.of is None and e.status == 200
    ]
    body = json.loads(example.body)
    body["Results"]["Result"] = [
        {"Type": "Meta", "Data": json.dumps({"title": 5})},
        {"Type": "ASR", "Data": json.dumps({"details": [{"content": 5}]})},
    ]
    findings = check_response("QuerySmarttagJob", json.dumps(body), contracts=contracts)
    assert [f.field for f in findings] == [
        "Results.Result[].Data(Meta).title",
        "Results.Result[].Data(ASR).details[].content",
    ]
    return findings


def test_a_waiver_and_an_override_can_name_one_payload_variant_by_its_field(
    contracts: ContractSet, tmp_path: Path
) -> None:
    """A pointer into a JSON string does not say which variant it is (/Results/Result/*/Data/…
    is every variant's), the contract field does; its brackets are literal, not a set."""
    findings = _two_variants_with_a_number_for_a_string(contracts)
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(
        "format_version: 1\n"
        "severity:\n"
        "  - {kind: type-mismatch, field: 'Results.Result[].Data(ASR).*', severity: info,"
        " reason: speech text is shown as is}\n"
        "waivers:\n"
        "  - {id: meta-title, operation: QuerySmarttagJob, kind: type-mismatch,"
        " field: 'Results.Result[].Data(Meta).title', reason: titles are numbers for a while}\n"
    )
    verdict = judge(findings, load_policy(policy_file), operations=["QuerySmarttagJob"])
    assert [(f.field, f.severity) for f in verdict.new] == [
        ("Results.Result[].Data(ASR).details[].content", Severity.INFO)
    ]
    assert [(f.field, w.id) for f, w in verdict.waived] == [
        ("Results.Result[].Data(Meta).title", "meta-title")
    ]
    other = Waiver(
        id="meta-other",
        operation="QuerySmarttagJob",
        kind=Kind.TYPE_MISMATCH,
        field="Results.Result[].Data(Meta)",  # a whole field path, not a prefix
        reason="matches nothing below it",
    )
    assert not judge(findings, DriftPolicy(waivers=[other])).waived


def test_policy_file_errors_name_the_line(tmp_path: Path) -> None:
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(
        "format_version: 1\nwaivers:\n  - id: x\n    operation: Q\n    kind: undocumented-feild\n    reason: because it is so\n"
    )
    with pytest.raises(
        ContractError,
        match=r"drift-policy\.yaml:5:5: waivers\[0\]\.kind: 'undocumented-feild' is not one of .*did you mean 'undocumented-field'",
    ):
        load_policy(policy_file)


@pytest.mark.parametrize(
    ("text", "where", "suggestion"),
    [
        ("waiver:\n  - id: x\n", r":1:1: waiver", "waivers"),
        ("severty: []\n", r":1:1: severty", "severity"),
        ("waivers:\n  - id: x\n    expiry: 2027-01-01\n", r":3:5: waivers\[0\]\.expiry", "expires"),
    ],
)
def test_an_unknown_policy_key_is_matched_against_the_policys_own_keys(
    tmp_path: Path, text: str, where: str, suggestion: str
) -> None:
    """A typo in a policy is compared with the keys a policy has, not a contract's."""
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(text)
    with pytest.raises(ContractError) as caught:
        load_policy(policy_file)
    assert re.search(
        rf"{where}: unknown key '\w+' \(did you mean '{suggestion}'\?\)", str(caught.value)
    ), str(caught.value)


def test_a_key_of_another_level_is_never_offered_as_its_own_correction(tmp_path: Path) -> None:
    # `severity` is a key of the policy, not of a waiver: there it is simply unknown.
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text("waivers:\n  - id: x\n    severity: info\n")
    with pytest.raises(ContractError) as caught:
        load_policy(policy_file)
    (issue,) = [i for i in caught.value.issues if i.key_path == "waivers[0].severity"]
    assert issue.message == "unknown key 'severity'"


def test_policy_naming_an_operation_without_a_contract_is_an_error(
    tmp_path: Path, contracts: ContractSet
) -> None:
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(
        "format_version: 1\n"
        "severity:\n"
        "  - {operation: QuerySmarttagJob, kind: undocumented-field, severity: info, reason: advisory for us}\n"
        "waivers:\n"
        "  - id: typo\n"
        "    operation: GetVideoModeration\n"
        "    kind: undocumented-field\n"
        "    reason: because it is so\n"
    )
    load_policy(policy_file)  # without the operations to compare with, nothing to say
    with pytest.raises(ContractError) as raised:
        load_policy(policy_file, operations=contracts)
    (issue,) = raised.value.issues
    assert (issue.line, issue.key_path) == (6, "waivers[0].operation")
    assert "'GetVideoModeration' is not an operation with a contract" in issue.message
    assert "did you mean 'GetVideoModerationResult'" in issue.message


def test_policy_of_another_format_version_names_the_one_understood(tmp_path: Path) -> None:
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text("format_version: 2\n")
    with pytest.raises(ContractError, match=r"format_version: 2 is not one of 1$"):
        load_policy(policy_file)


def test_the_shipped_contracts_come_with_their_policy_wherever_they_are_read_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a checkout, with no policy of the project's own: the contracts found are the
    installed package's copy (or, in an editable install, the source tree's), and the shipped
    waivers of the documentation's contradictions come with them."""
    from aliconform import load_contracts

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALICONFORM_CONTRACTS", raising=False)
    contracts = load_contracts()
    policy = load_policy(operations=contracts)
    assert {w.id for w in policy.waivers} >= {
        "video-moderation-example-userdata-object",
        "iproduction-example-cover-result-empty",
    }


def test_a_project_policy_can_extend_the_shipped_one(
    tmp_path: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main

    shipped = load_policy(REPO / "drift-policy.yaml")
    own = tmp_path / "drift-policy.yaml"
    own.write_text(
        "format_version: 1\n"
        "extends: aliconform\n"
        "waivers:\n"
        "  - id: our-own\n"
        "    operation: QuerySmarttagJob\n"
        "    kind: undocumented-field\n"
        "    reason: our account gets a field the page does not list\n",
        "utf-8",
    )
    policy = load_policy(own, operations=contracts)
    assert [w.id for w in policy.waivers] == [w.id for w in shipped.waivers] + ["our-own"]
    # Without it, a project policy replaces the shipped one, and the documentation's own
    # contradictions fail lint-docs; with it, they stay waived.
    contracts_dir = str(REPO / "contracts")
    assert main(["lint-docs", "-c", contracts_dir, "--policy", str(own)]) == 0
    own.write_text(own.read_text("utf-8").replace("extends: aliconform\n", ""), "utf-8")
    assert main(["lint-docs", "-c", contracts_dir, "--policy", str(own)]) == 1
    capsys.readouterr()
    # The shipped ids are taken: reusing one is named, with its line.
    clash = shipped.waivers[0].id
    own.write_text(
        "extends: aliconform\nwaivers:\n"
        f"  - {{id: {clash}, operation: QuerySmarttagJob, kind: undocumented-field,"
        " reason: a second waiver of the same name}\n",
        "utf-8",
    )
    with pytest.raises(
        ContractError, match=rf"drift-policy\.yaml:2.*duplicate waiver id\(s\): {clash}"
    ) as caught:
        load_policy(own)
    # the clash is with the shipped policy, which the file does not show: the message says so
    assert "the shipped policy that `extends` brings in" in str(caught.value)
    # two of the file's own waivers of one id are named as that, not as a clash with it
    own.write_text(
        "extends: aliconform\nwaivers:\n"
        + "".join(
            "  - {id: twice, operation: QuerySmarttagJob, kind: undocumented-field,"
            " reason: a second waiver of the same name}\n"
            for _ in range(2)
        ),
        "utf-8",
    )
    with pytest.raises(ContractError, match=r"duplicate waiver id\(s\): twice$"):
        load_policy(own)


def test_an_extending_policy_s_mistake_is_named_at_its_own_line(
    tmp_path: Path, contracts: ContractSet
) -> None:
    own = tmp_path / "drift-policy.yaml"
    own.write_text(
        "format_version: 1\n"
        "extends: aliconform\n"
        "waivers:\n"
        "  - id: ours\n"
        "    operation: GetImageModeration\n"
        "    kind: undocumented-field\n"
        "    reason: our account gets a field the page does not list\n",
        "utf-8",
    )
    with pytest.raises(ContractError) as raised:
        load_policy(own, operations=contracts)
    message = str(raised.value)
    assert "drift-policy.yaml:5:" in message
    assert "waivers[0].operation" in message
    assert "did you mean 'GetImageModerationResult'" in message


def test_extending_with_some_of_the_contracts_keeps_the_waivers_for_those(
    tmp_path: Path,
) -> None:
    """A project with the IMM contracts only: the shipped waivers for ICE operations do not
    apply to it, and are not its mistakes."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "contracts", project / "contracts")
    shutil.rmtree(project / "contracts" / "ice")
    imm_only = load_contracts(project / "contracts")
    own = project / "drift-policy.yaml"
    own.write_text("format_version: 1\nextends: aliconform\n", "utf-8")
    policy = load_policy(own, operations=imm_only)
    assert policy.waivers
    assert {w.operation for w in policy.waivers} <= set(imm_only)
    assert policy.origin.startswith(f"{own}, extending ")


def test_the_policy_beside_the_contracts_is_read_from_anywhere_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main

    project = tmp_path / "project"
    shutil.copytree(REPO / "contracts", project / "contracts")
    shutil.copytree(REPO / "cassettes", project / "cassettes")
    shutil.copy(REPO / "drift-policy.yaml", project / "drift-policy.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    argv = ["replay", "--contracts", str(project / "contracts")]
    argv += ["--cassettes", str(project / "cassettes"), "--out", str(tmp_path / "r")]
    assert main(argv) == 0  # the documentation's contradictions stay waived
    assert f"drift policy: {project / 'drift-policy.yaml'}" in capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "drift.json").read_text("utf-8"))
    assert report["inputs"]["policy"] == str(project / "drift-policy.yaml")
    (project / "drift-policy.yaml").unlink()
    assert main(argv) == 1
    assert "drift policy: none" in capsys.readouterr().out


def test_fast_path_is_as_strict_as_the_precise_path(contracts: ContractSet) -> None:
    label = {"RequestId": "r", "Status": "Running", "TaskId": "t", "Labels": [{"LabelLevel": True}]}
    assert kinds(
        check_response("GetVideoLabelClassificationResult", label, contracts=contracts)
    ) == [("type-mismatch", "/Labels/0/LabelLevel")]
    label["Labels"][0]["LabelLevel"] = 1.0
    assert kinds(
        check_response("GetVideoLabelClassificationResult", label, contracts=contracts)
    ) == [("type-mismatch", "/Labels/0/LabelLevel")]
    label["Labels"][0]["LabelLevel"] = 4
    assert kinds(
        check_response("GetVideoLabelClassificationResult", label, contracts=contracts)
    ) == [("undocumented-enum-value", "/Labels/0/LabelLevel")]
    feb = image(StartTime="2023-02-30T00:00:00Z", EndTime=None)
    del feb["EndTime"]
    assert kinds(check_response("GetImageModerationResult", feb, contracts=contracts)) == [
        ("format-violation", "/StartTime")
    ]


def test_undocumented_variant_when_the_contract_says_so(copy_of_contracts: Path) -> None:
    from aliconform import load_contracts

    path = copy_of_contracts / "ice" / "QuerySmarttagJob.yaml"
    text = path.read_text()
    assert "unlisted_variants: accept" in text
    path.write_text(text.replace("unlisted_variants: accept", "unlisted_variants: finding", 1))
    contracts = load_contracts(copy_of_contracts)
    body = {
        "JobStatus": "Success",
        "RequestId": "r",
        "Results": {"Result": [{"Type": "Faces", "Data": "{}"}]},
    }
    assert kinds(check_response("QuerySmarttagJob", body, contracts=contracts)) == [
        ("undocumented-enum-value", "/Results/Result/0/Type"),
        ("undocumented-variant", "/Results/Result/0/Data"),
    ]
    # The default contract accepts the payload of an unlisted type; only the enum is reported.
    assert kinds(check_response("QuerySmarttagJob", body)) == [
        ("undocumented-enum-value", "/Results/Result/0/Type")
    ]


@pytest.mark.parametrize(
    ("operation", "chooser", "element", "pointer"),
    [
        ("QuerySmarttagJob", "Type", {"Data": '{"title": 1}'}, "/Results/Result/0/Data"),
        ("QueryIProductionJob", "FunctionName", {"Result": '[{"Score": "bad"}]'}, "/Result"),
    ],
)
def test_a_payload_whose_chooser_is_absent_is_an_undocumented_variant(
    operation: str, chooser: str, element: dict, pointer: str
) -> None:
    # Even where an unlisted value is accepted with any JSON, no value at all chooses nothing:
    # the payload goes unchecked, and code that dispatches on the chooser has nothing to go by.
    if operation == "QuerySmarttagJob":
        body = {"JobStatus": "Success", "RequestId": "r", "Results": {"Result": [element]}}
    else:
        body = {"RequestId": "r", "JobId": "j", "Status": "Success", **element}
    for sent in (body, json.dumps(body)):  # the precise path, and the fast path first
        findings = check_response(operation, sent)
        assert ("undocumented-variant", pointer) in kinds(findings)
        (finding,) = [f for f in findings if f.kind is Kind.UNDOCUMENTED_VARIANT]
        assert f"{chooser}, which chooses it, is absent" in finding.message


def test_the_readme_severity_table_names_every_kind_with_its_default() -> None:
    from aliconform.drift.policy import DEFAULT_SEVERITY

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    documented: dict[str, str] = {}
    for row in re.findall(r"^\| ([a-z-][^|]*) \| (breaking|warning|info) \|", readme, re.M):
        kinds, severity = row
        for kind in re.findall(r"[a-z]+(?:-[a-z]+)+", re.sub(r"\(.*?\)", "", kinds)):
            documented[kind] = severity
    assert documented == {kind.value: severity.value for kind, severity in DEFAULT_SEVERITY.items()}
