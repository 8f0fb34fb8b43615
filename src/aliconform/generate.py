"""Responses generated from a contract that conform to it (drifted ones: aliconform.drifting).

Generation happens in a "decoded" tree (the JSON inside strings kept as Python values) so that
invariants can be made to hold across payloads; `encode` then turns payloads back into strings,
as the API sends them. Requires hypothesis (`pip install 'aliconform[hypothesis]'`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aliconform._hypothesis import st
from aliconform.contracts import Contract, FieldEntry, FieldSpec, index_fields
from aliconform.contracts.formats import FORMAT_CHECKS
from aliconform.contracts.model import (
    ConditionalInvariant,
    CountInvariant,
    OrderInvariant,
    PrefixInvariant,
    enum_key,
)
from aliconform.contracts.paths import PLAIN_PAYLOAD, Items, Key, PayloadStep, Step, join_path
from aliconform.drift.findings import pointer_join
from aliconform.errors import did_you_mean

__all__ = [
    "Location",
    "conformant_responses",
    "encode",
    "field_values",
    "instances",
    "locations",
]

_MAX_ITEMS = 3
_MAX_DEPTH = 4  # recursive shapes (mind-map topics) stop growing here

# Field paths to generate at least once, as a trie of steps: {Key("Results"): {Key("Result"):
# {Items(): {}}}} makes Results.Result hold at least one element. Sibling paths share the
# element they pass through, so the fields of one scope are forced into the same object.
_Force = dict[Step, "_Force"]

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)

_FORMAT_STRATEGIES: dict[str, st.SearchStrategy[str]] = {
    "date-time": st.builds(
        lambda moment, nanos: (
            moment.strftime("%Y-%m-%dT%H:%M:%S")
            + (f".{nanos:09d}".rstrip("0") if nanos else "")
            + "Z"
        ),
        st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2035, 1, 1)),
        st.integers(0, 999_999_999),
    ),
    "local-date-time": st.datetimes(
        min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2035, 1, 1)
    ).map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")),
    "oss-uri": st.builds(lambda b, o: f"oss://bucket-{b}/{o}.mp4", _WORDS, _WORDS),
    "url": st.builds(lambda h, p: f"https://{h}.example.com/{p}", _WORDS, _WORDS),
    "media-location": st.one_of(
        st.builds(lambda b, o: f"oss://bucket-{b}/{o}", _WORDS, _WORDS),
        st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    ),
    "decimal-string": st.decimals(
        min_value=Decimal(0), max_value=Decimal(100000), places=2, allow_nan=False
    ).map(str),
    "language-tag": st.sampled_from(["zh-Hans", "en", "en-US", "ja"]),
    "json": st.dictionaries(_WORDS, _WORDS, max_size=2).map(json.dumps),
}


def _within_both(format_name: str, pattern: str) -> st.SearchStrategy[str]:
    """A pattern beside a format narrows it (an OSS URI in one bucket): the format's values
    that match the pattern, or the pattern's (with text around it where it is not anchored,
    as the engine searches) that are of the format. Which of the two ever finds one depends
    on the pattern; hypothesis says so when neither does."""
    matches = re.compile(pattern).search
    return st.one_of(
        _FORMAT_STRATEGIES[format_name].filter(lambda text: matches(text) is not None),
        st.from_regex(pattern).filter(FORMAT_CHECKS[format_name]),
    )


def _number(text: str) -> int | float:
    """An enum key of a number field as the value the engine reads back as that text: "1" is
    the integer 1 (1.0 would read as "1.0"), "0.5" the float."""
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else float(text)


class _Builder:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def field(
        self, spec: FieldSpec, depth: int = 0, force: _Force | None = None
    ) -> st.SearchStrategy[Any]:
        if spec.ref is not None:
            target = self.contract.definitions[spec.ref]
            return st.deferred(lambda: self.field(target, depth + 1, force))
        kind = spec.type
        if spec.enum is not None:
            keys = list(spec.enum)
            if kind == "integer":
                return st.sampled_from([int(k) for k in keys])
            if kind == "number":  # as the engine reads it back: "1" is 1, not 1.0
                return st.sampled_from([_number(k) for k in keys])
            if kind == "boolean":
                return st.sampled_from([k == "true" for k in keys])
            return st.sampled_from(keys)
        if kind == "string":
            if spec.json_payload is not None and spec.json_payload.shape is not None:
                # decoded here; encode() makes it a string again
                inner = (force or {}).get(PayloadStep(PLAIN_PAYLOAD, None))
                return self.field(spec.json_payload.shape, depth, inner)
            if spec.format is not None and spec.pattern is not None:
                return _within_both(spec.format, spec.pattern)
            if spec.format is not None:
                return _FORMAT_STRATEGIES[spec.format]
            if spec.pattern is not None:
                return st.from_regex(spec.pattern, fullmatch=True)
            return st.text(max_size=20)
        if kind == "integer":
            least = int(spec.minimum) if spec.minimum is not None else 0
            most = int(spec.maximum) if spec.maximum is not None else 100_000
            return st.integers(least, most)
        if kind == "number":
            low = spec.minimum if spec.minimum is not None else 0.0
            high = spec.maximum if spec.maximum is not None else 100_000.0
            return st.floats(low, high, allow_nan=False, allow_infinity=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "array":
            assert spec.items is not None
            forced = (force or {}).get(Items())
            if forced is not None:  # one element on the forced path, among up to two more
                return st.builds(
                    lambda first, rest, at: [*rest[:at], first, *rest[at:]],
                    self.field(spec.items, depth + 1, forced),
                    st.lists(self.field(spec.items, depth + 1), max_size=_MAX_ITEMS - 1),
                    st.integers(0, _MAX_ITEMS - 1),
                )
            if depth >= _MAX_DEPTH:
                return st.just([])
            return st.lists(self.field(spec.items, depth + 1), max_size=_MAX_ITEMS)
        return self.object(spec.fields or {}, depth, force=force)

    def object(
        self,
        fields: dict[str, FieldSpec],
        depth: int,
        always: frozenset[str] = frozenset(),
        force: _Force | None = None,
    ) -> st.SearchStrategy[dict[str, Any]]:
        forced = force or {}

        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
            result: dict[str, Any] = {}
            for name, spec in fields.items():
                inner = forced.get(Key(name))
                if (
                    inner is None
                    and not spec.required
                    and name not in always
                    and not draw(st.booleans())
                ):
                    continue
                result[name] = draw(self.field(spec, depth, inner))
            for name, spec in fields.items():
                payload = spec.json_payload
                if payload is None or payload.discriminator is None or name not in result:
                    continue
                variants = payload.variants or {}
                inner = forced.get(Key(name)) or {}
                step = next((s for s in inner if isinstance(s, PayloadStep)), None)
                selectable = payload.selectable(fields.get(payload.discriminator))
                variant = step.variant if step else draw(st.sampled_from(selectable))
                result[payload.discriminator] = variant
                result[name] = draw(
                    self.field(variants[variant], depth, inner.get(step) if step else None)
                )
            return result

        return build()


def conformant_responses(
    contract: Contract, *, present: Iterable[str] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Success responses that satisfy the contract, payloads still decoded (see encode).

    present: field paths (as `aliconform fields` lists them, e.g.
    `Results.Result[].Data(VideoLabel).persons[].name`) that every response holds at least once:
    each array on the way has an element, each payload on the way has that variant. The fields of
    one scope (an array element) are generated in the same element.
    """
    builder = _Builder(contract)
    # Fields an invariant requires in some state are always generated; _repair removes the ones
    # an invariant forbids. (Inventing a value after the fact could not respect payload variants.)
    always = frozenset(
        name
        for invariant in contract.invariants
        if isinstance(invariant, ConditionalInvariant) and not invariant.scope
        for name in invariant.present
    )
    steps = [_entry(contract, path).steps for path in present]
    force: _Force = {}
    for path_steps in steps:
        node = force
        for step in path_steps:
            node = node.setdefault(step, {})
    fields = dict(contract.response.fields)
    bodies = builder.object(fields, 0, always, force).flatmap(
        lambda body: _kept(_repair(contract, body))
    )
    if not steps:
        return bodies
    # A state can forbid a forced field (a running task has no EndTime): such bodies are redrawn.
    return bodies.filter(lambda body: all(next(_reach(body, s), None) for s in steps))


