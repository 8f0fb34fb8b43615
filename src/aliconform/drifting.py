"""Responses with one chosen drift: a conformant response, changed in exactly one place.

`drifted_responses(contract, kind)` draws a response (encoded as the API sends it, JSON payloads
as strings) that the drift engine reports as exactly one finding, of that kind, at the JSON
pointer the DriftedResponse names. The drift can land anywhere the contract allows it: in array
elements, inside JSON-string payloads, in each payload variant. Places where one change would
break a second rule are left out (a discriminator, which also picks the payload's variant; a
field a state requires, whose removal also breaks that invariant; a field another field must
start with).

These are the mutations the project's own property tests apply to check the engine; use them to
check that your code copes with (or reports) a response that drifted from the documentation.
Requires hypothesis (`pip install 'aliconform[hypothesis]'`).
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aliconform import _session
from aliconform._hypothesis import reject, st
from aliconform.contracts import (
    Contract,
    ContractSet,
    FieldEntry,
    FieldSpec,
    iter_fields,
    load_contracts,
)
from aliconform.contracts.model import (
    ConditionalInvariant,
    CountInvariant,
    OrderInvariant,
    PrefixInvariant,
)
from aliconform.contracts.paths import Items, Key, PayloadStep, join_path
from aliconform.drift.findings import Kind, pointer_join
from aliconform.errors import AliconformError, did_you_mean
from aliconform.generate import (
    Location,
    _order_key,
    conformant_responses,
    encode,
    field_values,
    instances,
)

__all__ = [
    "DRIFT_KINDS",
    "DriftedResponse",
    "UnsupportedDriftError",
    "drift_fields",
    "drift_kinds",
    "drifted_responses",
    "mutate",
    "responses",
    "value_at",
]

#: The finding kinds a drift can be generated for, in the order drift_kinds lists them.
DRIFT_KINDS: tuple[str, ...] = (
    Kind.UNDOCUMENTED_FIELD.value,
    Kind.MISSING_REQUIRED_FIELD.value,
    Kind.TYPE_MISMATCH.value,
    Kind.UNEXPECTED_NULL.value,
    Kind.UNDOCUMENTED_ENUM_VALUE.value,
    Kind.FORMAT_VIOLATION.value,
    Kind.OUT_OF_RANGE.value,
    Kind.INVALID_JSON_PAYLOAD.value,
    Kind.INVARIANT_VIOLATION.value,
)

_WHY_NOT = {
    Kind.MISSING_REQUIRED_FIELD.value: "it has no required field that can go missing on its own",
    Kind.UNDOCUMENTED_ENUM_VALUE.value: "it has no enum field that can change on its own",
    Kind.FORMAT_VIOLATION.value: "it has no field with a format that can change on its own",
    Kind.OUT_OF_RANGE.value: "it has no bounded number that can change on its own",
    Kind.INVALID_JSON_PAYLOAD.value: "no field of it carries JSON in a string",
    Kind.INVARIANT_VIOLATION.value: "it has no order invariant",
}

_UNDOCUMENTED_NAME = "AliconformUndocumented"
_UNKNOWN_ENUM_TEXT = "AliconformUnknown"
_UNKNOWN_ENUM_NUMBER = 987654
_OTHER_TYPE: dict[str, Any] = {
    "string": 12345,
    "integer": "12345",
    "number": "1.5",
    "boolean": "true",
    "object": [],
    "array": {},
}
_UNDOCUMENTED_VALUES: tuple[Any, ...] = (True, 1, "x", None, [], {})
_NOT_JSON = ('{"truncated": ', "{'quoted': 'wrongly'}", "<html>Service Unavailable</html>")
# Strings a consumer's parser of each format refuses, each a mistake a service could make.
_NOT_IN_FORMAT: dict[str, tuple[str, ...]] = {
    "date-time": (
        "2021-12-24 03:00:38",
        "2021-12-24T03:00:38",
        "1640314838",
        "2021-02-30T00:00:00Z",
    ),
    "local-date-time": ("2022-12-02T16:14:06Z", "2022-12-02", "2022-02-30 16:14:06"),
    "oss-uri": ("s3://bucket/object", "oss://bucket", "bucket/object"),
    "url": ("example.com/video.mp4", "ftp://example.com/video.mp4", "/video.mp4"),
    "media-location": ("s3://bucket/object", "video file.mp4", "oss://bucket"),
    "decimal-string": ("1,5", "0.5%", "1e3", "NaN"),
    "language-tag": ("english", "e", "zh_CN"),
}


class UnsupportedDriftError(AliconformError, ValueError):
    """A drift kind that aliconform cannot generate, or not for this contract."""


@dataclass(frozen=True)
class DriftedResponse:
    """An encoded response body with one drift, and the one finding it must give."""

    body: dict[str, Any]  # as the API sends it: JSON payloads are strings
    kind: str  # the finding kind (slug), e.g. "type-mismatch"
    path: str  # JSON pointer of the finding (continuing inside JSON-string payloads)
    field: str  # contract field path the finding names (Finding.field), e.g. Labels[].Name
    decoded_at: tuple[str, ...] = ()  # pointers of the JSON strings decoded on the way
    rule: str | None = None  # the invariant broken, for invariant-violation


@dataclass(frozen=True)
class _Target:
    kind: str
    field: str  # the field changed; for an order invariant, its scope
    present: tuple[str, ...]  # field paths the response must hold for the change to be made
    invariant: OrderInvariant | None = None
    depth: int = 0  # pointer tokens from the root to the field (payload steps add none)


# --- applying a change ------------------------------------------------------------------------


def mutate(
    body: dict[str, Any], where: Location, change: Callable[[Any, str | int], None]
) -> dict[str, Any]:
    """A copy of an encoded body with change(container, key) applied at the location; the JSON
    strings on the way are decoded, and encoded again after the change."""
    body = copy.deepcopy(body)
    _apply(body, where.tokens, where.payload, change)
    return body


def value_at(body: dict[str, Any], where: Location) -> Any:
    """The value at a location of an encoded body (decoded, if the location is a payload)."""
    value: Any = body
    done = 0
    for outer in where.payload:
        for token in outer[done:]:
            value = value[token]
        value = json.loads(value)
        done = len(outer)
    for token in where.tokens[done:]:
        value = value[token]
    return value


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
        container[outer[-1]] = json.dumps(holder["root"], ensure_ascii=False)
        return
    container = value
    for token in tokens[:-1]:
        container = container[token]
    change(container, tokens[-1])


def _pointers(where: Location) -> tuple[str, ...]:
    return tuple("".join(pointer_join("", token) for token in tokens) for tokens in where.payload)


# --- where each kind of drift can go ------------------------------------------------------------


def drift_kinds(contract: Contract | str, *, contracts: ContractSet | None = None) -> list[str]:
    """The drift kinds drifted_responses can generate for the contract (or operation name)."""
    resolved = _contract(contract, contracts)
    return [kind for kind in DRIFT_KINDS if _targets(resolved, kind)]


def drift_fields(
    contract: Contract | str, kind: str | Kind, *, contracts: ContractSet | None = None
) -> list[str]:
    """The field paths a drift of the kind can be made at, as drifted_responses(field=) takes
    them: for undocumented-field the objects ("" is the response root), for
    invariant-violation the scopes of the order invariants."""
    targets = _targets(_contract(contract, contracts), _kind(kind))
    return list(dict.fromkeys(target.field for target in targets))


def _targets(contract: Contract, kind: str) -> list[_Target]:
    every = list(iter_fields(contract))
    by_steps = {entry.steps: entry for entry in every}

    def selectable(entry: FieldEntry) -> bool:
        """Whether a conformant response can hold the field: each payload variant on its way is
        one its discriminator accepts."""
        for index, step in enumerate(entry.steps):
            if isinstance(step, PayloadStep) and step.discriminator is not None:
                payload = by_steps[entry.steps[:index]].spec.json_payload
                chooser = by_steps.get((*entry.steps[: index - 1], Key(step.discriminator)))
                assert payload is not None
                if step.variant not in payload.selectable(chooser.spec if chooser else None):
                    return False
        return True

    entries = [entry for entry in every if selectable(entry)]
    by_steps = {entry.steps: entry for entry in entries}
    by_path = {entry.path: entry for entry in entries}
    # Fields a state requires: removing one (or what holds it) also breaks that invariant.
    required_by_state = {
        join_path(inv.scope, name)
        for inv in contract.invariants
        if isinstance(inv, ConditionalInvariant)
        for name in inv.present
    }
    prefixes = {
        join_path(inv.scope, inv.prefix_field)
        for inv in contract.invariants
        if isinstance(inv, PrefixInvariant)
    }
    # A prefix invariant's field too: changing its text would break that rule as well.
    prefix_rule = prefixes | {
        join_path(inv.scope, inv.field)
        for inv in contract.invariants
        if isinstance(inv, PrefixInvariant)
    }
    # Numbers a rule compares or counts against: moving one out of range could break it too.
    compared = {
        join_path(inv.scope, name)
        for inv in contract.invariants
        if isinstance(inv, OrderInvariant | CountInvariant)
        for name in (inv.fields if isinstance(inv, OrderInvariant) else [inv.at_most])
    }
    discriminators = {
        by_steps[(*entry.steps[:-1], Key(disc))].path
        for entry in entries
        if entry.spec.json_payload is not None
        and (disc := entry.spec.json_payload.discriminator) is not None
        and (*entry.steps[:-1], Key(disc)) in by_steps
    }

    def holds_state(path: str, *, itself: bool) -> bool:
        return any(
            (itself and needed == path) or needed.startswith((f"{path}.", f"{path}[", f"{path}("))
            for needed in required_by_state
        )

    def declared(entry: FieldEntry) -> FieldSpec | None:
        """The field as its parent declares it (required and nullable live there, not in refs)."""
        last, parent_steps = entry.steps[-1], entry.steps[:-1]
        if isinstance(last, PayloadStep):
            return None
        if not parent_steps:
            assert isinstance(last, Key)
            return contract.response.fields[last.name]
        parent = by_steps[parent_steps].spec
        if isinstance(last, Items):
            return parent.items
        return (parent.fields or {}).get(last.name)

    def target(entry: FieldEntry) -> _Target:
        return _Target(kind, entry.path, (entry.path,))

    values = [
        (entry, spec)
        for entry in entries
        if (spec := declared(entry)) is not None and entry.path not in discriminators
    ]
    if kind == Kind.UNDOCUMENTED_FIELD:
        closed = [e for e in entries if e.spec.type == "object" and not e.spec.open]
        return [_Target(kind, "", ()), *(target(e) for e in closed)]
    if kind == Kind.MISSING_REQUIRED_FIELD:
        return [
            target(e)
            for e, spec in values
            if isinstance(e.steps[-1], Key)
            and spec.required
            and not holds_state(e.path, itself=True)
        ]
    if kind == Kind.TYPE_MISMATCH:
        return [target(e) for e, _ in values if not holds_state(e.path, itself=False)]
    if kind == Kind.UNEXPECTED_NULL:
        return [
            target(e)
            for e, spec in values
            if not spec.nullable and not holds_state(e.path, itself=True)
        ]
    if kind == Kind.UNDOCUMENTED_ENUM_VALUE:
        return [
            target(e)
            for e, _ in values
            if e.spec.enum and e.spec.type != "boolean" and e.path not in prefixes
        ]
    if kind == Kind.FORMAT_VIOLATION:
        return [
            target(e)
            for e, _ in values
            if e.spec.format in _NOT_IN_FORMAT and e.path not in prefix_rule
        ]
    if kind == Kind.OUT_OF_RANGE:
        return [
            target(e)
            for e, _ in values
            if e.spec.type in ("integer", "number")
            and (e.spec.minimum is not None or e.spec.maximum is not None)
            and not e.spec.enum
            and e.path not in compared
        ]
    if kind == Kind.INVALID_JSON_PAYLOAD:
        return [target(e) for e, _ in values if e.spec.json_payload is not None]
    if kind == Kind.INVARIANT_VIOLATION:
        return [
            _Target(
                kind,
                inv.scope,
                tuple(join_path(inv.scope, name) for name in inv.fields[:2]),
                inv,
                sum(
                    not isinstance(step, PayloadStep)
                    for step in (by_path[inv.scope].steps if inv.scope else ())
                ),
            )
            for inv in contract.invariants
            if isinstance(inv, OrderInvariant)
        ]
    return []


# --- the strategies ------------------------------------------------------------------------------


def drifted_responses(
    contract: Contract | str,
    kind: str | Kind,
    *,
    field: str | None = None,
    contracts: ContractSet | None = None,
) -> st.SearchStrategy[DriftedResponse]:
    """Encoded responses with exactly one drift of the kind (see DRIFT_KINDS).

    The drift lands on any field that can take it, or on `field` (a path from drift_fields).
    contract may be an operation name, looked up in contracts (default: the pytest session's,
    those assert_conforms uses; outside pytest, load_contracts()).
    Raises UnsupportedDriftError for a kind that cannot be generated, or not for this contract
    (or this field).
    """
    resolved = _contract(contract, contracts)
    name = _kind(kind)
    targets = _targets(resolved, name)
    if not targets:
        supported = ", ".join(drift_kinds(resolved)) or "none"
        why = _WHY_NOT.get(name, "it has no field for it")
        raise UnsupportedDriftError(
            f"{resolved.operation} cannot drift with {name}: {why}; "
            f"the kinds it supports are: {supported}"
        )
    if field is not None:
        fields = list(dict.fromkeys(target.field for target in targets))
        targets = [target for target in targets if target.field == field]
        if not targets:
            raise UnsupportedDriftError(
                f"{resolved.operation} cannot drift with {name} at '{field}'"
                f"{did_you_mean(field, fields)}; drift_fields() lists the {len(fields)} that can"
            )
    return st.sampled_from(targets).flatmap(lambda target: _drifted(resolved, target))


def responses(
    contract: Contract | str,
    drift: str | Kind | None = None,
    *,
    contracts: ContractSet | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Encoded response bodies: conformant ones, or with one drift of the given kind."""
    resolved = _contract(contract, contracts)
    if drift is not None:
        return drifted_responses(resolved, drift).map(lambda drifted: drifted.body)
    return conformant_responses(resolved).map(lambda body: encode(resolved, body))


