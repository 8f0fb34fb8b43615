"""Every field the source documents (docs/sources/) name is in the contract.

The pages are flattened web tables: a row reads `NameType...` (IMM) or `name<TAB>type` style runs
(ICE result structures). This suite pulls the parameter names out of those tables and out of the
example responses and checks that each has a field in the contract.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from aliconform import load_contracts
from aliconform.contracts import index_fields, iter_fields
from aliconform.contracts.model import Divergence, Source

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "docs" / "sources"  # the pages the contracts cite
CONTRACTS = load_contracts(REPO / "contracts")

# `RequestIdstring`, `BlockFramesarray<object>`, `Ratedouble`: an IMM response table row.
IMM_ROW = re.compile(
    r"^([A-Z][A-Za-z]*?)(string|integer|array<object>|array|object|double|boolean)$"
)
# `persons.occurrences.scoredoubleThe confidence...`: an ICE result-structure row.
ICE_ROW = re.compile(
    r"^([a-z][A-Za-z0-9]*(?:(?:\[i\])?\.[a-zA-Z][A-Za-z0-9]*)*(?:\[i\])?)"
    r"(JSONArray|JSONObject|String|string|double|float|int\[\]|integer\[\]|int|long|object|list\[object\]|list\[\])"
)


def _normalise(path: str) -> str:
    """Field path without array marks or payload variants: comparable with the page's dotted names."""
    return re.sub(r"\([^)]*\)", "", path).replace("[]", "")


def _names_in_example(value: object, prefix: str = "") -> set[str]:
    names = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            names.add(path)
            names |= _names_in_example(item, path)
    elif isinstance(value, list):
        for item in value:
            names |= _names_in_example(item, prefix)
    return names


@pytest.mark.parametrize("operation", list(CONTRACTS))
def test_every_example_key_is_a_field(operation: str) -> None:
    contract = CONTRACTS[operation]
    known = {_normalise(path): entry.spec for path, entry in index_fields(contract).items()}

    def covered(name: str) -> bool:
        if name in known:
            return True
        # Keys below a documented string (the page's example contradicts its own table, which
        # the documentation lint reports) or below a free-form object are not separate fields.
        parts = name.split(".")
        prefixes = (".".join(parts[:end]) for end in range(len(parts) - 1, 0, -1))
        return any(
            (spec := known.get(prefix)) is not None and (spec.type == "string" or spec.open)
            for prefix in prefixes
        )

    for example in contract.examples:
        if example.of is not None:
            continue
        missing = {
            name for name in _names_in_example(json.loads(example.body)) if not covered(name)
        }
        assert not missing, f"{example.name}: {sorted(missing)}"


@pytest.mark.parametrize("operation", [op for op in CONTRACTS if CONTRACTS[op].product == "imm"])
def test_every_imm_table_row_is_a_field(operation: str) -> None:
    contract = CONTRACTS[operation]
    page = (SEEDS / contract.sources.documentation.file).read_text(encoding="utf-8")
    start = page.index("Response parameters")
    response_table = page[start : page.index("\nExamples\n", start)]
    rows = {
        m.group(1) for line in response_table.splitlines() if (m := IMM_ROW.match(line.strip()))
    }
    assert len(rows) >= 11, "the table parser found the rows"
    leaves = {_normalise(path).rsplit(".", 1)[-1] for path in index_fields(contract)}
    # The Labels table row names its item type (Label), which the contract holds as a definition.
    missing = {row for row in rows if row not in leaves and row not in contract.definitions}
    assert not missing, sorted(missing)


def test_every_smarttag_result_row_is_a_field() -> None:
    contract = CONTRACTS["QuerySmarttagJob"]
    page = (SEEDS / contract.sources.documentation.file).read_text(encoding="utf-8")
    start = page.index("Result parameters")
    results = page[start : page.index("\nExamples\n", start)]
    rows = {
        m.group(1).replace("[i]", "")
        for line in results.splitlines()
        if (m := ICE_ROW.match(line.strip()))
    }
    assert len(rows) > 100, "the table parser found the rows"
    paths = {_normalise(path) for path in index_fields(contract)}
    missing = {row for row in rows if not any(p == f"Results.Result.Data.{row}" for p in paths)}
    assert not missing, sorted(missing)


def test_iproduction_result_sections_are_variants() -> None:
    contract = CONTRACTS["QueryIProductionJob"]
    page = (SEEDS / contract.sources.documentation.file).read_text(encoding="utf-8")
    section = page[page.index("Parameters of Result") : page.index("Examples\nSample")]
    lines = section.splitlines()
    documented = {
        lines[i - 1].strip() for i, line in enumerate(lines) if line.startswith("Example: ")
    }
    assert len(documented) == 13
    payload = contract.response.fields["Result"].json_payload
    assert payload is not None
    assert payload.variants is not None
    assert documented == set(payload.variants)


@pytest.mark.parametrize("operation", sorted(CONTRACTS))
def test_what_no_source_states_is_marked_as_the_contracts_own(operation: str) -> None:
    """No page's response table has a Required column, and no page or SDK model states a rule
    between fields: every required response field says why it is held to be present, and every
    invariant is marked inferred, so no finding passes the contract's reading off as the page's."""
    contract = CONTRACTS[operation]
    unexplained = [
        entry.path
        for entry in iter_fields(contract)
        if entry.spec.required
        and not any(assumption.aspect == "presence" for assumption in entry.spec.assumptions)
    ]
    assert not unexplained, f"required without a presence assumption: {unexplained}"
    stated = [inv.id for inv in contract.invariants if Source.INFERRED not in inv.sources]
    assert not stated, f"invariants credited to a source that does not state them: {stated}"


def _divergences(node: object) -> Iterator[Divergence]:
    """Every divergence recorded anywhere in a contract: fields, parameters, error codes."""
    if isinstance(node, Divergence):
        yield node
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _divergences(getattr(node, name))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _divergences(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _divergences(item)


@pytest.mark.parametrize("operation", sorted(CONTRACTS))
def test_every_place_cited_on_the_page_is_there(operation: str) -> None:
    """A claim credited to the page, and every stored example, say where on the page it stands
    ("Examples > Sample success responses"): each step of that is a heading or a table cell of
    the page as published, so a reader can find it."""
    contract = CONTRACTS[operation]
    lines = [line.strip() for line in (SEEDS / contract.sources.documentation.file).open()]
    page_sources = {Source.DOC_TABLE, Source.DOC_EXAMPLE, Source.DOC_TEXT}
    cited = [example.location for example in contract.examples] + [
        claim.where
        for divergence in _divergences(contract)
        for claim in divergence.claims
        if claim.source in page_sources and claim.where
    ]
    assert cited
    nowhere = {
        where: missing
        for where in cited
        if (missing := [step for step in where.split(" > ") if not _on(step, lines)])
    }
    assert not nowhere, f"cited places the page does not have: {nowhere}"


def _on(step: str, lines: list[str]) -> bool:
    """A heading or cell is a line; a row or an example line starts with it ("Example: [...]")."""
    return any(line == step or line.startswith(step) for line in lines)
