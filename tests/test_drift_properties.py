"""Property tests of the drift engine over responses generated from each contract.

A conformant response gives no finding; one mutation gives exactly one finding, of the kind
the mutation causes, at exactly the mutated JSON pointer (inside JSON-string payloads too).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic_core import ValidationError

from aliconform import ContractSet, load_contracts
from aliconform.contracts import index_fields
from aliconform.contracts.model import ConditionalInvariant, OrderInvariant
from aliconform.contracts.paths import join_path
from aliconform.drift import Kind, check_response
from aliconform.drift.engine import compiled
from aliconform.drift.invariants import resolve
from aliconform.generate import Location, conformant_responses, encode, locations

CONTRACTS: ContractSet = load_contracts()
OPERATIONS = list(CONTRACTS)
WITH_PAYLOADS = [
    op
    for op in OPERATIONS
    if any(e.spec.json_payload for e in index_fields(CONTRACTS[op]).values())
]
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def responses(operation: str) -> st.SearchStrategy[dict[str, Any]]:
    contract = CONTRACTS[operation]
    return conformant_responses(contract).map(lambda body: encode(contract, body))


def kinds_at(operation: str, body: Any) -> list[tuple[str, str]]:
    return [
        (f.kind.value, f.path)
        for f in check_response(operation, json.dumps(body), contracts=CONTRACTS)
    ]


def mutate(
    body: dict[str, Any], location: Location, change: Callable[[Any, str | int], None]
) -> dict[str, Any]:
    """Apply change(container, key) at the location, decoding and re-encoding payloads on the way."""
    body = copy.deepcopy(body)
    _apply(body, location.tokens, location.payload, change)
    return body


def _apply(
    value: Any,
    tokens: tuple[str | int, ...],
    payloads: tuple[tuple[str | int, ...], ...],
    change: Callable[[Any, str | int], None],
) -> None:
    if payloads:
        outer = payloads[0]
        container = value
        for token in outer[:-1]:
            container = container[token]
        decoded = json.loads(container[outer[-1]])
        inner_payloads = tuple(p[len(outer) :] for p in payloads[1:])
        holder = {"root": decoded}
        _apply(
            holder,
            ("root", *tokens[len(outer) :]),
            tuple(("root", *p) for p in inner_payloads),
            change,
        )
        container[outer[-1]] = json.dumps(holder["root"])
        return
    container = value
    for token in tokens[:-1]:
        container = container[token]
    change(container, tokens[-1])


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_conformant_responses_have_no_findings(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(operation))
    assert kinds_at(operation, body) == []
    # ...and they are answered by the fast path, not by the precise classifier.
    fast = compiled(CONTRACTS[operation]).fast
    assert fast is not None
    fast.validator.validate_json(json.dumps(body))


def _pick(data: st.DataObject, candidates: list[Location]) -> Location:
    assume(candidates)
    return data.draw(st.sampled_from(candidates))


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_dropping_a_required_field(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(operation))
    where = _pick(
        data,
        [
            loc
            for loc in locations(CONTRACTS[operation], body)
            if loc.spec.required or _required_in_parent(loc)
        ],
    )

    def drop(container: Any, key: str | int) -> None:
        del container[key]

    assert kinds_at(operation, mutate(body, where, drop)) == [
        ("missing-required-field", where.pointer)
    ]


def _required_in_parent(loc: Location) -> bool:
    if loc.parent_spec is None or not loc.parent_spec.fields:
        return False
    key = loc.tokens[-1]
    return (
        isinstance(key, str)
        and key in loc.parent_spec.fields
        and loc.parent_spec.fields[key].required
    )


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_adding_an_unknown_field(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(operation))
    objects = [
        loc
        for loc in locations(CONTRACTS[operation], body)
        if loc.spec.type == "object" and not loc.spec.open
    ]
    if not objects or data.draw(st.booleans()):
        body["AliconformUnexpected"] = 1
        assert kinds_at(operation, body) == [("undocumented-field", "/AliconformUnexpected")]
        return
    where = data.draw(st.sampled_from(objects))
    assume(isinstance(_value_at(body, where), dict))

    def add(container: Any, key: str | int) -> None:
        container[key]["aliconformUnexpected"] = True

    assert kinds_at(operation, mutate(body, where, add)) == [
        ("undocumented-field", f"{where.pointer}/aliconformUnexpected")
    ]


def _value_at(body: Any, where: Location) -> Any:
    seen: list[Any] = []
    mutate(body, where, lambda container, key: seen.append(container[key]))
    return seen[0]


_OTHER_TYPE = {
    "string": 12345,
    "integer": "12345",
    "number": "1.5",
    "boolean": "true",
    "object": [],
    "array": {},
}


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data(), to_null=st.booleans())
def test_changing_a_type(operation: str, data: st.DataObject, to_null: bool) -> None:
    body = data.draw(responses(operation))
    where = _pick(data, locations(CONTRACTS[operation], body))
    replacement = None if to_null else _OTHER_TYPE[where.spec.type or "string"]

    def retype(container: Any, key: str | int) -> None:
        container[key] = replacement

    mutated = mutate(body, where, retype)
    expected = "unexpected-null" if to_null else "type-mismatch"
    found = kinds_at(operation, mutated)
    # A null also makes a field absent: where an invariant requires the field in the current
    # state, that invariant is broken too, at the same place.
    required_by_state = {
        name
        for inv in CONTRACTS[operation].invariants
        if isinstance(inv, ConditionalInvariant)
        for name in inv.present
    }
    if to_null and where.field in required_by_state and len(found) == 2:
        assert found == [(expected, where.pointer), ("invariant-violation", where.pointer)]
    else:
        assert found == [(expected, where.pointer)]
    fast = compiled(CONTRACTS[operation]).fast
    assert fast is not None
    with pytest.raises(ValidationError):
        fast.validator.validate_json(json.dumps(mutated))


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_an_unknown_enum_value(operation: str, data: st.DataObject) -> None:
    contract = CONTRACTS[operation]
    body = data.draw(responses(operation))
    prefixes = {
        inv.prefix_field for inv in contract.invariants if getattr(inv, "prefix_field", None)
    }
    where = _pick(
        data,
        [loc for loc in locations(contract, body) if loc.spec.enum and loc.field not in prefixes],
    )

    def unknown(container: Any, key: str | int) -> None:
        container[key] = 987654 if where.spec.type in ("integer", "number") else "AliconformUnknown"

    assert kinds_at(operation, mutate(body, where, unknown)) == [
        ("undocumented-enum-value", where.pointer)
    ]


@pytest.mark.parametrize("operation", WITH_PAYLOADS)
@SETTINGS
@given(data=st.data())
def test_breaking_a_json_payload(operation: str, data: st.DataObject) -> None:
    body = data.draw(responses(operation))
    where = _pick(
        data,
        [loc for loc in locations(CONTRACTS[operation], body) if loc.spec.json_payload is not None],
    )

    def corrupt(container: Any, key: str | int) -> None:
        container[key] = '{"truncated": '

    findings = check_response(
        operation, json.dumps(mutate(body, where, corrupt)), contracts=CONTRACTS
    )
    assert [(f.kind.value, f.path) for f in findings] == [("invalid-json-payload", where.pointer)]
    assert findings[0].decoded_at == tuple(_pointer(p) for p in where.payload)


def _pointer(tokens: tuple[str | int, ...]) -> str:
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


@pytest.mark.parametrize("operation", OPERATIONS)
@SETTINGS
@given(data=st.data())
def test_violating_an_order_invariant(operation: str, data: st.DataObject) -> None:
    contract = CONTRACTS[operation]
    body = data.draw(responses(operation))
    fields = index_fields(contract)
    orders = [inv for inv in contract.invariants if isinstance(inv, OrderInvariant)]
    assume(orders)
    invariant = data.draw(st.sampled_from(orders))
    scope_steps = fields[invariant.scope].steps if invariant.scope else ()

    def at(scope: Any, pointer: str, name: str) -> Any:
        steps = fields[join_path(invariant.scope, name)].steps[len(scope_steps) :]
        return next(resolve(scope, steps, pointer), None)

    pairs = []
    for pointer, scope, _ in resolve(body, scope_steps):
        a, b = (at(scope, pointer, name) for name in invariant.fields[:2])
        if a and b and a[1] != b[1]:
            pairs.append((a, b))
    assume(pairs)
    (a_pointer, a_value, _), (b_pointer, b_value, _) = data.draw(st.sampled_from(pairs))
    by_pointer = {loc.pointer: loc for loc in locations(contract, body)}
    swapped = mutate(body, by_pointer[a_pointer], lambda c, k: c.__setitem__(k, b_value))
    swapped = mutate(swapped, by_pointer[b_pointer], lambda c, k: c.__setitem__(k, a_value))
    findings = check_response(operation, json.dumps(swapped), contracts=CONTRACTS)
    assert [(f.kind.value, f.path, f.rule) for f in findings] == [
        ("invariant-violation", b_pointer, invariant.id)
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
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
    body = data.draw(responses(operation))
    where = _pick(data, locations(CONTRACTS[operation], body))
    junk = data.draw(JSON)
    mutated = json.dumps(mutate(body, where, lambda c, k: c.__setitem__(k, junk)))
    findings = check_response(operation, mutated, contracts=CONTRACTS)
    assert_well_formed(operation, findings)
    # Junk in one place is reported there (or below it), or as an invariant it breaks.
    for finding in findings:
        inside = finding.path == where.pointer or finding.path.startswith(where.pointer + "/")
        assert inside or finding.kind is Kind.INVARIANT_VIOLATION, finding