def _default_contracts() -> ContractSet:
    """The pytest session's contracts, as assert_conforms checks against; outside pytest, the
    default (load_contracts())."""
    chosen = _session.contracts_dir
    return _contracts_at(chosen() if chosen is not None else None)


@functools.cache
def _contracts_at(path: Path | None) -> ContractSet:
    return load_contracts(path)


def _contract(contract: Contract | str, contracts: ContractSet | None) -> Contract:
    if isinstance(contract, Contract):
        return contract
    return (contracts if contracts is not None else _default_contracts())[contract]


def _kind(kind: str | Kind) -> str:
    name = str(kind)
    if name in DRIFT_KINDS:
        return name
    kinds = ", ".join(DRIFT_KINDS)
    if name in set(Kind):  # a real kind: a near name among the others would mislead
        raise UnsupportedDriftError(
            f"no drift of kind '{name}' can be generated: it is not found by changing one "
            f"value of a success body, which is what drifts are; they can be generated for: "
            f"{kinds}"
        )
    known = f"{did_you_mean(name, DRIFT_KINDS)}; drifts can be generated for: "
    raise UnsupportedDriftError(f"no drift of kind '{name}' can be generated{known}{kinds}")


@st.composite
def _drifted(draw: st.DrawFn, contract: Contract, target: _Target) -> DriftedResponse:
    decoded = draw(conformant_responses(contract, present=target.present))
    body = encode(contract, decoded)
    if target.invariant is not None:
        return _break_order(draw, contract, body, target, target.invariant)
    if not target.field:  # the response root
        name = _fresh_name(contract.response.fields)
        body[name] = copy.deepcopy(draw(st.sampled_from(_UNDOCUMENTED_VALUES)))
        return DriftedResponse(body, target.kind, pointer_join("", name), name)
    spots = instances(contract, body, target.field)
    if not spots:
        reject()
    where = draw(st.sampled_from(spots))
    spec = where.spec
    path, field, decoded_at = where.pointer, target.field, _pointers(where)
    change: Callable[[Any, str | int], None]
    if target.kind == Kind.UNDOCUMENTED_FIELD:
        name = _fresh_name(spec.fields or {})
        path, field = pointer_join(where.pointer, name), join_path(target.field, name)
        extra = copy.deepcopy(draw(st.sampled_from(_UNDOCUMENTED_VALUES)))

        def change(container: Any, key: str | int) -> None:
            container[key][name] = extra

    elif target.kind == Kind.MISSING_REQUIRED_FIELD:

        def change(container: Any, key: str | int) -> None:
            del container[key]

    elif target.kind == Kind.INVALID_JSON_PAYLOAD:
        change = _setter(draw(st.sampled_from(_NOT_JSON)))
    elif target.kind == Kind.OUT_OF_RANGE:
        change = _setter(draw(_out_of_range(spec)))
    elif target.kind == Kind.FORMAT_VIOLATION:
        assert spec.format is not None
        change = _setter(draw(st.sampled_from(_NOT_IN_FORMAT[spec.format])))
    elif target.kind == Kind.UNEXPECTED_NULL:
        change = _setter(None)
    elif target.kind == Kind.TYPE_MISMATCH:
        change = _setter(_OTHER_TYPE[spec.type or "string"])
    else:  # undocumented-enum-value
        change = _setter(_unknown_enum(spec))
    return DriftedResponse(mutate(body, where, change), target.kind, path, field, decoded_at)


