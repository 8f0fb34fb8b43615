"""Responses generated from a contract: conformant ones, and ones with one chosen drift.

Generation happens in a "decoded" tree (the JSON inside strings kept as Python values) so that
invariants can be made to hold across payloads; `encode` then turns payloads back into strings,
as the API sends them. Requires hypothesis (the `test` dependency group).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from aliconform.contracts import Contract, FieldSpec, index_fields
from aliconform.contracts.model import (
    ConditionalInvariant,
    CountInvariant,
    OrderInvariant,
    PrefixInvariant,
)
from aliconform.contracts.paths import PLAIN_PAYLOAD, Items, Key, PayloadStep, Step, join_path
from aliconform.drift.findings import pointer_join

__all__ = ["Location", "conformant_responses", "encode", "locations"]

_MAX_ITEMS = 3
_MAX_DEPTH = 4  # recursive shapes (mind-map topics) stop growing here

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


class _Builder:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract

    def field(self, spec: FieldSpec, depth: int = 0) -> st.SearchStrategy[Any]:
        if spec.ref is not None:
            target = self.contract.definitions[spec.ref]
            return st.deferred(lambda: self.field(target, depth + 1))
        kind = spec.type
        if spec.enum is not None:
            keys = list(spec.enum)
            if kind == "integer":
                return st.sampled_from([int(k) for k in keys])
            if kind == "number":
                return st.sampled_from([float(k) for k in keys])
            return st.sampled_from(keys)
        if kind == "string":
            if spec.json_payload is not None and spec.json_payload.shape is not None:
                return self.field(spec.json_payload.shape, depth)  # decoded; encode() wraps it
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
            if depth >= _MAX_DEPTH:
                return st.just([])
            return st.lists(self.field(spec.items, depth + 1), max_size=_MAX_ITEMS)
        return self.object(spec.fields or {}, depth)

    def object(
        self, fields: dict[str, FieldSpec], depth: int, always: frozenset[str] = frozenset()
    ) -> st.SearchStrategy[dict[str, Any]]:
        @st.composite
        def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
            result: dict[str, Any] = {}
            for name, spec in fields.items():
                if not spec.required and name not in always and not draw(st.booleans()):
                    continue
                result[name] = draw(self.field(spec, depth))
            for name, spec in fields.items():
                payload = spec.json_payload
                if payload is None or payload.discriminator is None or name not in result:
                    continue
                variants = payload.variants or {}
                variant = draw(st.sampled_from(sorted(variants)))
                result[payload.discriminator] = variant
                result[name] = draw(self.field(variants[variant], depth))
            return result

        return build()


def conformant_responses(contract: Contract) -> st.SearchStrategy[dict[str, Any]]:
    """Success responses that satisfy the contract, payloads still decoded (see encode)."""
    builder = _Builder(contract)
    # Fields an invariant requires in some state are always generated; _repair removes the ones
    # an invariant forbids. (Inventing a value after the fact could not respect payload variants.)
    always = frozenset(
        name
        for invariant in contract.invariants
        if isinstance(invariant, ConditionalInvariant) and not invariant.scope
        for name in invariant.present
    )
    fields = dict(contract.response.fields)
    return builder.object(fields, 0, always).map(lambda body: _repair(contract, body))


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


def _repair(contract: Contract, body: dict[str, Any]) -> dict[str, Any]:
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
                values = sorted((c[k] for c, k in present), key=_order_key(invariant.compare))
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
                if when is None or when[0][when[1]] not in invariant.when.values:
                    continue
                for name in invariant.absent:
                    found = next(_reach(scope, rel(name)), None)
                    if found is not None:
                        del found[0][found[1]]
                for name in invariant.present:
                    found = next(_reach(scope, rel(name)), None)
                    if found is not None and found[0][found[1]] in ("", None):
                        found[0][found[1]] = "present"  # 'present' means set and non-empty
            elif isinstance(invariant, CountInvariant):
                array = next(_reach(scope, rel(invariant.array)), None)
                bound = next(_reach(scope, rel(invariant.at_most)), None)
                if array and bound and isinstance(array[0][array[1]], list):
                    bound[0][bound[1]] = max(bound[0][bound[1]], len(array[0][array[1]]))
    return body


def _order_key(compare: str) -> Callable[[Any], Any]:
    if compare == "number":
        return lambda value: value
    if compare == "decimal-string":
        return lambda value: Decimal(value)
    return lambda value: (value[:19], value[19:].rstrip("Z").ljust(10, "0"))


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
