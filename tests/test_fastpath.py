"""The fast path (contracts compiled to msgspec structs) against the precise classifier.

The fast path may only ever answer "conforms"; whatever it accepts, the precise path must find
nothing in (beyond the invariants the fast path leaves to Python). The property tests in
test_drift_properties.py hold the two to that on generated and drifted responses; these do on
the string formats, JSON inside strings, recursive definitions and parsed input.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliconform import ContractSet, load_contracts
from aliconform.contracts.formats import FORMAT_CHECKS, FORMAT_PATTERNS, parse_date_time
from aliconform.drift import check_response
from aliconform.drift.engine import CompiledContract, check_body, compiled
from aliconform.drift.fastpath import Rejected, compile_fast_path

CONTRACTS: ContractSet = load_contracts()
OPERATIONS = list(CONTRACTS)
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def precise_only(entry: CompiledContract) -> CompiledContract:
    return dataclasses.replace(entry, fast=None)


def both_paths(operation: str, body: Any) -> tuple[list[Any], list[Any]]:
    entry = compiled(CONTRACTS[operation])
    raw = json.dumps(body)
    return check_body(entry, raw), check_body(precise_only(entry), raw)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_contract_compiles_to_a_fast_path(operation: str) -> None:
    assert compile_fast_path(CONTRACTS[operation]) is not None


def test_parsed_data_goes_to_the_precise_path() -> None:
    # msgspec would take a tuple for an array; JSON has no tuples, and the precise path says so.
    body = {"RequestId": "r", "Status": "Running", "TaskId": "t", "Labels": ({"LabelLevel": 1},)}
    found = check_response("GetVideoLabelClassificationResult", body)
    assert [(f.kind.value, f.path) for f in found] == [("type-mismatch", "/Labels")]


def _smarttag_with_topics(depth_value: Any) -> dict[str, Any]:
    topic: dict[str, Any] = {"title": "leaf", "topic": []}
    for level in range(3):
        topic = {"title": f"level {level}", "topic": [topic]}
    topic["topic"][0]["topic"][0]["topic"] = [{"title": depth_value, "topic": []}]
    data = {"summarization": {"mindMapSummary": [{"title": "map", "topic": [topic]}]}}
    return {
        "JobStatus": "Success",
        "RequestId": "r",
        "Results": {"Result": [{"Type": "NLP", "Data": json.dumps(data)}]},
    }


def test_a_recursive_definition_is_checked_at_every_depth() -> None:
    fast = compiled(CONTRACTS["QuerySmarttagJob"]).fast
    assert fast is not None
    good = _smarttag_with_topics("deep")
    fast.decode(json.dumps(good))
    assert both_paths("QuerySmarttagJob", good) == ([], [])

    bad = _smarttag_with_topics(7)
    with pytest.raises(Rejected):
        fast.decode(json.dumps(bad))
    found, precise = both_paths("QuerySmarttagJob", bad)
    assert found == precise
    assert [(f.kind.value, f.path, f.decoded_at) for f in found] == [
        (
            "type-mismatch",
            "/Results/Result/0/Data/summarization/mindMapSummary/0/topic/0/topic/0/topic/0/topic/0/title",
            ("/Results/Result/0/Data",),
        )
    ]


def _kinds(found: list[Any]) -> list[tuple[str, str, str | None]]:
    return [(f.kind.value, f.path, f.rule) for f in found]


@pytest.mark.parametrize(
    ("operation", "body", "rule"),
    [
        (
            "QueryIProductionJob",
            {
                "RequestId": "r",
                "JobId": "j",
                "Status": "Queuing",
                "FunctionName": "MusicSegmentDetect",
                "Result": json.dumps([{"start": 2**53 + 1, "end": 2**53}]),
            },
            "music-segment-ordered",
        ),
        (
            "QuerySmarttagJob",
            {
                "JobStatus": "Processing",
                "RequestId": "r",
                "Results": {
                    "Result": [
                        {
                            "Type": "ASR",
                            "Data": json.dumps({"details": [{"from": 2**64, "to": 2**64 - 1}]}),
                        }
                    ]
                },
            },
            "asr-segment-from-before-to",
        ),
    ],
)
def test_integers_in_number_fields_stay_exact(operation: str, body: Any, rule: str) -> None:
    # As floats, 2**53 + 1 and 2**53 would be equal and the segment would look ordered.
    fast, precise = both_paths(operation, body)
    assert fast == precise
    assert [f.rule for f in fast] == [rule]


def test_a_huge_integer_skipped_in_an_open_object_is_still_reported() -> None:
    # msgspec skips the unknown key of the open JobParams object without reading the number;
    # json.loads refuses it (CPython's integer-digit limit), and consumers parsing with it fail.
    huge = "1" + "0" * 4300
    body = json.dumps(
        {"RequestId": "r", "JobId": "j", "Status": "Queuing", "JobParams": '{"x": ' + huge + "}"}
    )
    fast, precise = both_paths_raw("QueryIProductionJob", body)
    assert fast == precise
    assert _kinds(fast) == [("invalid-json-payload", "/JobParams", None)]


def both_paths_raw(operation: str, raw: str) -> tuple[list[Any], list[Any]]:
    entry = compiled(CONTRACTS[operation])
    return check_body(entry, raw), check_body(precise_only(entry), raw)


def iproduction_with_rule(contracts_dir: Any, rule: str) -> Any:
    """The IProduction contract, compiled, with one more invariant written first in its file."""
    path = contracts_dir / "ice" / "QueryIProductionJob.yaml"
    path.write_text(path.read_text().replace("invariants:\n", "invariants:\n" + rule, 1))
    return compiled(load_contracts(contracts_dir)["QueryIProductionJob"])


def test_invariants_read_a_json_string_as_the_string_it_is(copy_of_contracts: Any) -> None:
    # An invariant naming a JSON-string field sees its text, as the precise path does: "\"\""
    # is set, although it decodes to the empty string.
    rule = (
        "  - id: failed-has-no-result\n"
        "    kind: conditional\n"
        "    description: A failed job has no result.\n"
        "    when: {field: Status, in: [Fail]}\n"
        "    absent: [Result]\n"
        "    sources: [sdk]\n"
    )
    entry = iproduction_with_rule(copy_of_contracts, rule)
    assert entry.fast is not None
    assert "failed-has-no-result" in entry.fast.invariants
    body = json.dumps(
        {
            "RequestId": "r",
            "JobId": "j",
            "Status": "Fail",
            "FunctionName": "MusicDemix",
            "Result": '""',
        }
    )
    fast, precise = check_body(entry, body), check_body(precise_only(entry), body)
    assert fast == precise
    assert _kinds(fast) == [("invariant-violation", "/Result", "failed-has-no-result")]


def test_an_invariant_the_structs_cannot_hold_runs_in_python(copy_of_contracts: Any) -> None:
    # A rule reaching into a nested object is not compiled; after the fast path accepts, it is
    # evaluated on the parsed body, as the precise path would.
    rule = (
        "  - id: failed-has-no-output-type\n"
        "    kind: conditional\n"
        "    description: A failed job names no output type.\n"
        "    when: {field: Status, in: [Fail]}\n"
        "    absent: [Output.Type]\n"
        "    sources: [sdk]\n"
    )
    entry = iproduction_with_rule(copy_of_contracts, rule)
    assert entry.fast is not None
    assert "failed-has-no-output-type" not in entry.fast.invariants
    assert entry.fast.python_invariants
    assert entry.fast.view is None
    body = json.dumps(
        {"RequestId": "r", "JobId": "j", "Status": "Fail", "Output": {"Type": "OSS", "Media": "m"}}
    )
    entry.fast.decode(body)  # the structs accept it...
    fast = check_body(entry, body)  # ...and the rule left to Python still finds it
    assert fast == check_body(precise_only(entry), body)
    assert _kinds(fast) == [("invariant-violation", "/Output/Type", "failed-has-no-output-type")]


def test_invariants_left_to_python_are_evaluated_inside_what_the_compiled_checks_accept(
    copy_of_contracts: Any,
) -> None:
    # When the precise walk skips an object its compiled check accepts, only the invariants
    # those checks enforce are skipped there; one they do not (an echo, scoped to Input) runs.
    # The rule is made up: an echo of the only request parameter, read inside Input.
    rule = (
        "  - id: input-type-echoes-request\n"
        "    kind: echo\n"
        "    description: The input type repeats the job asked about.\n"
        "    scope: Input\n"
        "    field: Type\n"
        "    parameter: JobId\n"
        "    sources: [sdk]\n"
    )
    entry = iproduction_with_rule(copy_of_contracts, rule)
    assert entry.fast is not None
    assert "input-type-echoes-request" not in entry.fast.invariants
    body = json.dumps(
        {
            "RequestId": "r",
            "JobId": "j",
            "Status": "Queuing",
            "Surprise": 1,  # so the precise walk answers
            "Input": {"Type": "OSS", "Media": "oss://bucket/in.mp4"},
        }
    )
    assert entry.fast.holds(entry.contract.response.fields["Input"], json.loads(body)["Input"])
    request = {"JobId": "j"}
    found = check_body(entry, body, request=request)
    assert found == check_body(precise_only(entry), body, request=request)
    assert _kinds(found) == [
        ("undocumented-field", "/Surprise", None),
        ("invariant-violation", "/Input/Type", "input-type-echoes-request"),
    ]


def test_echo_invariants_read_the_root_as_sent() -> None:
    entry = compiled(CONTRACTS["QueryIProductionJob"])
    assert entry.fast is not None
    assert entry.fast.view == {"JobId": entry.fast.view["JobId"]}  # read off the root struct
    body = json.dumps({"RequestId": "r", "JobId": "other", "Status": "Queuing"})
    request = {"JobId": "asked-for"}
    fast = check_body(entry, body, request=request)
    assert fast == check_body(precise_only(entry), body, request=request)
    assert _kinds(fast) == [("invariant-violation", "/JobId", "job-id-echoes-request")]


@pytest.mark.parametrize(
    ("start", "end", "ordered"),
    [
        ("2023-01-01T02:00:00Z", "2023-01-01T02:00:00.5Z", True),  # UTC: compared as text
        ("2023-01-01T02:00:00.5Z", "2023-01-01T02:00:00.4Z", False),
        # an end written to the second, within the second the task started: not before it
        ("2023-01-01T02:00:00.5Z", "2023-01-01T02:00:00Z", True),
        ("2023-01-01T10:00:00+08:00", "2023-01-01T02:00:01Z", True),  # zones: parsed
        ("2023-01-01T10:00:00+08:00", "2023-01-01T01:59:59.5Z", False),
    ],
)
def test_order_of_times_in_any_zone(start: str, end: str, ordered: bool) -> None:
    body = {
        "RequestId": "r",
        "Status": "Succeeded",
        "TaskId": "ImageModeration-1",
        "TaskType": "ImageModeration",
        "StartTime": start,
        "EndTime": end,
        "ModerationResult": {"Suggestion": "pass"},
    }
    fast, precise = both_paths("GetImageModerationResult", body)
    assert fast == precise
    assert [f.rule for f in fast] == ([] if ordered else ["end-not-before-start"])


# -- formats: one pattern decides each, for both paths --------------------------------------

_DIGITS = st.text("0123456789", min_size=2, max_size=2)


@st.composite
def date_time_like(draw: st.DrawFn, separator: str = "T", zone: bool = True) -> str:
    """Strings shaped like RFC 3339 times, with every field drawn across its edges."""
    year = draw(st.sampled_from(["0000", "0001", "1900", "2000", "2023", "2024", "9999"]))
    month = draw(st.sampled_from(["00", "01", "02", "04", "09", "12", "13"]))
    day = draw(st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]))
    hour = draw(st.sampled_from(["00", "09", "23", "24"]))
    minute, second = (
        draw(st.sampled_from(["00", "59", "60"])),
        draw(st.sampled_from(["00", "59", "60"])),
    )
    text = f"{year}-{month}-{day}{separator}{hour}:{minute}:{second}"
    if zone:
        text += draw(st.sampled_from(["", ".5", ".123456789", ".1234567890", "."]))
        text += draw(st.sampled_from(["Z", "z", "+08:00", "-23:59", "+24:00", "+08:60", ""]))
    return text + draw(st.sampled_from(["", "", "\n", " "]))


def _is_rfc3339(text: str) -> bool:
    """An independent oracle: the shape by a plain pattern, the values by the calendar."""
    match = re.fullmatch(
        r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        text,
    )
    if match is None:
        return False
    date, clock, _, zone = match.groups()
    if zone != "Z" and int(zone[4:]) > 59:
        return False  # RFC 3339's offset minutes run to 59; fromisoformat would take 60
    try:
        dt.datetime.fromisoformat(f"{date}T{clock}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return False
    return True


def _is_local(text: str) -> bool:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", text) is None:
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(text=date_time_like())
def test_the_date_time_pattern_admits_exactly_the_real_times(text: str) -> None:
    assert FORMAT_CHECKS["date-time"](text) == _is_rfc3339(text)
    assert (parse_date_time(text) is not None) == _is_rfc3339(text)
    assert _msgspec_accepts("date-time", text) == _is_rfc3339(text)


@settings(max_examples=800, deadline=None, derandomize=True, database=None)
@given(text=date_time_like(separator=" ", zone=False))
def test_the_local_date_time_pattern_admits_exactly_the_real_times(text: str) -> None:
    assert FORMAT_CHECKS["local-date-time"](text) == _is_local(text)
    assert _msgspec_accepts("local-date-time", text) == _is_local(text)


def _msgspec_accepts(name: str, text: str) -> bool:
    """Whether msgspec, checking the format's pattern while parsing, accepts the string."""
    decoder = msgspec.json.Decoder(Annotated[str, msgspec.Meta(pattern=FORMAT_PATTERNS[name])])
    try:
        decoder.decode(json.dumps(text))
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "text", "valid"),
    [
        ("decimal-string", "28278.25", True),
        ("decimal-string", "١٢", False),  # digits of another script
        ("decimal-string", "1.5\n", False),
        ("oss-uri", "oss://bucket/a.mp4", True),
        ("oss-uri", "oss://bucket/a.mp4\n", False),
        ("oss-uri", "oss://bucket/dir/a b (1).jpg", True),  # object names may hold spaces
        ("oss-uri", "oss://bucket/a\tb.jpg", False),  # but no control characters
        ("oss-uri", "oss://bucket/", False),
        ("url", "HTTPS://example.com/a", True),
        ("media-location", "HTTP://example.com/a", True),
        ("media-location", "****20b48fb04483915d4f2cd8ac****", True),
        ("media-location", "ftp://example.com/a", False),
        ("language-tag", "zh-Hans", True),
        ("language-tag", "zh_Hans", False),
    ],
)
def test_format_checks(name: str, text: str, valid: bool) -> None:
    assert FORMAT_CHECKS[name](text) is valid
    assert _msgspec_accepts(name, text) is valid


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(
    text=st.one_of(
        st.text(max_size=30),
        st.text(alphabet='[]{}",:0123456789.eE+-ntrufalsNIiy \t\n\\u', max_size=30),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=8,
        ).map(json.dumps),
    )
)
def test_json_in_strings_is_never_read_more_leniently_than_by_json_loads(text: str) -> None:
    try:
        msgspec.json.decode(text)
    except Rejected:
        return
    json.loads(text)  # what msgspec accepts, json.loads accepts too