def field_values(contract: Contract, path: str) -> st.SearchStrategy[Any]:
    """Values the field at a field path may take on its own (decoded, if it carries JSON)."""
    return _Builder(contract).field(_entry(contract, path).spec)


def _entry(contract: Contract, path: str) -> FieldEntry:
    fields = index_fields(contract)
    if path not in fields:
        raise ValueError(f"{contract.operation} has no field '{path}'{did_you_mean(path, fields)}")
    return fields[path]


def encode(contract: Contract, body: dict[str, Any]) -> dict[str, Any]:
    """Turn decoded payloads back into the JSON strings the API sends."""
    return _encode_object(contract, dict(contract.response.fields), body)


def _encode_object(
    contract: Contract, fields: dict[str, FieldSpec], value: dict[str, Any]
) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        spec = fields.get(key)
        out[key] = item if spec is None else _encode(contract, spec, item, value)
    return out


def _encode(contract: Contract, spec: FieldSpec, value: Any, parent: dict[str, Any]) -> Any:
    if spec.ref is not None:
        spec = contract.definitions[spec.ref]
    if spec.type == "object" and isinstance(value, dict):
        return _encode_object(contract, spec.fields or {}, value)
    if spec.type == "array" and isinstance(value, list) and spec.items is not None:
        items = spec.items
        return [_encode(contract, items, item, {}) for item in value]
    payload = spec.json_payload
    if spec.type == "string" and payload is not None and not isinstance(value, str):
        if payload.shape is not None:
            inner = payload.shape
        else:
            assert payload.discriminator is not None
            assert payload.variants is not None
            inner = payload.variants[parent[payload.discriminator]]
        return json.dumps(_encode(contract, inner, value, {}), ensure_ascii=False)
    return value


