"""Cross-check a contract against the official SDK's models, its second source.

The SDK models (alibabacloud-imm20200930, alibabacloud-ice20201109) are generated classes whose
constructor annotations give each attribute's type and whose to_map() gives its wire name. This
module walks them into field paths in the contract's own notation and reports every field the
SDK knows that the contract lacks or types incompatibly, unless the contract records why, and
every field the contract attributes to the SDK that the SDK does not have.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aliconform.contracts.model import Contract, FieldSpec, Source
from aliconform.contracts.paths import index_fields
from aliconform.errors import AliconformError, SdkUnavailableError

__all__ = ["SdkField", "SdkMismatch", "SdkUnavailableError", "compare_with_sdk", "walk_sdk_model"]

_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True, slots=True)
class SdkField:
    path: str  # in contract notation: ModerationResult.Frames.BlockFrames[].Rate
    type: str  # in contract vocabulary: string, integer, number, boolean, object, array
    model: str  # the SDK class that declares it
    attribute: str  # the Python attribute name


@dataclass(frozen=True, slots=True)
class SdkMismatch:
    kind: Literal["missing-in-contract", "type-mismatch", "not-in-sdk", "sdk-source-missing"]
    path: str
    message: str
    contract_location: str | None = None


def walk_sdk_model(model: type) -> list[SdkField]:
    """Every field of an SDK model class, nested models and lists included."""
    return list(_walk(model, "", set()))


def _walk(model: type, prefix: str, seen: set[type]) -> Iterator[SdkField]:
    if model in seen:
        return
    seen = seen | {model}
    hints = typing.get_type_hints(model.__init__)  # type: ignore[misc]
    for attribute, annotation in hints.items():
        if attribute == "return":
            continue
        wire = _wire_name(model, attribute, annotation)
        path = f"{prefix}.{wire}" if prefix else wire
        yield from _walk_annotation(model, attribute, annotation, path, seen)


def _walk_annotation(
    model: type, attribute: str, annotation: Any, path: str, seen: set[type]
) -> Iterator[SdkField]:
    origin = typing.get_origin(annotation)
    if origin in (list, typing.List):  # noqa: UP006 - the SDK annotates with typing.List
        yield SdkField(path, "array", model.__name__, attribute)
        (item,) = typing.get_args(annotation) or (Any,)
        yield from _walk_annotation(model, attribute, item, f"{path}[]", seen)
    elif origin in (dict, typing.Dict):  # noqa: UP006
        yield SdkField(path, "object", model.__name__, attribute)
    elif annotation in _SCALARS:
        yield SdkField(path, _SCALARS[annotation], model.__name__, attribute)
    elif isinstance(annotation, type) and hasattr(annotation, "to_map"):
        yield SdkField(path, "object", model.__name__, attribute)
        yield from _walk(annotation, path, seen)
    else:
        yield SdkField(path, "any", model.__name__, attribute)


def _wire_name(model: type, attribute: str, annotation: Any) -> str:
    """The JSON key of an attribute: the key whose value changes when only it is set."""
    base = model().to_map()
    probe = model(**{attribute: _sample(annotation)}).to_map()
    changed = [key for key in probe if probe.get(key) != base.get(key)]
    if len(changed) != 1:
        raise AliconformError(f"cannot tell the wire name of {model.__name__}.{attribute}")
    return str(changed[0])


def _sample(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (list, typing.List):  # noqa: UP006
        (item,) = typing.get_args(annotation) or (str,)
        return [_sample(item)]
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"probe": "probe"}
    if annotation in _SCALARS:
        return _SCALARS_SAMPLE[annotation]
    if isinstance(annotation, type):
        return annotation()
    return "probe"


_SCALARS_SAMPLE: dict[type, Any] = {str: "probe", int: 7, float: 0.5, bool: True}


def sdk_model(contract: Contract, which: Literal["request", "response"]) -> type:
    ref = contract.sources.sdk
    try:
        module = importlib.import_module(ref.module)
    except ImportError as exc:
        raise SdkUnavailableError(
            f"{contract.operation}: SDK package {ref.package} is not installed ({exc}); "
            f"install it with: pip install {ref.package}=={ref.version}"
        ) from None
    name = ref.request_model if which == "request" else ref.response_model
    try:
        model: type = getattr(module, name)
    except AttributeError:
        raise AliconformError(
            f"{contract.path}: sources.sdk names {name}, which {ref.module} does not define"
        ) from None
    return model


def compare_with_sdk(contract: Contract) -> list[SdkMismatch]:
    """Every disagreement between the contract and its SDK models (request and response)."""
    mismatches = _compare(
        contract,
        walk_sdk_model(sdk_model(contract, "response")),
        {
            path: (e.spec, e.sources, e.key_path, e.in_payload)
            for path, e in index_fields(contract).items()
        },
    )
    parameters = {
        name: (spec, tuple(spec.sources or ()), ("request", "parameters", name), False)
        for name, spec in contract.request.parameters.items()
    }
    mismatches += _compare(
        contract, walk_sdk_model(sdk_model(contract, "request")), parameters, "request parameter "
    )
    return mismatches


def _compare(
    contract: Contract,
    sdk_fields: list[SdkField],
    known: Mapping[str, tuple[FieldSpec, tuple[Source, ...], tuple[str | int, ...], bool]],
    noun: str = "",
) -> list[SdkMismatch]:
    omitted = {item.path for item in contract.omitted_sdk_fields}
    found: list[SdkMismatch] = []
    sdk_paths = set()
    for field in sdk_fields:
        sdk_paths.add(field.path)
        where = f"{field.model}.{field.attribute}"
        entry = known.get(field.path)
        if entry is None:
            if field.path not in omitted:
                found.append(
                    SdkMismatch(
                        "missing-in-contract",
                        field.path,
                        f"the SDK's {where} ({field.type}) has no {noun}field '{field.path}' in the contract",
                    )
                )
            continue
        spec, sources, key_path, _ = entry
        location = contract.location(key_path)
        if not _compatible(spec.type, field.type) and not _records_sdk_divergence(spec, "type"):
            found.append(
                SdkMismatch(
                    "type-mismatch",
                    field.path,
                    f"the contract says {spec.type}, the SDK's {where} says {field.type}, and the "
                    "contract records no divergence for it",
                    location,
                )
            )
        if Source.SDK not in sources:
            found.append(
                SdkMismatch(
                    "sdk-source-missing",
                    field.path,
                    f"the SDK's {where} declares the field, but the contract does not list sdk "
                    "among its sources",
                    location,
                )
            )
    for path, (_, sources, key_path, in_payload) in known.items():
        if Source.SDK in sources and not in_payload and path not in sdk_paths:
            found.append(
                SdkMismatch(
                    "not-in-sdk",
                    path,
                    f"the contract lists sdk as a source of {noun}'{path}', but the SDK model has no such field",
                    contract.location(key_path),
                )
            )
    return found


def _compatible(contract_type: str | None, sdk_type: str) -> bool:
    if sdk_type == "any" or contract_type == sdk_type:
        return True
    # An integer always fits the SDK's float; the reverse would lose a fraction.
    return contract_type == "integer" and sdk_type == "number"


def _records_sdk_divergence(spec: FieldSpec, aspect: str) -> bool:
    return any(
        divergence.aspect == aspect
        and any(claim.source is Source.SDK for claim in divergence.claims)
        for divergence in spec.divergences
    )
