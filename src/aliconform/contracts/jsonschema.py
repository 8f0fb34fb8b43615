"""JSON Schema exports: of the contract format (for editors) and of an operation's response.

The response schema (Draft 2020-12) is for other tools. It carries what JSON Schema can say;
a string that carries JSON gets `contentMediaType` and `contentSchema`, and a payload chosen by
a sibling field becomes an `if`/`then` on the enclosing object. Cross-field invariants are not
expressible and are left to the drift engine.
"""

from __future__ import annotations

from typing import Any

from aliconform.contracts.formats import FORMAT_PATTERNS
from aliconform.contracts.model import Contract, ErrorCatalog, FieldSpec

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "catalog_format_schema",
    "contract_format_schema",
    "envelope_schema",
    "parameter_schema",
    "response_schema",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Formats JSON Schema defines; the contract's other formats travel as an annotation.
_STANDARD_FORMATS = {"date-time": "date-time", "url": "uri"}


def _portable(pattern: str) -> str:
    """A pattern of formats.FORMAT_PATTERNS (Python's re) as JSON Schema writes patterns
    (ECMA-262, which Python reads too). The start and end anchors are spelled for both
    (Python's `$` would also match before a final newline), and the one case-insensitive group
    by its letters. The two still differ where their classes do: `\\s` and `\\w` take in a few
    more characters in one than in the other (Unicode spaces, letters beyond ASCII)."""
    portable = (
        pattern.replace(r"\A", "^")
        .replace(r"\Z", r"(?![\s\S])")
        .replace("(?i:https?)", "[Hh][Tt][Tt][Pp][Ss]?")
    )
    if "(?i" in portable or "\\A" in portable or "\\Z" in portable:  # a new construct
        raise AssertionError(f"no portable form for the format pattern {pattern!r}")
    return portable


# Every format the engine decides by a pattern carries that pattern, so that a validator of
# the export (schemathesis's response check, another team's tool) sees the format drift the
# engine reports. (`\w` in a media id is Unicode in Python, ASCII in JavaScript.)
_FORMAT_PATTERNS = {name: _portable(pattern) for name, pattern in FORMAT_PATTERNS.items()}


def contract_format_schema() -> dict[str, Any]:
    """JSON Schema of a contract file (contracts/schema.json)."""
    schema = Contract.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "aliconform operation contract", **schema}


def catalog_format_schema() -> dict[str, Any]:
    """JSON Schema of the shared error catalog (contracts/errors.schema.json)."""
    schema = ErrorCatalog.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "title": "aliconform error catalog", **schema}


def response_schema(contract: Contract, *, closed: bool = False) -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of the operation's success response.

    closed=True forbids undocumented keys (additionalProperties: false) except in objects the
    contract marks open; the default leaves objects open, as most consumers tolerate additions.
    """
    builder = _Builder(contract, closed)
    root = builder.object_schema(contract.response.fields, open_object=False)
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:aliconform:{contract.product}:{contract.api_version}:{contract.operation}",
        "title": f"{contract.operation} success response",
        "description": contract.response.description or contract.summary,
        **root,
    }
    if builder.defs:
        schema["$defs"] = builder.defs
    return schema


def envelope_schema(contract: Contract) -> dict[str, Any]:
    """Draft 2020-12 JSON Schema of the operation's error envelope (the body of any 4xx/5xx)."""
    builder = _Builder(contract, closed=False)
    return builder.object_schema(contract.envelope().fields, open_object=True)


def parameter_schema(contract: Contract, name: str) -> dict[str, Any]:
    """JSON Schema of one request parameter's value (its description and example left out)."""
    spec = contract.request.parameters[name]
    schema = _Builder(contract, closed=False).field(spec)
    schema.pop("description", None)
    schema.pop("examples", None)
    return schema


class _Builder:
    def __init__(self, contract: Contract, closed: bool) -> None:
        self.contract = contract
        self.closed = closed
        self.defs: dict[str, Any] = {}

    def field(self, spec: FieldSpec) -> dict[str, Any]:
        if spec.ref is not None:
            self._define(spec.ref)
            ref: dict[str, Any] = {"$ref": f"#/$defs/{spec.ref}"}
            if spec.description:
                ref["description"] = spec.description
            return ref
        assert spec.type is not None  # the model guarantees type or ref
        schema: dict[str, Any] = {"type": [spec.type, "null"] if spec.nullable else spec.type}
        if spec.description:
            schema["description"] = spec.description
        if spec.enum is not None:
            schema["enum"] = [_enum_value(spec.type, key) for key in spec.enum]
            if spec.nullable:
                schema["enum"].append(None)
        if spec.format is not None:
            schema["format"] = _STANDARD_FORMATS.get(spec.format, spec.format)
            shape = _FORMAT_PATTERNS.get(spec.format)
            if shape is not None and spec.pattern is None:
                schema["pattern"] = shape
            elif shape is not None:  # its own pattern narrows it; one keyword, one pattern
                schema.setdefault("allOf", []).append({"pattern": shape})
        if spec.pattern is not None:
            schema["pattern"] = spec.pattern
        if spec.minimum is not None:
            schema["minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
        if spec.example is not None:
            schema["examples"] = [spec.example]
        if spec.type == "object":
            schema.update(self.object_schema(spec.fields or {}, open_object=spec.open))
        if spec.items is not None:
            schema["items"] = self.field(spec.items)
        payload = spec.json_payload
        if payload is not None:
            schema["contentMediaType"] = "application/json"
            if payload.shape is not None:
                schema["contentSchema"] = self.field(payload.shape)
        return schema

    def object_schema(self, fields: dict[str, FieldSpec], *, open_object: bool) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: self.field(spec) for name, spec in fields.items()},
        }
        required = [name for name, spec in fields.items() if spec.required]
        if required:
            schema["required"] = required
        if self.closed and not open_object:
            schema["additionalProperties"] = False
        conditions = [
            self._variant_condition(name, spec, fields)
            for name, spec in fields.items()
            if _chosen(spec)
        ]
        if conditions:
            schema["allOf"] = [c for group in conditions for c in group]
        return schema

    def _variant_condition(
        self, name: str, spec: FieldSpec, siblings: dict[str, FieldSpec]
    ) -> list[dict[str, Any]]:
        payload = spec.json_payload
        assert payload is not None
        assert payload.discriminator
        assert payload.variants
        # A variant no discriminator value selects (documented without the value that picks it)
        # would be an `if` that never holds.
        selectable = payload.selectable(siblings.get(payload.discriminator))
        return [
            {
                "if": {
                    "properties": {payload.discriminator: {"const": variant}},
                    "required": [payload.discriminator],
                },
                "then": {"properties": {name: {"contentSchema": self.field(variant_spec)}}},
            }
            for variant, variant_spec in payload.variants.items()
            if variant in selectable
        ]

    def _define(self, name: str) -> None:
        if name in self.defs:
            return
        self.defs[name] = {}  # placeholder first: recursive definitions refer to themselves
        self.defs[name] = self.field(self.contract.definitions[name])


def _chosen(spec: FieldSpec) -> bool:
    return spec.json_payload is not None and spec.json_payload.discriminator is not None


def _enum_value(field_type: str, key: str) -> Any:
    if field_type == "integer":
        return int(key)
    if field_type == "number":
        return float(key)
    if field_type == "boolean":
        return key == "true"
    return key
