"""The precise classifier: walk a parsed response beside its contract and name every divergence.

It never stops at the first finding. It descends only where the contract describes the data,
so its depth is bounded by the contract, not by the response.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from aliconform.contracts.model import Contract, FieldSpec, Payload
from aliconform.contracts.paths import PLAIN_PAYLOAD
from aliconform.drift.findings import Finding, Kind, excerpt, pointer_join
from aliconform.drift.formats import FORMAT_CHECKS
from aliconform.drift.policy import DEFAULT_SEVERITY

__all__ = ["JSON_TYPES", "Walker", "json_type"]

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


def _fits(expected: str, value: Any) -> bool:
    kind = type(value)
    if expected == "string":
        return kind is str
    if expected == "integer":
        return kind is int
    if expected == "number":
        return kind is int or kind is float
    if expected == "boolean":
        return kind is bool
    if expected == "object":
        return kind is dict
    return kind is list  # array


def _enum_key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Walker:
    """One check of one body: accumulates findings and the JSON payloads it decoded."""

    def __init__(
        self,
        contract: Contract,
        locate: Callable[[KeyPath], str] | None = None,
    ) -> None:
        self.contract = contract
        self.operation = contract.operation
        self.locate = locate or contract.location
        self.findings: list[Finding] = []
        self.decoded: dict[str, Any] = {}  # pointer of a JSON-string field -> its decoded value

    def add(
        self,
        kind: Kind,
        pointer: str,
        message: str,
        *,
        field: str | None = None,
        key_path: KeyPath | None = None,
        expected: Any = None,
        observed: Any = ...,
        decoded_at: tuple[str, ...] = (),
        rule: str | None = None,
        location: str | None = None,
    ) -> None:
        """Record a finding; its contract location is key_path's, unless given outright."""
        if location is None and key_path is not None:
            location = self.locate(key_path)
        self.findings.append(
            Finding(
                operation=self.operation,
                kind=kind,
                severity=DEFAULT_SEVERITY[kind],
                path=pointer,
                message=message,
                expected=expected,
                observed=None if observed is ... else excerpt(observed),
                field=field,
                contract_location=location,
                decoded_at=decoded_at,
                rule=rule,
            )
        )

    def object_fields(
        self,
        value: Any,
        fields: Mapping[str, FieldSpec],
        pointer: str,
        field: str,
        key_path: KeyPath,
        decoded_at: tuple[str, ...],
        *,
        open_object: bool = False,
    ) -> None:
        """Check an object's keys against documented fields (the response root included)."""
        fields_key = (*key_path, "fields")
        for key, item in value.items():
            child_path = f"{field}.{key}" if field else key
            child_pointer = pointer_join(pointer, key)
            child = fields.get(key)
            if child is None:
                if not open_object:
                    self.add(
                        Kind.UNDOCUMENTED_FIELD,
                        child_pointer,
                        f"'{key}' is not documented" + (f" in {field}" if field else ""),
                        field=child_path,
                        key_path=key_path,
                        expected=sorted(fields) or None,
                        observed=item,
                        decoded_at=decoded_at,
                    )
                continue
            self.value(
                item, child, child_pointer, child_path, (*fields_key, key), decoded_at, value
            )
        for key, child in fields.items():
            if child.required and key not in value:
                self.add(
                    Kind.MISSING_REQUIRED_FIELD,
                    pointer_join(pointer, key),
                    f"required field '{key}' is missing",
                    field=f"{field}.{key}" if field else key,
                    key_path=(*fields_key, key),
                    expected=child.type or child.ref,
                    decoded_at=decoded_at,
                )

    def value(
        self,
        value: Any,
        spec: FieldSpec,
        pointer: str,
        field: str,
        key_path: KeyPath,
        decoded_at: tuple[str, ...],
        siblings: dict[str, Any] | None,
    ) -> None:
        if spec.ref is not None:
            key_path = ("definitions", spec.ref)
            spec = self.contract.definitions[spec.ref]
        expected = spec.type
        assert expected is not None
        if value is None:
            if not spec.nullable:
                self.add(
                    Kind.UNEXPECTED_NULL,
                    pointer,
                    f"null where the documentation promises {expected}",
                    field=field,
                    key_path=key_path,
                    expected=expected,
                    observed=None,
                    decoded_at=decoded_at,
                )
            return
        if not _fits(expected, value):
            self.add(
                Kind.TYPE_MISMATCH,
                pointer,
                f"{json_type(value)} where the documentation says {expected}",
                field=field,
                key_path=key_path,
                expected=expected,
                observed=value,
                decoded_at=decoded_at,
            )
            return
        if spec.enum is not None and _enum_key(value) not in spec.enum:
            self.add(
                Kind.UNDOCUMENTED_ENUM_VALUE,
                pointer,
                f"{excerpt(value)} is not a documented value",
                field=field,
                key_path=key_path,
                expected=list(spec.enum),
                observed=value,
                decoded_at=decoded_at,
            )
        if expected == "string":
            self._string(value, spec, pointer, field, key_path, decoded_at, siblings)
        elif expected in ("integer", "number"):
            self._range(value, spec, pointer, field, key_path, decoded_at)
        elif expected == "object":
            self.object_fields(
                value,
                spec.fields or {},
                pointer,
                field,
                key_path,
                decoded_at,
                open_object=spec.open,
            )
        elif expected == "array":
            assert spec.items is not None
            items_key = (*key_path, "items")
            for index, item in enumerate(value):
                self.value(
                    item,
                    spec.items,
                    pointer_join(pointer, index),
                    f"{field}[]",
                    items_key,
                    decoded_at,
                    None,
                )

    def _range(
        self,
        value: float,
        spec: FieldSpec,
        pointer: str,
        field: str,
        key_path: KeyPath,
        decoded_at: tuple[str, ...],
    ) -> None:
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            self.add(
                Kind.OUT_OF_RANGE,
                pointer,
                f"{value} is outside the documented range",
                field=field,
                key_path=key_path,
                expected=[low, high],
                observed=value,
                decoded_at=decoded_at,
            )

    def _string(
        self,
        value: str,
        spec: FieldSpec,
        pointer: str,
        field: str,
        key_path: KeyPath,
        decoded_at: tuple[str, ...],
        siblings: dict[str, Any] | None,
    ) -> None:
        if spec.format is not None and not FORMAT_CHECKS[spec.format](value):
            self.add(
                Kind.FORMAT_VIOLATION,
                pointer,
                f"not a valid {spec.format}",
                field=field,
                key_path=key_path,
                expected=spec.format,
                observed=value,
                decoded_at=decoded_at,
            )
        if spec.pattern is not None and _pattern(spec.pattern).search(value) is None:
            self.add(
                Kind.FORMAT_VIOLATION,
                pointer,
                f"does not match the documented pattern {spec.pattern}",
                field=field,
                key_path=key_path,
                expected=spec.pattern,
                observed=value,
                decoded_at=decoded_at,
            )
        if spec.json_payload is not None:
            self._payload(value, spec.json_payload, pointer, field, key_path, decoded_at, siblings)

    def _payload(
        self,
        text: str,
        payload: Payload,
        pointer: str,
        field: str,
        key_path: KeyPath,
        decoded_at: tuple[str, ...],
        siblings: dict[str, Any] | None,
    ) -> None:
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError) as exc:
            self.add(
                Kind.INVALID_JSON_PAYLOAD,
                pointer,
                f"the string should carry JSON but does not parse: {exc}",
                field=field,
                key_path=(*key_path, "json"),
                expected="JSON text",
                observed=text,
                decoded_at=decoded_at,
            )
            return
        self.decoded[pointer] = decoded
        if payload.shape is not None:
            variant, shape, shape_key = PLAIN_PAYLOAD, payload.shape, (*key_path, "json", "shape")
        else:
            assert payload.discriminator is not None
            assert payload.variants is not None
            chosen = (siblings or {}).get(payload.discriminator)
            variant = chosen if isinstance(chosen, str) else ""
            found = payload.variants.get(variant)
            if found is None:
                if payload.unlisted_variants == "finding":
                    self.add(
                        Kind.UNDOCUMENTED_VARIANT,
                        pointer,
                        f"no documented payload for {payload.discriminator}={excerpt(chosen)}",
                        field=field,
                        key_path=(*key_path, "json", "variants"),
                        expected=list(payload.variants),
                        observed=chosen,
                        decoded_at=decoded_at,
                    )
                return
            shape, shape_key = found, (*key_path, "json", "variants", variant)
        self.value(
            decoded, shape, pointer, f"{field}({variant})", shape_key, (*decoded_at, pointer), None
        )


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