def _setter(value: Any) -> Callable[[Any, str | int], None]:
    def change(container: Any, key: str | int) -> None:
        container[key] = copy.deepcopy(value)

    return change


def _out_of_range(spec: FieldSpec) -> st.SearchStrategy[int | float]:
    """A number just past a bound, or far past it: one below the minimum or above the maximum
    for an integer, a fraction past it for a number."""
    low, high = spec.minimum, spec.maximum
    outside: list[int | float] = []
    if spec.type == "integer":  # bounds load as floats; an integer field must get an int
        if low is not None:
            outside += [math.ceil(low) - 1, math.ceil(low) - 1000]
        if high is not None:
            outside += [math.floor(high) + 1, math.floor(high) + 1000]
    else:
        if low is not None:
            outside += [low - 0.5, low - 1000]
        if high is not None:
            outside += [high + 0.5, high + 1000]
    return st.sampled_from(outside)


def _fresh_name(fields: dict[str, FieldSpec]) -> str:
    name = _UNDOCUMENTED_NAME
    while name in fields:
        name += "X"
    return name


def _unknown_enum(spec: FieldSpec) -> Any:
    known = set(spec.enum or {})
    if spec.type in ("integer", "number"):
        value = _UNKNOWN_ENUM_NUMBER
        while str(value) in known:
            value += 1
        return value
    text = _UNKNOWN_ENUM_TEXT
    while text in known:
        text += "X"
    return text