def _asr(details: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data = json.dumps({"details": details})
    return {
        "JobStatus": "Success",
        "RequestId": "r",
        "Results": {"Result": [{"Type": "ASR", "Data": data}]},
        **extra,
    }


SEGMENTS = [{"from": 0.5, "to": 1.5}, {"from": 2, "to": 2}, {"from": 3.25, "to": 9}]


@pytest.mark.parametrize("drift_at_root", [False, True], ids=["fast", "walked"])
@pytest.mark.parametrize(
    ("details", "reversed_at"),
    [
        (SEGMENTS, None),
        ([*SEGMENTS, {"from": 10, "to": 9.5}], 3),
        ([{"from": 10.0, "to": 9}, *SEGMENTS], 0),
        # A segment without an end compares with nothing: element by element, the others still
        # are, both where it comes before the reversed one and where none is reversed.
        ([{"from": 1}, *SEGMENTS, {"from": 5, "to": 4}], 4),
        ([*SEGMENTS, {"to": 1}], None),
        ([], None),
    ],
)
def test_start_before_end_is_checked_over_a_whole_array(
    details: list[dict[str, Any]], reversed_at: int | None, drift_at_root: bool
) -> None:
    # The speech segments of an ASR result are checked in one pass over the array (the one
    # pass falls back to each element when a value is missing); the walk's check of a single
    # segment, used when the body also drifts elsewhere, holds the same rule.
    body = _asr(details, **({"Surprise": 1} if drift_at_root else {}))
    fast, precise = both_paths("QuerySmarttagJob", body)
    assert fast == precise
    expected = [("undocumented-field", "/Surprise", None)] if drift_at_root else []
    if reversed_at is not None:
        pointer = f"/Results/Result/0/Data/details/{reversed_at}/to"
        expected.append(("invariant-violation", pointer, "asr-segment-from-before-to"))
    assert _kinds(fast) == expected
