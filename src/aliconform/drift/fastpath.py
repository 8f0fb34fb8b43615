"""The fast path: a contract compiled to a pydantic-core validator that parses and checks at once.

Most responses conform. For those, validating the bytes in pydantic-core (Rust) costs about as
much as parsing them, and JSON inside strings is decoded by the same validator. Anything it
rejects goes to the precise classifier (checker.Walker), which names every divergence; so the
fast path only ever answers "conforms", never a finding. Invariants run on its output.

The validator accepts exactly what the precise classifier accepts; the property tests hold the
two to that.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pydantic_core import SchemaValidator, core_schema

from aliconform.contracts.model import (
    ConditionalInvariant,
    Contract,
    CountInvariant,
    FieldSpec,
    Invariant,
    OrderInvariant,
    PrefixInvariant,
)
from aliconform.contracts.paths import index_fields
from aliconform.drift.formats import FORMAT_CHECKS
from aliconform.drift.invariants import order_key

__all__ = ["FastPath", "compile_fast_path"]

CoreSchema = core_schema.CoreSchema


class _Unsupported(Exception):
    """A contract construct the fast path does not compile; such contracts use the precise path."""


@dataclass(frozen=True)
class FastPath:
    validator: SchemaValidator
    invariants: frozenset[str]  # ids of the invariants the validator itself enforces


def compile_fast_path(contract: Contract) -> FastPath | None:
    """A validator for the contract's success response, or None if it cannot be compiled."""
    try:
        compiler = _Compiler(contract)
        root = compiler.object(dict(contract.response.fields), open_object=False)
        if compiler.checks.get(_ROOT):
            root = core_schema.no_info_after_validator_function(
                _checked(compiler.checks[_ROOT]), root
            )
        definitions = [compiler.definitions[name] for name in sorted(compiler.definitions)]
        schema = core_schema.definitions_schema(root, definitions) if definitions else root
        return FastPath(SchemaValidator(schema), compiler.enforced)
    except _Unsupported:
        return None


