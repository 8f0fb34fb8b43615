"""Field paths: the flat view of a contract's response tree.

A field path puts dots between object keys and `[]` after an array, so
`ModerationResult.Frames.BlockFrames[].Rate`. Inside a string that carries JSON, the path goes on
after the string field with the payload's variant in parentheses, `(json)` for a payload of one
fixed shape: `Results.Result[].Data(VideoLabel).persons[].name`, `UserData(json)`.

References to `definitions` are followed; a recursive shape (a mind-map topic that holds topics)
is listed once and marked recursive instead of being expanded forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from aliconform.contracts.model import Contract, FieldSpec, Source
from aliconform.contracts.yamlsource import KeyPath

__all__ = ["PLAIN_PAYLOAD", "FieldEntry", "index_fields", "iter_fields", "join_path"]

#: The variant name used in paths for a JSON payload with one fixed shape.
PLAIN_PAYLOAD = "json"


@dataclass(frozen=True, slots=True)
class Key:
    """Step into an object's key."""

    name: str


@dataclass(frozen=True, slots=True)
class Items:
    """Step into every element of an array."""


@dataclass(frozen=True, slots=True)
class PayloadStep:
    """Step into the JSON carried by a string: one fixed shape, or the variant a sibling picks."""

    variant: str  # PLAIN_PAYLOAD for a fixed shape
    discriminator: str | None  # sibling key whose value must equal variant


Step = Key | Items | PayloadStep


@dataclass(frozen=True, slots=True)
class FieldEntry:
    """One field of the response tree, with everything a listing or a check needs."""

    path: str
    spec: FieldSpec  # with references followed
    key_path: KeyPath  # where the field's definition stands in the contract file
    sources: tuple[Source, ...]  # declared, or inherited from the nearest enclosing field
    in_payload: bool  # inside a JSON document carried by a string
    steps: tuple[Step, ...] = ()  # how to reach the field from the response root
    ref: str | None = None  # the definition it was reached through
    recursive: bool = False  # a definition already being expanded: not expanded again

    @property
    def source(self) -> Source:
        return self.sources[0]


def join_path(scope: str, relative: str) -> str:
    """`persons[]` + `from` -> `persons[].from`; the root scope is the empty string."""
    if not scope:
        return relative
    if not relative:
        return scope
    return f"{scope}.{relative}"


def iter_fields(contract: Contract) -> Iterator[FieldEntry]:
    """Every field of the success response, depth first, in contract order."""
    for name, spec in contract.response.fields.items():
        yield from _walk(
            contract, name, spec, ("response", "fields", name), (), False, (), (Key(name),)
        )


def index_fields(contract: Contract) -> Mapping[str, FieldEntry]:
    """Field path -> entry, for resolving the paths that invariants and findings name."""
    return {entry.path: entry for entry in iter_fields(contract)}


def _walk(
    contract: Contract,
    path: str,
    spec: FieldSpec,
    key_path: KeyPath,
    inherited: tuple[Source, ...],
    in_payload: bool,
    expanding: tuple[str, ...],
    steps: tuple[Step, ...],
) -> Iterator[FieldEntry]:
    sources = tuple(spec.sources) if spec.sources else inherited
    ref = spec.ref
    if ref is not None:
        if ref not in contract.definitions:
            return  # reported by the loader's reference check
        target = contract.definitions[ref]
        if ref in expanding:
            yield FieldEntry(
                path, target, ("definitions", ref), sources, in_payload, steps, ref, True
            )
            return
        expanding = (*expanding, ref)
        key_path = ("definitions", ref)
        spec = target
        sources = tuple(spec.sources) if spec.sources else sources
    yield FieldEntry(path, spec, key_path, sources, in_payload, steps, ref)

    for child, child_spec in (spec.fields or {}).items():
        yield from _walk(
            contract,
            f"{path}.{child}",
            child_spec,
            (*key_path, "fields", child),
            sources,
            in_payload,
            expanding,
            (*steps, Key(child)),
        )
    if spec.items is not None:
        yield from _walk(
            contract,
            f"{path}[]",
            spec.items,
            (*key_path, "items"),
            sources,
            in_payload,
            expanding,
            (*steps, Items()),
        )
    payload = spec.json_payload
    if payload is None:
        return
    if payload.shape is not None:
        yield from _walk(
            contract,
            f"{path}({PLAIN_PAYLOAD})",
            payload.shape,
            (*key_path, "json", "shape"),
            sources,
            True,
            expanding,
            (*steps, PayloadStep(PLAIN_PAYLOAD, None)),
        )
    for variant, variant_spec in (payload.variants or {}).items():
        yield from _walk(
            contract,
            f"{path}({variant})",
            variant_spec,
            (*key_path, "json", "variants", variant),
            sources,
            True,
            expanding,
            (*steps, PayloadStep(variant, payload.discriminator)),
        )