# --- making invariants hold ---------------------------------------------------------------


def _reach(value: Any, steps: tuple[Step, ...], parent: Any = None) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs the steps lead to in a decoded tree."""
    if not steps:
        return
    step, rest = steps[0], steps[1:]
    if isinstance(step, Key):
        if isinstance(value, dict) and step.name in value:
            if rest and isinstance(rest[0], PayloadStep):
                payload = rest[0]
                if (
                    payload.discriminator is not None
                    and value.get(payload.discriminator) != payload.variant
                ):
                    return
                inner = value[step.name]
                if len(rest) == 1:
                    yield value, step.name
                else:
                    yield from _reach(inner, rest[1:], value)
                return
            if not rest:
                yield value, step.name
            else:
                yield from _reach(value[step.name], rest, value)
    elif isinstance(step, Items) and isinstance(value, list):
        for index in range(len(value)):
            if not rest:
                yield value, index
            else:
                yield from _reach(value[index], rest, value)


def _repair(contract: Contract, body: dict[str, Any]) -> dict[str, Any] | None:
    """The body changed to satisfy the invariants; None if it cannot be (a strict order between
    equal values)."""
    fields = index_fields(contract)
    for invariant in contract.invariants:
        scope_steps = fields[invariant.scope].steps if invariant.scope else ()
        scopes = [body] if not scope_steps else [c[k] for c, k in _reach(body, scope_steps)]
        for scope in scopes:
            if not isinstance(scope, dict):
                continue

            def rel(name: str) -> tuple[Step, ...]:
                return fields[join_path(invariant.scope, name)].steps[len(scope_steps) :]  # noqa: B023

            if isinstance(invariant, OrderInvariant):
                places = [next(_reach(scope, rel(name)), None) for name in invariant.fields]
                present = [p for p in places if p is not None]
                key_of = _order_key(invariant.compare)
                values = sorted((c[k] for c, k in present), key=key_of)
                if invariant.strict and any(
                    key_of(a) == key_of(b) for a, b in itertools.pairwise(values)
                ):
                    return None  # equal values cannot be put in increasing order: redrawn
                for (container, key), value in zip(present, values, strict=True):
                    container[key] = value
            elif isinstance(invariant, PrefixInvariant):
                target = next(_reach(scope, rel(invariant.field)), None)
                prefix = next(_reach(scope, rel(invariant.prefix_field)), None)
                if target and prefix and isinstance(prefix[0][prefix[1]], str):
                    container, key = target
                    container[key] = f"{prefix[0][prefix[1]]}{invariant.separator}{container[key]}"
            elif isinstance(invariant, ConditionalInvariant):
                when = next(_reach(scope, rel(invariant.when.field)), None)
                if when is None or enum_key(when[0][when[1]]) not in invariant.when.values:
                    continue
                for name in invariant.absent:
                    found = next(_reach(scope, rel(name)), None)
                    if found is not None:
                        del found[0][found[1]]
                for name in invariant.present:
                    found = next(_reach(scope, rel(name)), None)
                    if found is None:  # left out (an optional field, not forced here): redrawn
                        return None
                    if found[0][found[1]] in ("", None):
                        found[0][found[1]] = "present"  # 'present' means set and non-empty
            elif isinstance(invariant, CountInvariant):
                array = next(_reach(scope, rel(invariant.array)), None)
                bound = next(_reach(scope, rel(invariant.at_most)), None)
                if array and bound and isinstance(array[0][array[1]], list):
                    bound[0][bound[1]] = max(bound[0][bound[1]], len(array[0][array[1]]))
    return body


def _kept(body: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any]]:
    """The repaired body, or nothing (hypothesis then draws another)."""
    return st.nothing() if body is None else st.just(body)


def _order_key(compare: str, *, whole_seconds: bool = False) -> Callable[[Any], Any]:
    if compare == "number":
        return lambda value: value
    if compare == "decimal-string":
        return lambda value: Decimal(value)
    # date-time, as generated: "2020-01-02T03:04:05" then an optional ".fraction", then "Z"
    if whole_seconds:
        return lambda value: value[:19]
    return lambda value: (value[:19], value[19:].rstrip("Z").removeprefix(".").ljust(9, "0"))


# --- where a mutation can go --------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A place in an encoded response, with the field that describes it."""

    pointer: str
    tokens: tuple[str | int, ...]
    spec: FieldSpec
    parent_spec: FieldSpec | None
    payload: tuple[tuple[str | int, ...], ...]  # token paths of the JSON strings on the way
    field: str