def _check(name: str, check: Callable[[str], bool]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        if not check(value):
            raise ValueError(f"not a valid {name}")
        return value

    return validate


_ROOT = 0  # key of the response root in the table of compiled invariants


def _names(invariant: Invariant) -> list[str]:
    """The keys of the scope object an invariant reads (its paths relative to the scope)."""
    match invariant:
        case OrderInvariant():
            return list(invariant.fields)
        case PrefixInvariant():
            return [invariant.field, invariant.prefix_field]
        case ConditionalInvariant():
            return [invariant.when.field, *invariant.present, *invariant.absent]
        case CountInvariant():
            return [invariant.array, invariant.at_most]
        case _:
            return []


def _invariant_checks(contract: Contract) -> dict[int, list[Invariant]]:
    """Invariants between keys of one object, keyed by the identity of that object's spec.

    Checked inside the validator, once per object, they cost a few lookups instead of a walk.
    Echo invariants need the request and stay in Python. An object spec shared by other paths
    gets the check there too: a rejection only sends the response to the precise path, which
    judges it exactly.
    """
    fields = index_fields(contract)
    checks: dict[int, list[Invariant]] = {}
    for invariant in contract.invariants:
        names = _names(invariant)
        if not names:
            continue
        scope = fields[invariant.scope].spec if invariant.scope else None
        keys = contract.response.fields if scope is None else scope.fields
        if (scope is None or scope.type == "object") and all(
            name in (keys or {}) for name in names
        ):
            checks.setdefault(_ROOT if scope is None else id(scope), []).append(invariant)
    return checks


def _number_order(first: str, second: str, rule: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The common case, start <= end between two numbers, without the generic machinery.

    It runs once per element of large arrays (every occurrence of every tag), so it is kept to
    two lookups and a comparison. Same judgement as _holds: non-numbers are not compared.
    """

    def check(value: dict[str, Any]) -> dict[str, Any]:
        low = value.get(first)
        high = value.get(second)
        if type(low) in _NUMBERS and type(high) in _NUMBERS and high < low:  # type: ignore[operator]
            raise ValueError(f"invariant {rule}")
        return value

    return check


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _holds(invariant: Invariant, value: dict[str, Any]) -> bool:
    """The same judgement as invariants.evaluate_invariants, on one object of plain data."""
    match invariant:
        case OrderInvariant():
            keys = [
                order_key(invariant.compare, value[name])
                for name in invariant.fields
                if name in value
            ]
            comparable = [key for key in keys if key is not None]
            return all(
                not (high < low or (invariant.strict and high == low))
                for low, high in itertools.pairwise(comparable)
            )
        case PrefixInvariant():
            field, prefix = value.get(invariant.field), value.get(invariant.prefix_field)
            if isinstance(field, str) and isinstance(prefix, str):
                return field.startswith(prefix + invariant.separator)
            return True
        case ConditionalInvariant():
            if (
                invariant.when.field not in value
                or value[invariant.when.field] not in invariant.when.values
            ):
                return True
            return all(not _absent(value.get(name)) for name in invariant.present) and all(
                _absent(value.get(name)) for name in invariant.absent
            )
        case CountInvariant():
            array, bound = value.get(invariant.array), value.get(invariant.at_most)
            return not (isinstance(array, list) and isinstance(bound, int) and len(array) > bound)
        case _:
            return True


_NUMBERS = (int, float)


def _checked(invariants: list[Invariant]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if len(invariants) == 1:
        only = invariants[0]
        if (
            isinstance(only, OrderInvariant)
            and only.compare == "number"
            and len(only.fields) == 2
            and not only.strict
        ):
            return _number_order(only.fields[0], only.fields[1], only.id)

    def check(value: dict[str, Any]) -> dict[str, Any]:
        for invariant in invariants:
            if not _holds(invariant, value):
                raise ValueError(f"invariant {invariant.id}")
        return value

    return check


class _Compiler:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.definitions: dict[str, CoreSchema] = {}
        self.checks = _invariant_checks(contract)
        self.enforced = frozenset(inv.id for invs in self.checks.values() for inv in invs)

    def field(self, spec: FieldSpec) -> CoreSchema:
        if spec.ref is not None:
            self._define(spec.ref)
            schema: CoreSchema = core_schema.definition_reference_schema(spec.ref)
        else:
            schema = self._typed(spec)
        return core_schema.nullable_schema(schema) if spec.nullable else schema

    def _define(self, name: str) -> None:
        if name in self.definitions:
            return
        self.definitions[name] = core_schema.any_schema()  # placeholder while recursing
        schema = self._typed(self.contract.definitions[name])
        self.definitions[name] = cast(CoreSchema, {**schema, "ref": name})

    def _typed(self, spec: FieldSpec) -> CoreSchema:
        kind = spec.type
        if kind == "string":
            return self._string(spec)
        if kind in ("integer", "number"):
            number: CoreSchema = (
                core_schema.int_schema(strict=True, ge=_int(spec.minimum), le=_int(spec.maximum))
                if kind == "integer"
                else core_schema.float_schema(
                    strict=True, ge=spec.minimum, le=spec.maximum, allow_inf_nan=False
                )
            )
            if spec.enum is not None:
                values = [int(k) if kind == "integer" else float(k) for k in spec.enum]
                number = core_schema.chain_schema([number, core_schema.literal_schema(values)])
            return number
        if kind == "boolean":
            return core_schema.bool_schema(strict=True)
        if kind == "array":
            assert spec.items is not None
            return core_schema.list_schema(self.field(spec.items), strict=True)
        schema = self.object(spec.fields or {}, open_object=spec.open)
        checks = self.checks.get(id(spec))
        if checks:
            schema = core_schema.no_info_after_validator_function(_checked(checks), schema)
        return schema

    def _string(self, spec: FieldSpec) -> CoreSchema:
        if spec.enum is not None:
            schema: CoreSchema = core_schema.literal_schema(list(spec.enum))
        else:
            schema = core_schema.str_schema(strict=True)
        if spec.format is not None:
            schema = core_schema.no_info_after_validator_function(
                _check(spec.format, FORMAT_CHECKS[spec.format]), schema
            )
        if spec.pattern is not None:
            pattern = re.compile(spec.pattern)
            schema = core_schema.no_info_after_validator_function(
                _check(spec.pattern, lambda text: pattern.search(text) is not None), schema
            )
        payload = spec.json_payload
        if payload is not None and payload.shape is not None:
            schema = core_schema.json_schema(self.field(payload.shape))
        elif payload is not None and payload.discriminator is not None:
            schema = core_schema.str_schema(strict=True)  # compiled by the enclosing object
        return schema

    def object(self, fields: dict[str, FieldSpec], *, open_object: bool) -> CoreSchema:
        chosen = [
            (name, spec)
            for name, spec in fields.items()
            if spec.json_payload is not None and spec.json_payload.discriminator is not None
        ]
        if not chosen:
            return self._typed_dict(fields, open_object)
        if (
            len(chosen) > 1
            or len({spec.json_payload.discriminator for _, spec in chosen if spec.json_payload}) > 1
        ):
            raise _Unsupported("several payloads chosen by siblings in one object")
        name, spec = chosen[0]
        payload = spec.json_payload
        assert payload is not None
        assert payload.discriminator is not None
        assert payload.variants is not None
        choices: dict[Any, CoreSchema] = {}
        for variant, shape in payload.variants.items():
            choices[variant] = self._with_payload(
                fields, open_object, name, spec, variant, self.field(shape)
            )
        # Any other discriminator value (or none): the payload must still be JSON, and is
        # accepted or refused as a whole according to the contract's unlisted_variants.
        other: CoreSchema = (
            core_schema.any_schema()
            if payload.unlisted_variants == "accept"
            else core_schema.no_info_plain_validator_function(_refuse)
        )
        choices[_OTHER] = self._with_payload(fields, open_object, name, spec, None, other)
        variants = set(payload.variants)
        discriminator = payload.discriminator

        def tag(value: Any) -> Any:
            chosen = value.get(discriminator) if isinstance(value, dict) else None
            return chosen if isinstance(chosen, str) and chosen in variants else _OTHER

        return core_schema.tagged_union_schema(choices, discriminator=tag)

    def _with_payload(
        self,
        fields: dict[str, FieldSpec],
        open_object: bool,
        name: str,
        spec: FieldSpec,
        variant: str | None,
        inner: CoreSchema,
    ) -> CoreSchema:
        """The object's schema with the payload field decoded as one variant's shape."""
        payload = spec.json_payload
        assert payload is not None
        assert payload.discriminator is not None
        variant_fields = dict(fields)
        if variant is not None:
            chooser = fields[payload.discriminator]
            variant_fields[payload.discriminator] = chooser.model_copy(
                update={"enum": {variant: None}}
            )
        schema = self._typed_dict(variant_fields, open_object)
        field_schema: CoreSchema = core_schema.json_schema(inner)
        if spec.nullable:
            field_schema = core_schema.nullable_schema(field_schema)
        schema["fields"][name] = core_schema.typed_dict_field(field_schema, required=spec.required)
        return schema

    def _typed_dict(self, fields: dict[str, FieldSpec], open_object: bool) -> CoreSchema:
        return core_schema.typed_dict_schema(
            {
                name: core_schema.typed_dict_field(self.field(spec), required=spec.required)
                for name, spec in fields.items()
            },
            extra_behavior="allow" if open_object else "forbid",
        )


_OTHER = "\x00other"  # the tag of discriminator values the contract lists no variant for


def _refuse(value: Any) -> Any:
    raise ValueError("no documented payload for this discriminator value")


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
