"""Documentation lint: the pages' own examples checked against the pages' own tables.

Every example a contract keeps (whole responses and the per-variant payload examples) is run
through the drift engine, and every disagreement between sources that a contract records is
reported too, so each self-contradiction of the documentation becomes a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from aliconform.contracts import Contract, ContractSet, iter_fields
from aliconform.contracts.model import Divergence
from aliconform.drift.checker import Place, Walker
from aliconform.drift.engine import check_body, compiled, parse_body
from aliconform.drift.findings import Finding, Kind, excerpt
from aliconform.drift.policy import DEFAULT_SEVERITY

__all__ = ["documentation_source", "field_pointer", "lint_contract", "lint_docs"]


def lint_docs(contracts: ContractSet) -> list[Finding]:
    """Every contract's lint. A recorded divergence is one entry of one file: the shared error
    catalog's, which each operation inheriting the code reports, is listed once (under the
    first such operation)."""
    findings: list[Finding] = []
    recorded: set[str | None] = set()
    for contract in contracts.values():
        for finding in lint_contract(contract):
            if finding.kind is Kind.DOCUMENTED_DIVERGENCE:
                if finding.contract_location in recorded:
                    continue
                recorded.add(finding.contract_location)
            findings.append(finding)
    return findings


def lint_contract(contract: Contract) -> list[Finding]:
    return list(_example_findings(contract)) + list(_divergence_findings(contract))


def documentation_source(contract: Contract, location: str) -> str:
    return f"documentation {contract.sources.documentation.file} > {location}"


def _example_findings(contract: Contract) -> Iterator[Finding]:
    entry = compiled(contract)
    for example in contract.examples:
        source = documentation_source(contract, example.location)
        if example.of is None:
            yield from check_body(entry, example.body, example.status, source=source)
            continue
        data, problem = parse_body(example.body)
        if problem is not None:
            yield replace(problem, operation=contract.operation, source=source)
            continue
        field = entry.fields[example.of]
        walker = Walker(contract)
        walker.value(data, field.spec, Place("", example.of, field.key_path), None)
        for finding in walker.findings:
            yield finding.with_source(source)


def field_pointer(field_path: str) -> str:
    """A JSON-pointer pattern for a contract field path: `A.B[].C(X).d` -> `/A/B/*/C/d`."""
    without_variants = re.sub(r"\((?:[^()]|\([^()]*\))*\)(?=$|[.\[])", "", field_path)
    return "/" + without_variants.replace("[]", "/*").replace(".", "/").replace("//", "/")


def _decoded_at(field_path: str) -> tuple[str, ...]:
    """The pointer patterns of the JSON strings a field path passes into: each `(variant)`
    closes the path of a string that carries JSON (`A[].Data(X).b` -> `/A/*/Data`)."""
    return tuple(
        field_pointer(field_path[: match.start()]) for match in re.finditer(r"\(", field_path)
    )


def _divergence_findings(contract: Contract) -> Iterator[Finding]:
    """Each divergence a contract records, on fields, request parameters and error codes."""
    places: list[tuple[str, list[Divergence], tuple[str | int, ...]]] = [
        (entry.path, entry.spec.divergences, entry.key_path) for entry in iter_fields(contract)
    ]
    places += [
        (f"request {name}", parameter.divergences, ("request", "parameters", name))
        for name, parameter in contract.request.parameters.items()
    ]
    for label, divergences, key_path in places:
        for index, divergence in enumerate(divergences):
            location = contract.location((*key_path, "divergences", index))
            yield _divergence(contract, divergence, label, location)
    # Error codes: the operation's own and those it inherits from the shared catalog, whose
    # divergences (a status one error-code list gives and another does not) are the
    # operation's too; each is reported where the catalog records it.
    for code, error in contract.error_codes().items():
        for index, divergence in enumerate(error.divergences):
            if code in contract.errors.codes:
                location = contract.location(("errors", "codes", code, "divergences", index))
                yield _divergence(contract, divergence, f"error {code}", location)
            else:
                group = contract.error_code_group(code)
                assert group is not None, f"{code} is none of {contract.operation}'s error codes"
                location = contract.catalog.location(
                    ("groups", group, "codes", code, "divergences", index)
                )
                found = _divergence(contract, divergence, f"error {code}", location)
                # Where the catalog's lists are published, not the operation's own page (which
                # only points to them).
                where = contract.catalog.groups[group].url or "(no url)"
                yield replace(
                    found, message=found.message + _SHARED, source=f"error catalog {where}"
                )


# Said of a divergence the shared error catalog records: every operation inheriting the code
# has it (lint_docs lists it once).
_SHARED = " (an entry of the shared error catalog, which other operations inherit too)"


def _divergence(contract: Contract, divergence: Divergence, field: str, location: str) -> Finding:
    claims = "; ".join(
        f"{claim.source.value}{f' ({claim.where})' if claim.where else ''} says {excerpt(claim.says, 60)}"
        for claim in divergence.claims
    )
    in_response = not field.startswith(("request ", "error "))
    return Finding(
        operation=contract.operation,
        kind=Kind.DOCUMENTED_DIVERGENCE,
        severity=DEFAULT_SEVERITY[Kind.DOCUMENTED_DIVERGENCE],
        path=field_pointer(field) if in_response else "",
        decoded_at=_decoded_at(field) if in_response else (),
        message=f"the sources disagree on the {divergence.aspect} of {field}: {claims}",
        expected=divergence.kept,
        observed=excerpt([claim.says for claim in divergence.claims], 160),
        field=field,
        contract_location=location,
        rule=divergence.aspect,
        source=documentation_source(contract, "recorded divergence"),
    )
