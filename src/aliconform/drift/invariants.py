"""Evaluating a contract's declarative invariants on a parsed response.

Paths in invariants are contract field paths; they are resolved to the steps recorded by
contracts.paths, and those steps are followed through the data (arrays fan out, JSON strings are
decoded, a payload variant matches only when its sibling discriminator says so).
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aliconform.contracts.formats import fraction_digits, parse_date_time, parse_decimal
from aliconform.contracts.model import (
    ConditionalInvariant,
    Contract,
    CountInvariant,
    EchoInvariant,
    Invariant,
    OrderInvariant,
    PrefixInvariant,
    Source,
    enum_key,
)
from aliconform.contracts.paths import FieldEntry, Items, Key, PayloadStep, Step, join_path
from aliconform.drift.findings import Finding, Kind, excerpt, pointer_join
from aliconform.drift.policy import DEFAULT_SEVERITY

__all__ = ["evaluate_invariants", "order_key", "resolve"]

Match = tuple[str, Any, tuple[str, ...]]  # pointer, value, pointers of decoded JSON strings


def resolve(
    value: Any,
    steps: tuple[Step, ...],
    pointer: str = "",
    decoded_at: tuple[str, ...] = (),
    decoded: Mapping[str, Any] | None = None,
    parent: Any = None,
    clean: Collection[str] = (),
) -> Iterator[Match]:
    """Every (pointer, value) the steps reach in the data; missing keys reach nothing, and
    neither does anything at or below a pointer in clean."""
    if clean and pointer in clean:
        return
    if not steps:
        yield pointer, value, decoded_at
        return
    step, rest = steps[0], steps[1:]
    if isinstance(step, Key):
        if isinstance(value, dict) and step.name in value:
            yield from resolve(
                value[step.name],
                rest,
                pointer_join(pointer, step.name),
                decoded_at,
                decoded,
                value,
                clean,
            )
    elif isinstance(step, Items):
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from resolve(
                    item, rest, pointer_join(pointer, index), decoded_at, decoded, None, clean
                )
    elif isinstance(step, PayloadStep):
        if step.discriminator is not None and (
            not isinstance(parent, dict) or parent.get(step.discriminator) != step.variant
        ):
            return
        if decoded is not None and pointer in decoded:
            inner = decoded[pointer]
        elif isinstance(value, str):
            try:
                inner = json.loads(value)
            except (ValueError, RecursionError):
                return  # reported by the checker as invalid-json-payload
        else:
            inner = value  # the fast path hands over payloads already decoded
        yield from resolve(inner, rest, pointer, (*decoded_at, pointer), decoded, None, clean)


@dataclass(frozen=True, slots=True)
class _Scope:
    """One instance of an invariant's scope in the data; resolves the invariant's field paths."""

    value: Any
    pointer: str
    decoded_at: tuple[str, ...]
    scope: str
    depth: int  # number of steps from the root to the scope
    fields: Mapping[str, FieldEntry]
    decoded: Mapping[str, Any] | None

    def at(self, relative: str) -> Match | None:
        steps = self.fields[join_path(self.scope, relative)].steps[self.depth :]
        return next(resolve(self.value, steps, self.pointer, self.decoded_at, self.decoded), None)

    def where_absent(self, relative: str) -> Match | None:
        """Where a member the data lacks would be, when only keys lead there from the scope
        (as a missing required field is reported where it would be)."""
        steps = self.fields[join_path(self.scope, relative)].steps[self.depth :]
        if not all(isinstance(step, Key) for step in steps):
            return None
        pointer = self.pointer
        for step in steps:
            assert isinstance(step, Key)
            pointer = pointer_join(pointer, step.name)
        return pointer, None, self.decoded_at


def evaluate_invariants(
    contract: Contract,
    fields: Mapping[str, FieldEntry],
    body: Any,
    *,
    decoded: Mapping[str, Any] | None = None,
    request: Mapping[str, Any] | None = None,
    skip: frozenset[str] = frozenset(),
    held: tuple[frozenset[str], Collection[str]] = (frozenset(), ()),
) -> list[Finding]:
    """Every violation of the contract's invariants (except those whose ids are in skip).

    held is (ids, pointers): invariants known to hold at and below those pointers, because the
    compiled checks that enforce them accepted the values there; their scopes there are skipped.
    """
    findings: list[Finding] = []
    held_ids, clean = held
    for index, invariant in enumerate(contract.invariants):
        if invariant.id in skip or (request is None and isinstance(invariant, EchoInvariant)):
            continue
        scope_steps = fields[invariant.scope].steps if invariant.scope else ()
        pruned = clean if invariant.id in held_ids else ()
        for pointer, value, decoded_at in resolve(body, scope_steps, decoded=decoded, clean=pruned):
            scope = _Scope(
                value, pointer, decoded_at, invariant.scope, len(scope_steps), fields, decoded
            )
            for where, relative, message, expected, observed in _violations(
                invariant, scope, request
            ):
                findings.append(
                    Finding(
                        operation=contract.operation,
                        kind=Kind.INVARIANT_VIOLATION,
                        severity=DEFAULT_SEVERITY[Kind.INVARIANT_VIOLATION],
                        path=where[0],
                        message=f"{invariant.id}: {message}{_inferred(invariant)}",
                        expected=expected,
                        observed=observed,
                        field=join_path(invariant.scope, relative),
                        contract_location=contract.location(("invariants", index)),
                        decoded_at=where[2],
                        rule=invariant.id,
                    )
                )
    return findings


Violation = tuple[Match, str, str, Any, str | None]  # where, field, message, expected, observed


def _violations(
    invariant: Invariant, scope: _Scope, request: Mapping[str, Any] | None
) -> Iterator[Violation]:
    at = scope.at
    match invariant:
        case OrderInvariant():
            yield from _order(invariant, at)
        case PrefixInvariant():
            field, prefix = at(invariant.field), at(invariant.prefix_field)
            if field and prefix and isinstance(field[1], str) and isinstance(prefix[1], str):
                head = prefix[1] + invariant.separator
                if not field[1].startswith(head):
                    yield (
                        field,
                        invariant.field,
                        f"{invariant.field} does not start with '{head}'",
                        f"{head}…",
                        excerpt(field[1]),
                    )
        case ConditionalInvariant():
            when = at(invariant.when.field)
            if when is None or not _chosen(when[1], invariant.when.values):
                return
            state = f"{invariant.when.field} is {when[1]}"
            for name in invariant.present:
                found = at(name)
                if found is None or _absent(found[1]):
                    yield (
                        found or scope.where_absent(name) or when,
                        name,
                        f"{state} but {name} is {_how_absent(found)}",
                        f"{name} present",
                        None if found is None else excerpt(found[1]),
                    )
            for name in invariant.absent:
                found = at(name)
                if found is not None and not _absent(found[1]):
                    yield found, name, f"{state} but {name} is set", f"no {name}", excerpt(found[1])
        case CountInvariant():
            array, bound = at(invariant.array), at(invariant.at_most)
            if (
                array
                and bound
                and isinstance(array[1], list)
                and isinstance(bound[1], int)
                and len(array[1]) > bound[1]
            ):
                yield (
                    array,
                    invariant.array,
                    f"{len(array[1])} {invariant.array} but {invariant.at_most} is {bound[1]}",
                    f"at most {bound[1]}",
                    str(len(array[1])),
                )
        case EchoInvariant():
            if request is None or invariant.parameter not in request:
                return
            found = at(invariant.field)
            if found is not None and found[1] != request[invariant.parameter]:
                yield (
                    found,
                    invariant.field,
                    f"{invariant.field} differs from the request's {invariant.parameter}",
                    excerpt(request[invariant.parameter]),
                    excerpt(found[1]),
                )


def _chosen(value: Any, values: list[str]) -> bool:
    """Whether a conditional's `when` field holds one of its values: a number or a boolean by
    its JSON text, as an enum lists it; an object, an array or null never does."""
    return isinstance(value, str | int | float) and enum_key(value) in values


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _how_absent(found: Match | None) -> str:
    if found is None:
        return "missing"
    return "null" if found[1] is None else "empty"


def _order(invariant: OrderInvariant, at: Callable[[str], Match | None]) -> Iterator[Violation]:
    present = [(name, found) for name in invariant.fields if (found := at(name)) is not None]
    keyed = [(name, found, order_key(invariant.compare, found[1])) for name, found in present]
    comparable = [item for item in keyed if item[2] is not None]
    for (before, first, low), (after, second, high) in itertools.pairwise(comparable):
        if invariant.compare == "date-time" and high < low:
            # equal at the common precision: either order may be true, so neither is reported
            broken = operator.lt(*_at_common_precision(second[1], high, first[1], low))
        else:
            broken = high < low or (invariant.strict and high == low)
        if broken:
            relation = "<" if invariant.strict else "<="
            yield (
                second,
                after,
                f"{after} ({excerpt(second[1])}) is before {before} ({excerpt(first[1])})",
                f"{before} {relation} {after}",
                f"{before}={excerpt(first[1])}, {after}={excerpt(second[1])}",
            )


def _at_common_precision(
    later: str, high: tuple[float, int], earlier: str, low: tuple[float, int]
) -> tuple[tuple[float, int], tuple[float, int]]:
    """Two times' keys cut to the precision of the less precise one: a time written to the
    second (as the pages' own examples write EndTime) says nothing of the fraction, so an end
    within the second the task started is not before it."""
    cut = 10 ** (9 - min(fraction_digits(later), fraction_digits(earlier)))
    return (high[0], high[1] // cut), (low[0], low[1] // cut)


def order_key(compare: str, value: Any) -> Any:
    """A comparable key for an order invariant's value, or None when it cannot be compared."""
    if compare == "number":
        return value if type(value) in (int, float) else None
    if not isinstance(value, str):
        return None
    if compare == "date-time":
        parsed = parse_date_time(value)
        return None if parsed is None else (parsed[0].timestamp(), parsed[1])
    result: Decimal | None = parse_decimal(value)
    return result


def _inferred(invariant: Invariant) -> str:
    if Source.INFERRED in invariant.sources:
        return " (a rule the contract infers from the fields' meanings; no source states it)"
    return ""
