"""The HTML report: one self-contained file (inline CSS and script, no external assets).

Jinja2 autoescaping escapes every value that came from a response; a Content-Security-Policy
that admits only the report's own script (by hash) means even an escaping mistake could not run
injected script.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from aliconform.drift.findings import path_order, shown_path
from aliconform.report.grouping import group_findings
from aliconform.report.model import (
    OPERATION_COUNTS,
    DriftReport,
    ReportFinding,
    distinct_observed,
)

__all__ = ["render_html"]

POINTERS_SHOWN = 20  # pointers a row lists in its detail; drift.json has every one
# What the search reads of a row: every pointer and observed value, not only those shown (a
# pointer the console printed must be found), within a bound that keeps the page loadable.
SEARCHABLE_CHARACTERS = 100_000
OBSERVED_SHOWN = 10  # distinct observed values a row lists, as a scan keeps


@dataclass(frozen=True)
class Row:
    """One row of a findings table: the findings of one kind at one place (array indices as
    '*') in one source, with one status. A drift repeated across a 10,000-element array is one
    row to read (and one to download), not 10,000; drift.json keeps every finding."""

    finding: ReportFinding  # the first, whose detail the row shows
    findings: int
    occurrences: int  # for scans, whose findings are already counts of lines
    where: str
    pointers: list[str]
    observed: list[str]
    more_observed: bool
    lines: tuple[int, int] | None  # for scans: the first and last line any of them was seen on
    searchable: str = ""  # lowercase: every pointer and observed value, for the search box

    @property
    def more_pointers(self) -> int:
        return self.findings - len(self.pointers)


def finding_rows(findings: list[ReportFinding]) -> list[Row]:
    groups = group_findings(
        findings, lambda f: f, also=lambda f: (f.status, f.waiver, f.lapsed_waiver, f.repeats)
    )
    rows = []
    for group in groups:
        first = group.first
        observed, more_observed = distinct_observed(group.items, OBSERVED_SHOWN)
        seen = [item for item in group.items if item.first_seen is not None]
        where = group.where() if group.count == 1 else shown_path(group.pattern, group.about)
        pointers = sorted(group.paths, key=path_order)
        every_value, _ = distinct_observed(group.items, len(group.items) * 100)
        searchable = " ".join([where, *pointers, *every_value])[:SEARCHABLE_CHARACTERS].lower()
        rows.append(
            Row(
                finding=first,
                findings=group.count,
                occurrences=sum(item.count for item in group.items),
                where=where,
                pointers=pointers[:POINTERS_SHOWN],
                observed=observed,
                more_observed=more_observed,
                lines=(
                    min(item.first_seen or 0 for item in seen),
                    max(item.last_seen or item.first_seen or 0 for item in seen),
                )
                if seen
                else None,
                searchable=searchable,
            )
        )
    return rows


def _json_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:399] + "…"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("aliconform.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["tojson_safe"] = _json_text  # plain text, autoescaped like any value
    environment.filters["shown_path"] = shown_path
    environment.filters["rows"] = finding_rows
    return environment


@cache
def _script() -> str:
    return resources.files("aliconform.report").joinpath("templates/report.js").read_text("utf-8")


def render_html(report: DriftReport) -> str:
    script = _script()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        script=script,
        script_hash=f"sha256-{digest}",
        operation_counts=OPERATION_COUNTS,
    )
