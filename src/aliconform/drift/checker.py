"""The precise classifier: walk a parsed response beside its contract and name every divergence.

It never stops at the first finding. It descends only where the contract describes the data,
so its depth is bounded by the contract, not by the response.

Given the contract's fast path, it first asks the compiled check of each object, array and
JSON-string payload it comes to, and walks only into those that check refuses: a response that
drifts in one place is walked along the path to that place, not everywhere. The checks pass
only values the walk would find nothing in (the fast path never accepts more than this walk),
and the invariants the fast path holds are not evaluated again inside what passed (clean).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aliconform.contracts.formats import FORMAT_CHECKS, loads_rfc8259
from aliconform.contracts.model import FORMATS, Contract, FieldSpec, Payload, enum_key
from aliconform.contracts.paths import PLAIN_PAYLOAD
from aliconform.drift.findings import Finding, Kind, excerpt, pointer_join
from aliconform.drift.policy import DEFAULT_SEVERITY

if TYPE_CHECKING:
    from aliconform.drift.fastpath import FastPath

__all__ = ["JSON_TYPES", "Place", "Walker", "json_type"]

KeyPath = tuple[str | int, ...]

JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


# json.loads reads NaN, Infinity and -Infinity; JSON has no such numbers.
_NOT_JSON = "not a JSON number (RFC 8259), so strict parsers refuse the whole body"
# It reads each of those words as one and the same object every time, these, so a word is told
# from a number too large for a double (1e400: JSON, which it reads as a new infinity).
_WORDS = json.loads("[NaN, Infinity, -Infinity]")
_BEYOND_DOUBLE = (
    "a number beyond a double's range where the documentation says {expected}: JSON allows it, "
    "but some parsers refuse it and others read it as {value}"
)


def _not_finite(value: float, expected: str) -> str:
    if any(value is word for word in _WORDS):
        return f"{excerpt(value)} where the documentation says {expected}: {_NOT_JSON}"
    return _BEYOND_DOUBLE.format(expected=expected, value=excerpt(value))


def _fits(expected: str, value: Any) -> bool:
    kind = type(value)
    if expected == "string":
        return kind is str
    if expected == "integer":
        return kind is int
    if expected == "number":
        return kind is int or (kind is float and math.isfinite(value))
    if expected == "boolean":
        return kind is bool
    if expected == "object":
        return kind is dict
    return kind is list  # array


@dataclass(frozen=True, slots=True)
class Place:
    """Where the walk is: in the response, in the contract, and inside which JSON strings."""

    pointer: str  # RFC 6901 pointer into the response
    field: str  # contract field path, e.g. Results.Result[].Data(VideoLabel)
    key_path: KeyPath  # where the field's definition stands in the contract file
    decoded_at: tuple[str, ...] = ()  # pointers of the JSON strings decoded on the way

    def key(self, name: str, fields_key: KeyPath) -> Place:
        # str(): a body given as a Python dict may have keys JSON cannot (1, None, a tuple).
        field = f"{self.field}.{name}" if self.field else str(name)
        return Place(pointer_join(self.pointer, name), field, (*fields_key, name), self.decoded_at)

    def item(self, index: int) -> Place:
        return Place(
            pointer_join(self.pointer, index),
            f"{self.field}[]",
            (*self.key_path, "items"),
            self.decoded_at,
        )

    def payload(self, variant: str, key_path: KeyPath) -> Place:
        return Place(
            self.pointer, f"{self.field}({variant})", key_path, (*self.decoded_at, self.pointer)
        )


class Walker:
    """One check of one body: accumulates findings and the JSON payloads it decoded."""

    def __init__(
        self,
        contract: Contract,
        locate: Callable[[KeyPath], str] | None = None,
        fast: FastPath | None = None,
    ) -> None:
        """fast: the contract's compiled checks, to skip what they accept. Only for data parsed
        from JSON text: msgspec.convert would take a tuple for an array."""
        self.contract = contract
        self.operation = contract.operation
        self.locate = locate or contract.location
        self.fast = fast
        self.findings: list[Finding] = []
        self.decoded: dict[str, Any] = {}  # pointer of a JSON-string field -> its decoded value
        self.clean: set[str] = set()  # pointers of the values the compiled checks accepted

    def add(
        self,
        kind: Kind,
        place: Place | None,
        message: str,
        *,
        key_path: KeyPath | None = None,
        expected: Any = None,
        observed: Any = ...,
        rule: str | None = None,
        location: str | None = None,
    ) -> None:
        """Record a finding at a place; its contract location is the place's (or key_path's,
        or location outright)."""
        if location is None:
            where = key_path if key_path is not None else (place.key_path if place else None)
            location = self.locate(where) if where is not None else None
        self.findings.append(
            Finding(
                operation=self.operation,
                kind=kind,
                severity=DEFAULT_SEVERITY[kind],
                path=place.pointer if place else "",
                message=message,
                expected=expected,
                observed=None if observed is ... else excerpt(observed),
                field=(place.field or None) if place else None,
                contract_location=location,
                decoded_at=place.decoded_at if place else (),
                rule=rule,
            )
        )

    def object_fields(
        self,
        value: dict[str, Any],
        fields: Mapping[str, FieldSpec],
        place: Place,
        *,
        open_object: bool = False,
    ) -> None:
        """Check an object's keys against documented fields (the response root included)."""
        fields_key = (*place.key_path, "fields")
        for key, item in value.items():
            child = fields.get(key)
            if child is not None:
                self.value(item, child, place.key(key, fields_key), value)
            elif not open_object:
                self.add(
                    Kind.UNDOCUMENTED_FIELD,
                    place.key(key, fields_key),
                    f"'{key}' is not documented" + (f" in {place.field}" if place.field else ""),
                    key_path=place.key_path,
                    expected=sorted(fields) or None,
                    observed=item,
                )
        for key, child in fields.items():
            if child.required and key not in value:
                self.add(
                    Kind.MISSING_REQUIRED_FIELD,
                    place.key(key, fields_key),
                    f"required field '{key}' is missing" + _assumed(child, "presence"),
                    expected=child.type or child.ref,
                )

    def value(
        self, value: Any, spec: FieldSpec, place: Place, siblings: dict[str, Any] | None
    ) -> None:
        if self.fast is not None and self.fast.holds(spec, value):
            self.clean.add(place.pointer)
            return
        if spec.ref is not None:
            place = Place(place.pointer, place.field, ("definitions", spec.ref), place.decoded_at)
            spec = self.contract.definitions[spec.ref]
        expected = spec.type
        assert expected is not None
        if value is None:
            if not spec.nullable:
                message = f"null where the documentation promises {expected}"
                self.add(Kind.UNEXPECTED_NULL, place, message, expected=expected, observed=None)
            return
        if not _fits(expected, value):
            message = f"{json_type(value)} where the documentation says {expected}"
            message += _assumed(spec, "type")
            if type(value) is float and not math.isfinite(value):
                message = _not_finite(value, expected)
            self.add(Kind.TYPE_MISMATCH, place, message, expected=expected, observed=value)
            return
        if spec.enum is not None and enum_key(value) not in spec.enum:
            message = f"{excerpt(value)} is not a documented value" + _assumed(spec, "enum")
            self.add(
                Kind.UNDOCUMENTED_ENUM_VALUE,
                place,
                message,
                expected=list(spec.enum),
                observed=value,
            )
        if expected == "string":
            self._string(value, spec, place, siblings)
        elif expected in ("integer", "number"):
            low, high = spec.minimum, spec.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                assumed = _assumed(spec, "bounds")
                range_is = "the range" if assumed else "the documented range"
                message = f"{value} is outside {range_is} {_range(low, high)}{assumed}"
                self.add(Kind.OUT_OF_RANGE, place, message, expected=[low, high], observed=value)
        elif expected == "object":
            self.object_fields(value, spec.fields or {}, place, open_object=spec.open)
        elif expected == "array":
            assert spec.items is not None
            for index, item in enumerate(value):
                self.value(item, spec.items, place.item(index), None)

    def _string(
        self, value: str, spec: FieldSpec, place: Place, siblings: dict[str, Any] | None
    ) -> None:
        if spec.format is not None and not FORMAT_CHECKS[spec.format](value):
            message = f"not a valid {spec.format}: expected {FORMATS[spec.format]}"
            self.add(Kind.FORMAT_VIOLATION, place, message, expected=spec.format, observed=value)
        if spec.pattern is not None and _pattern(spec.pattern).search(value) is None:
            message = f"does not match the documented pattern {spec.pattern}"
            self.add(Kind.FORMAT_VIOLATION, place, message, expected=spec.pattern, observed=value)
        if spec.json_payload is not None:
            self._payload(value, spec, spec.json_payload, place, siblings)

    def _payload(
        self,
        text: str,
        spec: FieldSpec,
        payload: Payload,
        place: Place,
        siblings: dict[str, Any] | None,
    ) -> None:
        if self.fast is not None and payload.discriminator is not None:
            chosen = (siblings or {}).get(payload.discriminator)
            if type(chosen) is str and self.fast.holds_payload(payload, chosen, text):
                self.clean.add(place.pointer)
                return
        try:
            # Strict: the consumer parses the payload on its own, and a strict parser refuses
            # it whole for a NaN anywhere in it, open objects included.
            decoded = loads_rfc8259(text)
        except (ValueError, RecursionError) as exc:
            self.add(
                Kind.INVALID_JSON_PAYLOAD,
                place,
                f"the string should carry JSON but does not parse: {exc}"
                + _assumed(spec, "payload"),
                key_path=(*place.key_path, "json"),
                expected="JSON text",
                observed=text,
            )
            return
        self.decoded[place.pointer] = decoded
        if payload.shape is not None:
            variant, shape, shape_key = (
                PLAIN_PAYLOAD,
                payload.shape,
                (*place.key_path, "json", "shape"),
            )
        else:
            assert payload.discriminator is not None
            assert payload.variants is not None
            chosen = (siblings or {}).get(payload.discriminator)
            variant = chosen if isinstance(chosen, str) else ""
            found = payload.variants.get(variant)
            if siblings is not None and payload.discriminator not in siblings:
                # Nothing chooses the shape, so nothing checks the payload; an unlisted value
                # is accepted where the contract says so, but no value is not one.
                self.add(
                    Kind.UNDOCUMENTED_VARIANT,
                    place,
                    f"no documented payload can be chosen: {payload.discriminator}, "
                    "which chooses it, is absent",
                    key_path=(*place.key_path, "json", "discriminator"),
                    expected=list(payload.variants),
                    observed=None,
                )
                return
            if found is None:
                if payload.unlisted_variants == "finding":
                    self.add(
                        Kind.UNDOCUMENTED_VARIANT,
                        place,
                        f"no documented payload for {payload.discriminator}={excerpt(chosen)}",
                        key_path=(*place.key_path, "json", "variants"),
                        expected=list(payload.variants),
                        observed=chosen,
                    )
                return
            shape, shape_key = found, (*place.key_path, "json", "variants", variant)
        self.value(decoded, shape, place.payload(variant, shape_key), None)


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _range(low: float | None, high: float | None) -> str:
    """A documented range as a reader writes it: [0, 100], >= 0, <= 1."""
    if low is None:
        return f"<= {high:g}"
    if high is None:
        return f">= {low:g}"
    return f"[{low:g}, {high:g}]"


def _assumed(spec: FieldSpec, aspect: str) -> str:
    """A note for a finding that rests on what the contract assumes rather than on a source."""
    if any(assumption.aspect == aspect for assumption in spec.assumptions):
        return " (the contract assumes this; no source states it: see the field's assumptions)"
    return ""