def _break_order(
    draw: st.DrawFn,
    contract: Contract,
    body: dict[str, Any],
    target: _Target,
    invariant: OrderInvariant,
) -> DriftedResponse:
    """Give the invariant's first field a value after its second one's, in one scope."""
    first_path, second_path = target.present
    depth = target.depth
    # The engine compares the first match of each field in a scope instance.
    firsts: dict[tuple[str | int, ...], Location] = {}
    seconds: dict[tuple[str | int, ...], Location] = {}
    for spots, path in ((firsts, first_path), (seconds, second_path)):
        for spot in instances(contract, body, path):
            spots.setdefault(spot.tokens[:depth], spot)
    pairs = [(spot, seconds[scope]) for scope, spot in firsts.items() if scope in seconds]
    if not pairs:
        reject()
    first, second = draw(st.sampled_from(pairs))
    # Times are compared at the precision both are written to, so only whole seconds apart
    # are they out of order whatever their fractions.
    key = _order_key(invariant.compare, whole_seconds=True)
    first_value, second_value = value_at(body, first), value_at(body, second)
    if key(first_value) < key(second_value):
        first_value, second_value = second_value, first_value
    elif key(first_value) == key(second_value):  # move one, within its own field's values
        same = key(first_value)
        other = draw(field_values(contract, second_path).filter(lambda v: key(v) != same))
        if key(other) < same:
            second_value = other
        else:
            first_value = draw(field_values(contract, first_path).filter(lambda v: key(v) > same))
    # Now the first field comes after the second: the engine reports the second one.
    broken = mutate(body, first, _setter(first_value))
    broken = mutate(broken, second, _setter(second_value))
    return DriftedResponse(
        broken,
        target.kind,
        second.pointer,
        second.field,
        _pointers(second),
        invariant.id,
    )
