"""Property tests of the drift engine over responses generated from each contract.

A conformant response gives no finding; one drift (aliconform.drifting, the generators users get
too) gives exactly one finding, of the kind the drift causes, at exactly the drifted JSON pointer
(inside JSON-string payloads too).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from aliconform import ContractSet, load_contracts
from aliconform.contracts import index_fields
from aliconform.contracts.model import ConditionalInvariant, EnumValue, FieldSpec
from aliconform.contracts.paths import Key, PayloadStep
from aliconform.drift import Finding, Kind, check_response
from aliconform.drift.checker import Place, Walker
from aliconform.drift.engine import check_body, compiled
from aliconform.drift.fastpath import Rejected
from aliconform.drift.invariants import order_key
from aliconform.drifting import (
    DRIFT_KINDS,
    UnsupportedDriftError,
    drift_fields,
    drift_kinds,
    drifted_responses,
    mutate,
    responses,
)
from aliconform.generate import (
    Location,
    _order_key,
    conformant_responses,
    encode,
    field_values,
    locations,
)

CONTRACTS: ContractSet = load_contracts()
OPERATIONS = list(CONTRACTS)
WITH_PAYLOADS = [
    op
    for op in OPERATIONS
    if any(e.spec.json_payload for e in index_fields(CONTRACTS[op]).values())
]
DRIFTS = [
    pytest.param(operation, kind, id=f"{operation}-{kind}")
    for operation in OPERATIONS
    for kind in drift_kinds(CONTRACTS[operation])
]
SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
FIND = settings(max_examples=500, deadline=None, derandomize=True, database=None)


def findings_of(operation: str, body: Any) -> list[Finding]:
    return check_response(operation, json.dumps(body), contracts=CONTRACTS)


def kinds_at(operation: str, body: Any) -> list[tuple[str, str]]:
    return [(f.kind.value, f.path) for f in findings_of(operation, body)]


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_conformant_responses_have_no_findings(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(CONTRACTS[operation]))
    assert kinds_at(operation, body) == []
    # ...and they are answered by the fast path, not by the precise classifier.
    fast = compiled(CONTRACTS[operation]).fast
    assert fast is not None
    raw = json.dumps(body)
    decoded = fast.decode(raw)
    # What the invariants left to Python read is the body's root, as sent.
    assert fast.view is not None
    data = fast.invariant_data(decoded, raw)
    assert data == {key: body[key] for key in fast.view if key in body}


def _shapes(operation: str) -> dict[str, list[str]]:
    """The shapes a conformant response can take, each with the fields that make it up: the
    response outside any chosen variant (""), and each variant a sibling can select (by its
    path), with every value field in it. Drawn at random, most would rarely if ever appear."""
    contract = CONTRACTS[operation]
    fields = index_fields(contract)
    by_steps = {entry.steps: entry for entry in fields.values()}
    shapes: dict[str, list[str]] = {"": []}
    for entry in fields.values():
        last = entry.steps[-1] if entry.steps else None
        if isinstance(last, PayloadStep) and last.discriminator is not None:
            payload = by_steps[entry.steps[:-1]].spec.json_payload
            chooser = by_steps.get((*entry.steps[:-2], Key(last.discriminator)))
            assert payload is not None
            if last.variant in payload.selectable(chooser.spec if chooser else None):
                shapes[entry.path] = [entry.path]
    for path in drift_fields(contract, Kind.TYPE_MISMATCH):  # every value a drift can reach
        within = [shape for shape in shapes if shape and path.startswith(shape)]
        shapes[max(within, key=len, default="")].append(path)
    return shapes


SHAPES = [
    pytest.param(operation, shape, paths, id=f"{operation}-{shape or 'outside-variants'}")
    for operation in OPERATIONS
    for shape, paths in _shapes(operation).items()
]


def test_every_selectable_variant_is_a_shape_of_its_own() -> None:
    shapes = {(p.values[0], p.values[1]) for p in SHAPES}
    assert ("QuerySmarttagJob", "Results.Result[].Data(NLP)") in shapes
    assert ("QueryIProductionJob", "Result(AudioMixing)") in shapes  # an object without fields
    assert ("QuerySmarttagJob", "Results.Result[].Data(subtitles)") not in shapes  # no Type
    assert len([s for op, s in shapes if op == "QueryIProductionJob" and s]) == 13


@pytest.mark.parametrize(("operation", "shape", "paths"), SHAPES)
@settings(SETTINGS, max_examples=5)
@given(data=st.data())
def test_each_shape_with_every_field_in_it_has_no_findings(
    operation: str, shape: str, paths: list[str], data: st.DataObject
) -> None:
    """Every field of the shape at once, so that each variant and each optional field is
    checked as conformant at least once (the test above draws what comes, mostly the root)."""
    contract = CONTRACTS[operation]
    body = data.draw(conformant_responses(contract, present=paths))
    assert kinds_at(operation, encode(contract, body)) == []
    held = {loc.field for loc in locations(contract, encode(contract, body))}
    # (locations names an array's elements by the array: Categories for Categories[])
    assert {path.removesuffix("[]") for path in paths} - {shape} <= held


@settings(SETTINGS, max_examples=30)
@given(data=st.data())
def test_number_and_boolean_enums_generate_the_values_the_engine_accepts(
    data: st.DataObject,
) -> None:
    """A user's contract may list enum values of a number ("1", "0.5") or a boolean field:
    generated as 1.0 or as the text "true", they came back as findings."""
    original = CONTRACTS["GetVideoLabelClassificationResult"]
    label = original.definitions["Label"]
    assert label.fields is not None
    confidence = label.fields["LabelConfidence"]
    assert confidence.type == "number"
    enum = {"1": EnumValue(), "0.5": EnumValue()}
    fields = {**label.fields, "LabelConfidence": confidence.model_copy(update={"enum": enum})}
    reviewed = FieldSpec(
        type="boolean", enum={"true": EnumValue(), "false": EnumValue()}, description="x"
    )
    response = original.response.model_copy(
        update={"fields": {**original.response.fields, "Reviewed": reviewed}}
    )
    contract = original.model_copy(
        update={
            "definitions": {
                **original.definitions,
                "Label": label.model_copy(update={"fields": fields}),
            },
            "response": response,
        }
    )
    body = data.draw(conformant_responses(contract, present=["Labels[].LabelConfidence"]))
    held = [label["LabelConfidence"] for label in body["Labels"] if "LabelConfidence" in label]
    assert held
    assert all(isinstance(value, int | float) for value in held)
    assert check_body(compiled(contract), json.dumps(encode(contract, body))) == []


@SETTINGS
@given(data=st.data())
def test_a_string_with_a_format_and_a_pattern_is_generated_within_both(
    data: st.DataObject,
) -> None:
    """A user's contract may narrow a format with a pattern (an OSS URI in one bucket): drawn
    from the format alone, the value broke the pattern and came back as a finding."""
    original = CONTRACTS["GetImageModerationResult"]
    narrowed = FieldSpec(
        type="string", format="oss-uri", pattern=r"\Aoss://media-bucket/", description="x"
    )
    response = original.response.model_copy(
        update={"fields": {**original.response.fields, "Source": narrowed}}
    )
    contract = original.model_copy(update={"response": response})
    body = data.draw(conformant_responses(contract, present=["Source"]))
    assert body["Source"].startswith("oss://media-bucket/")
    assert check_body(compiled(contract), json.dumps(encode(contract, body))) == []


@SETTINGS
@given(data=st.data())
def test_a_conditional_within_array_elements_is_kept_in_every_element(
    data: st.DataObject,
) -> None:
    """A user's contract may require a field in some elements (a label below level 1 names
    its parent): the optional field, left out at random, broke the rule in generated bodies
    that were meant to conform."""
    original = CONTRACTS["GetVideoLabelClassificationResult"]
    rule = ConditionalInvariant.model_validate(
        {
            "id": "child-label-names-parent",
            "kind": "conditional",
            "description": "A label below level 1 names its parent.",
            "scope": "Labels[]",
            "when": {"field": "LabelLevel", "in": [2, 3]},  # as YAML reads `in: [2, 3]`
            "present": ["ParentLabelName"],
            "sources": ["inferred"],
        }
    )
    contract = original.model_copy(update={"invariants": [*original.invariants, rule]})
    body = data.draw(conformant_responses(contract, present=["Labels[].LabelLevel"]))
    assert check_body(compiled(contract), json.dumps(encode(contract, body))) == []
    # The rule holds an integer field to the values it names by their JSON text, as an enum
    # lists them: a level-2 label without its parent breaks it, on both of the engine's paths.
    labels = [*body["Labels"], {"LabelName": "child", "LabelLevel": 2}]
    broken = json.dumps(encode(contract, {**body, "Labels": labels}))
    found = [(f.rule, f.path) for f in check_body(compiled(contract), broken)]
    assert found == [("child-label-names-parent", f"/Labels/{len(labels) - 1}/ParentLabelName")]
    assert compiled(contract).fast is not None
    with pytest.raises(Rejected):
        compiled(contract).fast.decode(broken)


@pytest.mark.parametrize(("operation", "kind"), DRIFTS)
@SETTINGS
@given(data=st.data())
def test_one_drift_gives_exactly_its_finding(
    operation: str, kind: str, data: st.DataObject
) -> None:
    drifted = data.draw(drifted_responses(CONTRACTS[operation], kind))
    assert drifted.kind == kind
    findings = findings_of(operation, drifted.body)
    assert [(f.kind.value, f.path) for f in findings] == [(kind, drifted.path)]
    (finding,) = findings
    assert finding.decoded_at == drifted.decoded_at
    assert finding.field == drifted.field
    assert finding.rule == drifted.rule
    # The fast path refuses every drift, and the precise path alone finds the same.
    entry = compiled(CONTRACTS[operation])
    assert entry.fast is not None
    with pytest.raises(Rejected):
        entry.fast.decode(json.dumps(drifted.body))
    assert check_body(dataclasses.replace(entry, fast=None), json.dumps(drifted.body)) == findings


def test_each_operation_supports_the_kinds_its_contract_allows() -> None:
    for operation in OPERATIONS:
        expected = set(DRIFT_KINDS)
        if operation not in WITH_PAYLOADS:
            expected.discard(Kind.INVALID_JSON_PAYLOAD)
        if operation == "QuerySmarttagJob":
            # Its only formats (URLs) are in the subtitles variant, which no documented Type
            # selects: no conformant response holds one to break.
            fields = index_fields(CONTRACTS[operation]).values()
            assert {e.spec.format for e in fields if e.spec.format} == {"url"}
            expected.discard(Kind.FORMAT_VIOLATION)
        if operation in ("GetImageModerationResult", "GetVideoModerationResult"):
            # Their one bound (Frames.TotalCount >= 0) is what a count invariant compares with.
            expected.discard(Kind.OUT_OF_RANGE)
        assert set(drift_kinds(CONTRACTS[operation])) == expected, operation
    assert "GetVideoLabelClassificationResult" not in WITH_PAYLOADS


def test_each_format_has_values_that_break_it_and_each_does() -> None:
    """The format-violation drift draws from a written table: a format added to the contract
    format without values there would never be drifted, and a value that passes its format
    would give no finding."""
    from aliconform.contracts.formats import FORMAT_CHECKS
    from aliconform.contracts.model import FORMATS
    from aliconform.drifting import _NOT_IN_FORMAT

    assert set(_NOT_IN_FORMAT) == set(FORMATS) - {"json"}  # json breaks as invalid-json-payload
    for name, values in _NOT_IN_FORMAT.items():
        for value in values:
            assert not FORMAT_CHECKS[name](value), (name, value)


def test_an_unsupported_kind_names_the_operation_and_the_kinds_it_supports() -> None:
    contract = CONTRACTS["GetVideoLabelClassificationResult"]
    with pytest.raises(UnsupportedDriftError) as caught:
        drifted_responses(contract, "invalid-json-payload")
    message = str(caught.value)
    assert message.startswith("GetVideoLabelClassificationResult cannot drift with invalid-json")
    assert "no field of it carries JSON in a string" in message
    assert message.endswith(", ".join(drift_kinds(contract)))
    with pytest.raises(ValueError, match=r"'type-mismatc' .*did you mean 'type-mismatch'"):
        responses("GetVideoLabelClassificationResult", "type-mismatc", contracts=CONTRACTS)
    with pytest.raises(UnsupportedDriftError) as caught:
        drifted_responses(contract, Kind.UNDOCUMENTED_HTTP_STATUS)
    message = str(caught.value)
    assert "'undocumented-http-status' can be generated: it is not found by changing" in message
    assert "did you mean" not in message  # not 'undocumented-enum-value': it is a real kind


def _deepest_in_a_payload(operation: str, kind: str) -> str:
    fields = index_fields(CONTRACTS[operation])
    inside = [
        path
        for path in drift_fields(CONTRACTS[operation], kind)
        if path and fields[path].in_payload
    ]
    assert inside, f"no {kind} drift inside a payload of {operation}"
    return max(inside, key=lambda path: (len(fields[path].steps), path))


INSIDE_PAYLOADS = [
    pytest.param(op, kind, _deepest_in_a_payload(op, kind), id=f"{op}-{kind}")
    for op in ("QuerySmarttagJob", "QueryIProductionJob")
    for kind in drift_kinds(CONTRACTS[op])
    if kind != Kind.MISSING_REQUIRED_FIELD  # no payload field is required
    and (op, kind) != ("QueryIProductionJob", Kind.INVALID_JSON_PAYLOAD)  # no nested payloads
    and (op, kind) != ("QueryIProductionJob", Kind.UNDOCUMENTED_ENUM_VALUE)  # no payload enums
    and (op, kind) != ("QueryIProductionJob", Kind.OUT_OF_RANGE)  # its one bound is outside
]


@pytest.mark.parametrize(("operation", "kind", "field"), INSIDE_PAYLOADS)
@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_drifts_reach_deep_inside_json_payloads(
    operation: str, kind: str, field: str, data: st.DataObject
) -> None:
    drifted = data.draw(drifted_responses(operation, kind, field=field, contracts=CONTRACTS))
    assert drifted.field.startswith(field)
    assert drifted.decoded_at, "the drift is inside a JSON string"
    findings = findings_of(operation, drifted.body)
    assert [(f.kind.value, f.path, f.decoded_at) for f in findings] == [
        (kind, drifted.path, drifted.decoded_at)
    ]


def test_a_drift_restricted_to_a_field_it_cannot_take_says_so() -> None:
    with pytest.raises(UnsupportedDriftError) as caught:
        drifted_responses("GetImageModerationResult", "type-mismatch", field="TaskTyp")
    assert "at 'TaskTyp' (did you mean 'TaskType'?)" in str(caught.value)
    count = len(drift_fields("GetImageModerationResult", "type-mismatch"))
    assert f"drift_fields() lists the {count} that can" in str(caught.value)


@settings(SETTINGS, max_examples=50)
@given(
    moment=field_values(CONTRACTS["GetImageModerationResult"], "StartTime"),
    nanos=st.integers(1, 999_999_999),
)
def test_the_generator_orders_date_times_as_the_engine_does(moment: str, nanos: int) -> None:
    """Within one second too: ordered bodies and broken orders both depend on it."""
    whole = moment[:19] + "Z"
    fraction = moment[:19] + f".{nanos:09d}".rstrip("0") + "Z"
    ours = _order_key("date-time")
    for a, b in itertools.permutations([moment, whole, fraction], 2):
        engine = order_key("date-time", a), order_key("date-time", b)
        assert (ours(a) < ours(b)) == (engine[0] < engine[1]), (a, b)
        assert (ours(a) == ours(b)) == (engine[0] == engine[1]), (a, b)


def test_a_null_where_the_state_requires_a_value_also_breaks_that_invariant() -> None:
    """Why drifted_responses never nulls such a field: one change, two findings."""
    operation = "GetImageModerationResult"
    failed = find(
        responses(CONTRACTS[operation]), lambda body: body["Status"] == "Failed", settings=FIND
    )
    (code,) = [loc for loc in locations(CONTRACTS[operation], failed) if loc.field == "Code"]
    nulled = mutate(failed, code, lambda container, key: container.__setitem__(key, None))
    assert kinds_at(operation, nulled) == [
        ("unexpected-null", "/Code"),
        ("invariant-violation", "/Code"),
    ]


def _pick(data: st.DataObject, candidates: list[Location]) -> Location:
    assume(candidates)
    return data.draw(st.sampled_from(candidates))


_PYTHON_KEYS = st.integers() | st.none() | st.booleans() | st.floats(allow_nan=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        # a body given as a Python dict may have keys JSON cannot (json.dumps writes them)
        | st.dictionaries(st.text(max_size=8) | _PYTHON_KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    body=st.one_of(st.binary(max_size=200), JSON, JSON.map(json.dumps), st.text(max_size=50)),
    status=st.sampled_from([200, 204, 302, 400, 403, 404, 429, 500, 502, 503]),
)
def test_fuzz_never_raises(operation: str, body: Any, status: int) -> None:
    findings = check_response(operation, body, status, contracts=CONTRACTS)
    assert_well_formed(operation, findings)
    if not isinstance(body, dict | bytes | str):
        assert findings, "a parsed body that is not an object is always reported"


def assert_well_formed(operation: str, findings: list[Any]) -> None:
    """Every finding names its operation, a known kind, and a valid JSON pointer."""
    for finding in findings:
        assert finding.operation == operation
        assert finding.kind in Kind
        assert finding.path == "" or finding.path.startswith("/")
        assert finding.observed is None or len(finding.observed) <= 160


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_fuzz_mutated_documents(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(CONTRACTS[operation]))
    where = _pick(data, locations(CONTRACTS[operation], body))
    junk = data.draw(JSON)
    mutated = json.dumps(mutate(body, where, lambda c, k: c.__setitem__(k, junk)))
    findings = check_response(operation, mutated, contracts=CONTRACTS)
    assert_well_formed(operation, findings)
    # Junk in one place is reported there (or below it), or as an invariant it breaks.
    for finding in findings:
        inside = finding.path == where.pointer or finding.path.startswith(where.pointer + "/")
        assert inside or finding.kind is Kind.INVARIANT_VIOLATION, finding


def _apart(chosen: list[Location]) -> bool:
    """No location is at or below another (so changing one leaves the others in place)."""
    pointers = [where.pointer for where in chosen]
    return not any(a == b or b.startswith(a + "/") for a, b in itertools.permutations(pointers, 2))


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_the_walk_finds_the_same_with_and_without_the_compiled_checks(
    operation: str, data: st.DataObject
) -> None:
    """The precise walk skips what the compiled checks accept; with several changes at once
    (junk, nulls, removals, inside JSON strings too) its findings are exactly those of the walk
    that looks everywhere, in the same order."""
    body = data.draw(responses(CONTRACTS[operation]))
    candidates = locations(CONTRACTS[operation], body)
    assume(candidates)
    chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))
    assume(_apart(chosen))
    for where in chosen:
        change = data.draw(st.sampled_from(["junk", "null", "remove"]))
        if change == "remove":
            body = mutate(body, where, lambda c, k: c.__delitem__(k))
        else:
            value = None if change == "null" else data.draw(JSON)
            body = mutate(body, where, _setter_of(value))
    raw = json.dumps(body)
    entry = compiled(CONTRACTS[operation])
    walked_everywhere = check_body(dataclasses.replace(entry, fast=None), raw)
    assert check_body(entry, raw) == walked_everywhere


def _setter_of(value: Any) -> Any:
    return lambda container, key: container.__setitem__(key, value)


def test_a_drift_beside_large_payloads_walks_only_its_own_path() -> None:
    """A new field at the root of a Smarttag result: every payload is accepted by its compiled
    check, so the walk never decodes one, and the finding is the one the full walk makes."""
    operation = "QuerySmarttagJob"
    contract = CONTRACTS[operation]
    body = find(
        responses(contract),
        lambda b: len(b.get("Results", {}).get("Result", [])) >= 2,
        settings=FIND,
    )
    body["Surprise"] = 1
    entry = compiled(contract)
    walker = Walker(contract, fast=entry.fast)
    root = Place("", "", ("response",))
    walker.object_fields(json.loads(json.dumps(body)), contract.response.fields, root)
    assert [(f.kind.value, f.path) for f in walker.findings] == [
        ("undocumented-field", "/Surprise")
    ]
    assert walker.decoded == {}, "no payload was decoded by the walk"
    assert "/Results" in walker.clean
    assert check_body(entry, json.dumps(body)) == check_body(
        dataclasses.replace(entry, fast=None), json.dumps(body)
    )


def test_parsed_input_is_walked_everywhere() -> None:
    """A parsed body may hold a tuple where JSON has an array; the compiled checks would read it
    as one, so the walk does not use them for data it did not parse itself."""
    operation = "GetVideoLabelClassificationResult"
    body = find(responses(CONTRACTS[operation]), lambda b: bool(b.get("Labels")), settings=FIND)
    body["Labels"] = tuple(body["Labels"])
    body["Surprise"] = 1  # a drift at the root too, so the walk is what answers
    found = [(f.kind.value, f.path) for f in check_response(operation, body, contracts=CONTRACTS)]
    assert found == [("type-mismatch", "/Labels"), ("undocumented-field", "/Surprise")]


def test_generated_responses_keep_strict_orders(copy_of_contracts: Any) -> None:
    """With an order made strict (a < b, not a <= b), equal values are never generated: such
    bodies are drawn again, so conformant responses still have no finding."""
    from hypothesis.errors import NoSuchExample

    operation = "GetImageModerationResult"
    path = copy_of_contracts / "imm" / f"{operation}.yaml"
    path.write_text(
        path.read_text().replace("    kind: order\n", "    kind: order\n    strict: true\n")
    )
    contracts = load_contracts(copy_of_contracts)
    (order,) = [inv for inv in contracts[operation].invariants if inv.kind == "order"]
    assert order.strict
    assert order.fields == ["StartTime", "EndTime"]
    bodies = responses(contracts[operation])

    def tied(body: dict[str, Any]) -> bool:
        return "EndTime" in body and body.get("StartTime") == body["EndTime"]

    # Without the strict order, equal times are easily found...
    assert find(responses(CONTRACTS[operation]), tied, settings=FIND)
    # ...with it, none is generated, and what is generated conforms.
    with pytest.raises(NoSuchExample):
        find(bodies, tied, settings=FIND)
    body = find(bodies, lambda b: "EndTime" in b, settings=FIND)
    assert check_response(operation, json.dumps(body), contracts=contracts) == []