def locations(contract: Contract, body: dict[str, Any]) -> list[Location]:
    """Every documented value in an encoded response, payload contents included."""
    found: list[Location] = []
    root = FieldSpec(type="object", fields=dict(contract.response.fields))
    _locate(contract, body, root, "", (), (), "", found, None)
    return found


def _locate(
    contract: Contract,
    value: Any,
    spec: FieldSpec,
    pointer: str,
    tokens: tuple[str | int, ...],
    payload: tuple[tuple[str | int, ...], ...],
    field: str,
    found: list[Location],
    parent: dict[str, Any] | None,
) -> None:
    if spec.ref is not None:
        spec = contract.definitions[spec.ref]
    if isinstance(value, dict) and spec.type == "object":
        for key, item in value.items():
            child = (spec.fields or {}).get(key)
            if child is None:
                continue
            child_field = f"{field}.{key}" if field else key
            child_pointer = pointer_join(pointer, key)
            resolved = contract.definitions[child.ref] if child.ref else child
            found.append(
                Location(child_pointer, (*tokens, key), resolved, spec, payload, child_field)
            )
            _locate(
                contract,
                item,
                child,
                child_pointer,
                (*tokens, key),
                payload,
                child_field,
                found,
                value,
            )
    elif isinstance(value, list) and spec.type == "array" and spec.items is not None:
        for index, item in enumerate(value):
            _locate(
                contract,
                item,
                spec.items,
                pointer_join(pointer, index),
                (*tokens, index),
                payload,
                f"{field}[]",
                found,
                None,
            )
    elif isinstance(value, str) and spec.json_payload is not None:
        body = spec.json_payload
        if body.shape is not None:
            inner, variant = body.shape, PLAIN_PAYLOAD
        else:
            variant = str((parent or {}).get(body.discriminator or "", ""))
            inner_spec = (body.variants or {}).get(variant)
            if inner_spec is None:
                return
            inner = inner_spec
        decoded = json.loads(value)
        _locate(
            contract,
            decoded,
            inner,
            pointer,
            tokens,
            (*payload, tokens),
            f"{field}({variant})",
            found,
            None,
        )


def instances(contract: Contract, body: dict[str, Any], path: str) -> list[Location]:
    """Every place a field path reaches in an encoded response (JSON strings decoded on the way).

    A path that ends in a payload (`UserData(json)`) reaches the decoded document: its Location
    lists the string itself among `payload`, so a change made there is made inside the JSON.
    """
    entry = _entry(contract, path)
    by_steps = {item.steps: item for item in index_fields(contract).values()}
    parent = by_steps.get(entry.steps[:-1]) if isinstance(entry.steps[-1], Key) else None
    parent_spec = (
        parent.spec
        if parent is not None
        else FieldSpec(type="object", fields=dict(contract.response.fields))
        if len(entry.steps) == 1
        else None
    )
    found: list[Location] = []

    def walk(
        value: Any,
        steps: tuple[Step, ...],
        pointer: str,
        tokens: tuple[str | int, ...],
        payload: tuple[tuple[str | int, ...], ...],
        siblings: Any,
    ) -> None:
        if not steps:
            found.append(Location(pointer, tokens, entry.spec, parent_spec, payload, entry.path))
            return
        step, rest = steps[0], steps[1:]
        if isinstance(step, Key):
            if isinstance(value, dict) and step.name in value:
                child = value[step.name]
                walk(
                    child,
                    rest,
                    pointer_join(pointer, step.name),
                    (*tokens, step.name),
                    payload,
                    value,
                )
        elif isinstance(step, Items):
            if isinstance(value, list):
                for index, item in enumerate(value):
                    walk(item, rest, pointer_join(pointer, index), (*tokens, index), payload, None)
        else:
            if step.discriminator is not None and (
                not isinstance(siblings, dict) or siblings.get(step.discriminator) != step.variant
            ):
                return
            if not isinstance(value, str):
                return
            try:
                decoded = json.loads(value)
            except ValueError:
                return
            walk(decoded, rest, pointer, tokens, (*payload, tokens), None)

    walk(body, entry.steps, "", (), (), None)
    return found
