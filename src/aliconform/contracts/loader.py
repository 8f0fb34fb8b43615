"""Loading contracts: YAML with positions -> pydantic models -> cross-reference checks.

Every way a contract can be wrong ends as a ContractIssue naming file:line:column and the key
path; nothing here lets a traceback reach the user. Loading collects the issues of every file
before raising, so one run shows all of them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from aliconform.contracts.model import (
    ConditionalInvariant,
    Contract,
    ErrorCatalog,
    FieldSpec,
    Invariant,
    Payload,
    Product,
)
from aliconform.contracts.paths import index_fields, join_path
from aliconform.contracts.yamlsource import KeyPath, YamlDocument, read_yaml
from aliconform.errors import ContractError, ContractIssue, UnknownOperationError, did_you_mean

__all__ = [
    "CATALOG_FILE",
    "ContractSet",
    "contracts_directory_problem",
    "default_contracts_dir",
    "documentation_page",
    "load_catalog",
    "load_contract",
    "load_contracts",
    "validate_document",
]

CATALOG_FILE = Path("common") / "errors.yaml"
ENV_CONTRACTS = "ALICONFORM_CONTRACTS"
M = TypeVar("M", bound=BaseModel)


class ContractSet(Mapping[str, Contract]):
    """The loaded contracts, addressable by operation name, plus the shared error catalog."""

    def __init__(self, root: Path, contracts: Mapping[str, Contract], catalog: ErrorCatalog):
        self.root = root
        self.catalog = catalog
        self._contracts = dict(sorted(contracts.items()))

    def __getitem__(self, operation: str) -> Contract:
        try:
            return self._contracts[operation]
        except KeyError:
            raise UnknownOperationError(operation, self._contracts) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._contracts)

    def __len__(self) -> int:
        return len(self._contracts)

    def __repr__(self) -> str:
        return f"ContractSet({str(self.root)!r}, {list(self._contracts)})"


#: Where an installed package keeps its copy of the contracts (the wheel's force-include).
PACKAGED_CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "_contracts"


PRODUCTS: tuple[str, ...] = get_args(Product)


def default_contracts_dir(base: Path | None = None) -> Path:
    """Where contracts are read from when no directory is given.

    In order: $ALICONFORM_CONTRACTS; contracts/ in base (default: the working directory; the
    pytest plugin gives its rootdir) when it holds contracts (a checkout, or a project that keeps
    its own: a contract catalog or a product directory, so that one missing its catalog is
    reported rather than passed over); the copy inside the installed package; the source tree.
    """
    env = os.environ.get(ENV_CONTRACTS)
    if env:
        return Path(env)
    own = (base if base is not None else Path.cwd()) / "contracts"
    if (own / CATALOG_FILE).is_file() or any((own / product).is_dir() for product in PRODUCTS):
        return own
    for candidate in (PACKAGED_CONTRACTS_DIR, Path(__file__).resolve().parents[3] / "contracts"):
        if (candidate / CATALOG_FILE).is_file():
            return candidate
    return own


def contracts_directory_problem(root: Path) -> str | None:
    """Why root cannot be a contracts directory at all (a usage error, not a contract's
    problem), or None."""
    if not root.exists():
        return "no such contracts directory"
    if not root.is_dir():
        return "not a directory (a contracts directory holds <product>/<Operation>.yaml files)"
    if not any(root.rglob("*.yaml")):
        return NOT_A_CONTRACTS_DIRECTORY
    if not (root / CATALOG_FILE).is_file():
        return (
            f"not a contracts directory: there is no {CATALOG_FILE.as_posix()} (the shared error "
            "catalog a contracts directory holds beside its <product>/<Operation>.yaml files)"
        )
    if not any(_operation_files(root)) and not any(root.rglob("*.yml")):
        # A *.yml stray is left to load_contracts, which names it with how to fix it.
        return (
            f"no contracts here: there is a {CATALOG_FILE.as_posix()} but no "
            "<product>/<Operation>.yaml file beside it"
        )
    return None


def _operation_files(root: Path) -> list[Path]:
    """The contract files under root: every *.yaml outside the shared common/ directory."""
    return sorted(
        path
        for path in root.rglob("*.yaml")
        if path.relative_to(root).parts[0] != CATALOG_FILE.parts[0]
    )


#: The documentation pages the contracts cite, inside the installed package.
PACKAGED_SOURCES_DIR = Path(__file__).resolve().parents[1] / "_sources"


def documentation_page(contract: Contract) -> Path | None:
    """The copy of the page a contract cites: docs/sources/ beside its contracts directory (a
    checkout), else the copy inside the installed package; None when neither has it."""
    name = contract.sources.documentation.file
    beside = Path(contract.path).resolve().parents[2] / "docs" / "sources" / name
    for candidate in (beside, PACKAGED_SOURCES_DIR / name):
        if candidate.is_file():
            return candidate
    return None


NOT_A_CONTRACTS_DIRECTORY = (
    "no contracts here: a contracts directory holds <product>/<Operation>.yaml files and "
    "common/errors.yaml"
)


def load_contracts(path: str | os.PathLike[str] | None = None) -> ContractSet:
    """Load and check every contract under a directory (default: see default_contracts_dir).

    Raises ContractError listing every issue of every file when anything is wrong.
    """
    root = Path(path) if path is not None else default_contracts_dir()
    problem = contracts_directory_problem(root)
    if problem is not None:
        raise ContractError([ContractIssue(str(root), None, None, "", problem)])
    catalog_or_issues = load_catalog(root / CATALOG_FILE)
    if not isinstance(catalog_or_issues, ErrorCatalog):
        raise ContractError(catalog_or_issues)
    catalog = catalog_or_issues

    issues: list[ContractIssue] = []
    contracts: dict[str, Contract] = {}
    files = _operation_files(root)
    for file in files:
        loaded = load_contract(file, catalog)
        if isinstance(loaded, Contract):
            if loaded.operation in contracts:
                line, column = loaded._positions.get(("operation",), (1, 1))
                first = contracts[loaded.operation].path
                message = f"operation '{loaded.operation}' is also declared by {first}"
                issues.append(ContractIssue(loaded.path, line, column, "operation", message))
            contracts[loaded.operation] = loaded
        else:
            issues.extend(loaded)
    for stray in sorted(root.rglob("*.yml")):
        # Read nowhere else: without this the contract would silently not be checked.
        issues.append(
            ContractIssue(str(stray), None, None, "", "contracts are *.yaml files: rename it")
        )
    if not files:
        issues.append(ContractIssue(str(root), None, None, "", "no contract files (*.yaml) found"))
    if issues:
        raise ContractError(issues)
    return ContractSet(root, contracts, catalog)


def load_catalog(path: Path) -> ErrorCatalog | list[ContractIssue]:
    """Load the shared error catalog (envelopes and error-code groups)."""
    document = read_yaml(path)
    if isinstance(document, ContractIssue):
        return [document]
    catalog = validate_document(ErrorCatalog, document)
    if isinstance(catalog, list):
        return catalog
    catalog._path = document.path
    catalog._positions = document.positions
    issues = []
    for name, envelope in catalog.envelopes.items():
        issues += _check_field_tree(envelope.fields, ("envelopes", name, "fields"), {}, document)
    return issues or catalog


def load_contract(path: Path, catalog: ErrorCatalog) -> Contract | list[ContractIssue]:
    """Load one contract file; returns the contract or every issue found in it."""
    document = read_yaml(path)
    if isinstance(document, ContractIssue):
        return [document]
    contract = validate_document(Contract, document)
    if isinstance(contract, list):
        return contract
    contract._path = document.path
    contract._positions = document.positions
    contract._catalog = catalog
    issues = _check_references(contract, catalog, document, path)
    return issues or contract


# --- pydantic errors -> issues ------------------------------------------------------------


def validate_document(model: type[M], document: YamlDocument) -> M | list[ContractIssue]:
    """Validate YAML data with a pydantic model; issues carry file:line:column and key path."""
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        return _issues_from_validation(exc, document, model)


def _issues_from_validation(
    exc: ValidationError, document: YamlDocument, model: type[BaseModel]
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    seen: set[KeyPath] = set()
    for error in exc.errors():
        key_path = _data_key_path(document.data, error["loc"], error["type"] == "missing")
        # A value that fits no member of a union yields one error per member; one is enough.
        if key_path in seen:
            continue
        seen.add(key_path)
        keys = _keys_at(model, error["loc"][:-1]) if error["type"] == "extra_forbidden" else []
        issues.append(document.issue(key_path, _message(error, key_path, keys)))
    return issues


def _data_key_path(data: Any, loc: tuple[str | int, ...], missing: bool) -> KeyPath:
    """Keep the parts of a pydantic location that are keys of the data (drops union tags)."""
    key_path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        child = _child(node, part)
        if child is not _ABSENT:
            node = child
            key_path.append(part)
        elif last and missing and isinstance(part, str):
            key_path.append(part)
    return tuple(key_path)


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


_QUOTED = re.compile(r"'([^']*)'")


def _message(error: ErrorDetails, key_path: KeyPath, keys: list[str]) -> str:
    """keys: the keys valid where an unknown key stands, for 'did you mean'."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx", {})
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        choices = _QUOTED.findall(expected) or [expected]  # unquoted: a number literal
        return f"{value!r} is not one of {', '.join(choices)}{did_you_mean(str(value), choices)}"
    if kind == "union_tag_invalid":
        choices = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        tag = ctx.get("tag")
        return f"{tag!r} is not one of {', '.join(choices)}{did_you_mean(str(tag), choices)}"
    if kind == "union_tag_not_found":
        return f"missing key '{ctx.get('discriminator', 'kind').strip(chr(39))}'"
    if kind == "extra_forbidden":
        key = str(key_path[-1]) if key_path else "?"
        return f"unknown key '{key}'{did_you_mean(key, [k for k in keys if k != key])}"
    if kind == "missing":
        return f"missing required key '{key_path[-1] if key_path else '?'}'"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match the pattern {ctx.get('pattern')}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        return f"{value!r} is {'below the minimum' if kind == 'greater_than_equal' else 'above the maximum'} {bound}"
    if kind in ("dict_type", "model_type"):
        return f"expected a mapping (key: value), got {_short(value)}"
    if kind == "list_type":
        return f"expected a list, got {_short(value)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message}, got {_short(value)}"
    return message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_keys(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Every key of a model and of the models nested in it."""
    if model in seen:
        return set()
    seen.add(model)
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        keys.add(info.alias or name)
        for arg in _nested_models(info.annotation):
            keys |= _model_keys(arg, seen)
    return keys


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _nested_models(arg)
    for arg in getattr(annotation, "__metadata__", ()) or ():
        yield from _nested_models(arg)


@functools.cache
def _known_keys(model: type[BaseModel]) -> list[str]:
    return sorted(_model_keys(model, set()))


def _keys_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys of the model at a pydantic location (a misspelt key's parent), or, where the
    location cannot be followed, every key the format knows."""
    here: Any = model
    for part in loc:
        here = _step(here, part)
        if here is None:
            return _known_keys(model)
    models = list(_nested_models(here))
    if len(models) != 1:
        return _known_keys(model)
    return sorted(info.alias or name for name, info in models[0].model_fields.items())


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one location part further in, or None."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _step(args[0], part)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    if origin is dict and isinstance(part, str):
        return args[1]
    if origin in (list, tuple) and isinstance(part, int):
        return args[0]
    if args:  # a union: the member pydantic names in the location, else the only model
        members = [m for m in args if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in members if m.__name__ == part]
        if tagged:
            return tagged[0]
        if len(members) == 1:
            return _step(members[0], part)
    return None


# --- cross-reference checks -----------------------------------------------------------------


def _check_references(
    contract: Contract, catalog: ErrorCatalog, document: YamlDocument, path: Path
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    if path.stem != contract.operation:
        issues.append(
            document.issue(
                ("operation",),
                f"operation '{contract.operation}' does not match the file name '{path.name}'",
            )
        )
    definitions = contract.definitions
    issues += _check_field_tree(
        contract.response.fields, ("response", "fields"), definitions, document
    )
    issues += _check_field_tree(
        dict(contract.request.parameters), ("request", "parameters"), definitions, document
    )
    for name, spec in definitions.items():
        issues += _check_field(spec, ("definitions", name), definitions, document, {})
    if not issues:  # paths only resolve once every reference does
        issues += _check_invariants(contract, document)
    issues += _check_errors(contract, catalog, document)
    issues += _check_unique(
        [example.name for example in contract.examples], "examples", "name", document
    )
    if not issues:
        fields = index_fields(contract)
        for index, example in enumerate(contract.examples):
            if example.of is not None and example.of not in fields:
                issues.append(
                    _unknown_path(document, ("examples", index, "of"), example.of, fields)
                )
    return issues


def _check_field_tree(
    fields: Mapping[str, FieldSpec],
    key_path: KeyPath,
    definitions: Mapping[str, FieldSpec],
    document: YamlDocument,
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    for name, spec in fields.items():
        issues += _check_field(spec, (*key_path, name), definitions, document, fields)
    return issues


def _check_field(
    spec: FieldSpec,
    key_path: KeyPath,
    definitions: Mapping[str, FieldSpec],
    document: YamlDocument,
    siblings: Mapping[str, FieldSpec],
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    if spec.ref is not None and spec.ref not in definitions:
        known = list(definitions)
        issues.append(
            document.issue(
                (*key_path, "ref"),
                f"reference to undefined definition '{spec.ref}'{did_you_mean(spec.ref, known)}"
                + (
                    f"; defined: {', '.join(known)}"
                    if known
                    else "; the contract has no definitions"
                ),
            )
        )
    if spec.pattern is not None:
        try:
            re.compile(spec.pattern)
        except re.error as exc:
            issues.append(
                document.issue((*key_path, "pattern"), f"invalid regular expression: {exc}")
            )
    if spec.fields:
        issues += _check_field_tree(spec.fields, (*key_path, "fields"), definitions, document)
    if spec.items is not None:
        issues += _check_field(spec.items, (*key_path, "items"), definitions, document, {})
    if spec.json_payload is not None:
        issues += _check_payload(
            spec.json_payload, (*key_path, "json"), definitions, document, siblings
        )
    return issues


def _check_payload(
    payload: Payload,
    key_path: KeyPath,
    definitions: Mapping[str, FieldSpec],
    document: YamlDocument,
    siblings: Mapping[str, FieldSpec],
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    if payload.discriminator is not None:
        chooser = siblings.get(payload.discriminator)
        if chooser is None:
            issues.append(
                document.issue(
                    (*key_path, "discriminator"),
                    f"discriminator '{payload.discriminator}' is not a sibling field"
                    f"{did_you_mean(payload.discriminator, siblings)}; siblings: "
                    f"{', '.join(siblings) or 'none'}",
                )
            )
        elif chooser.type != "string":
            issues.append(
                document.issue(
                    (*key_path, "discriminator"),
                    f"discriminator '{payload.discriminator}' must be a string field, "
                    f"not {chooser.type or 'a reference'}",
                )
            )
    if payload.shape is not None:
        issues += _check_field(payload.shape, (*key_path, "shape"), definitions, document, {})
    for name, variant in (payload.variants or {}).items():
        issues += _check_field(variant, (*key_path, "variants", name), definitions, document, {})
    return issues


def _check_invariants(contract: Contract, document: YamlDocument) -> list[ContractIssue]:
    issues = _check_unique([inv.id for inv in contract.invariants], "invariants", "id", document)
    fields = index_fields(contract)
    for index, invariant in enumerate(contract.invariants):
        base: KeyPath = ("invariants", index)
        if invariant.scope and invariant.scope not in fields:
            issues.append(_unknown_path(document, (*base, "scope"), invariant.scope, fields))
            continue
        for key, relative in _invariant_paths(invariant):
            if key == "parameter":
                if relative not in contract.request.parameters:
                    issues.append(
                        document.issue(
                            (*base, key),
                            f"'{relative}' is not a request parameter"
                            f"{did_you_mean(relative, contract.request.parameters)}",
                        )
                    )
                continue
            full = join_path(invariant.scope, relative)
            if full not in fields:
                issues.append(_unknown_path(document, (*base, *key.split("/")), full, fields))
            elif key == "when/field" and isinstance(invariant, ConditionalInvariant):
                chooser = fields[full].spec
                for at, value in enumerate(invariant.when.values):
                    problem = _when_value_problem(chooser, relative, value)
                    if problem is not None:
                        issues.append(document.issue((*base, "when", "in", at), problem))
    return issues


_JSON_TEXT = {
    "integer": re.compile(r"-?(?:0|[1-9][0-9]*)\Z"),
    "number": re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z"),
    "boolean": re.compile(r"(?:true|false)\Z"),
}


def _when_value_problem(chooser: FieldSpec, name: str, value: str) -> str | None:
    """Why a conditional's `in` value can never be what its field holds (a typo, or a number
    the field cannot take): such a rule would silently never apply. Values are written as an
    enum lists them: text as itself, numbers and booleans as JSON writes them."""
    if chooser.enum is not None:
        if value in chooser.enum:
            return None
        return f"'{value}' is none of {name}'s enum values{did_you_mean(value, chooser.enum)}"
    if chooser.type in ("object", "array"):
        return f"{name} is an {chooser.type}: a conditional chooses by text, a number or a boolean"
    pattern = _JSON_TEXT.get(chooser.type or "")
    if pattern is not None and not pattern.match(value):
        held = {"integer": "an integer", "number": "a number", "boolean": "a boolean"}
        return (
            f"'{value}' is not {held[chooser.type or '']}, which {name} holds (numbers and "
            "booleans are written as JSON writes them: 2, 0.5, true)"
        )
    return None


def _invariant_paths(invariant: Invariant) -> list[tuple[str, str]]:
    """(key in the invariant, field path relative to its scope) for every path it names."""
    match invariant.kind:
        case "order":
            return [(f"fields/{i}", path) for i, path in enumerate(invariant.fields)]
        case "prefix":
            return [("field", invariant.field), ("prefix_field", invariant.prefix_field)]
        case "conditional":
            return (
                [("when/field", invariant.when.field)]
                + [(f"present/{i}", p) for i, p in enumerate(invariant.present)]
                + [(f"absent/{i}", p) for i, p in enumerate(invariant.absent)]
            )
        case "count":
            return [("array", invariant.array), ("at_most", invariant.at_most)]
        case "echo":
            return [("field", invariant.field), ("parameter", invariant.parameter)]


def _unknown_path(
    document: YamlDocument, key_path: KeyPath, path: str, fields: Mapping[str, Any]
) -> ContractIssue:
    key_path = tuple(
        int(part) if isinstance(part, str) and part.isdigit() else part for part in key_path
    )
    return document.issue(
        key_path, f"'{path}' is not a field of the response{did_you_mean(path, fields)}"
    )


def _check_errors(
    contract: Contract, catalog: ErrorCatalog, document: YamlDocument
) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    if contract.errors.envelope not in catalog.envelopes:
        name = contract.errors.envelope
        issues.append(
            document.issue(
                ("errors", "envelope"),
                f"no envelope '{name}' in the error catalog{did_you_mean(name, catalog.envelopes)}",
            )
        )
    for index, group in enumerate(contract.errors.include):
        if group not in catalog.groups:
            issues.append(
                document.issue(
                    ("errors", "include", index),
                    f"no error group '{group}' in the error catalog"
                    f"{did_you_mean(group, catalog.groups)}; groups: {', '.join(catalog.groups)}",
                )
            )
    issues += _check_unique(contract.errors.include, ("errors", "include"), None, document)
    return issues


def _check_unique(
    values: list[str], where: str | KeyPath, key: str | None, document: YamlDocument
) -> list[ContractIssue]:
    base: KeyPath = (where,) if isinstance(where, str) else where
    issues = []
    first: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in first:
            path = (*base, index, key) if key else (*base, index)
            issues.append(
                document.issue(
                    path, f"duplicate '{value}' (first at {_format_index(base, first[value])})"
                )
            )
        else:
            first[value] = index
    return issues


def _format_index(base: KeyPath, index: int) -> str:
    return f"{'.'.join(str(part) for part in base)}[{index}]"
