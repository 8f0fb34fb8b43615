"""The flat, machine-readable listing of a contract's fields (`contracts fields --json`)."""

from __future__ import annotations

from typing import Any

from aliconform.contracts.model import Contract, EnumValue
from aliconform.contracts.paths import FieldEntry, iter_fields

__all__ = ["field_row", "field_rows"]


def field_rows(contract: Contract) -> list[dict[str, Any]]:
    """One JSON-ready object per response field, in contract order."""
    return [field_row(contract, entry) for entry in iter_fields(contract)]


def field_row(contract: Contract, entry: FieldEntry) -> dict[str, Any]:
    spec = entry.spec
    row: dict[str, Any] = {
        "path": entry.path,
        "type": spec.type,
        "required": spec.required,
        "nullable": spec.nullable,
        "enum": spec.enum_values(),
        "format": spec.format,
        "source": entry.source.value,
        "sources": [source.value for source in entry.sources],
        "json_payload": spec.json_payload is not None,
        "in_payload": entry.in_payload,
        "divergences": len(spec.divergences),
        "contract": contract.location(entry.key_path),
    }
    if spec.enum:
        own = {
            value: [s.value for s in meaning.sources]
            for value, meaning in spec.enum.items()
            if isinstance(meaning, EnumValue) and meaning.sources
        }
        if own:
            row["enum_sources"] = own
    if entry.ref:
        row["ref"] = entry.ref
    if entry.recursive:
        row["recursive"] = True
    return row
