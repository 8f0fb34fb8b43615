"""Comparing two reports: which findings are new, which were fixed, which stayed, which changed.

Findings are matched by place: their stable id (section, operation, kind, path, rule, and for
replays the source) with array indices as '*', so that one drift across an array that grew or
shrank between the runs (a live label list) is the same drift. DeepDiff compares each place
present in both, so a drift that stays but changes severity, waiver status, count or observed
values is reported as changed rather than as one fixed and one new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff
from pydantic import ValidationError

from aliconform.drift.findings import VALUE_KINDS, Severity
from aliconform.errors import AliconformError
from aliconform.report.grouping import group_findings
from aliconform.report.model import WRITTEN_ALWAYS, DriftReport, ReportFinding, place_key

__all__ = ["ReportDiff", "diff_reports", "load_report"]


@dataclass
class ReportDiff:
    new: list[ReportFinding] = field(default_factory=list)
    fixed: list[ReportFinding] = field(default_factory=list)
    unchanged: list[ReportFinding] = field(default_factory=list)
    changed: list[tuple[ReportFinding, ReportFinding, list[str]]] = field(default_factory=list)
    # What makes the two reports unlike each other, so that their difference may not mean what
    # it seems (a replay against a scan: "fixed" only means "not in the other kind of run").
    caveats: list[str] = field(default_factory=list)

    def worse(self, threshold: Severity) -> list[ReportFinding]:
        """Findings of the later report, not waived there and at least as severe as threshold,
        that the earlier one did not have so: new ones, ones that were waived before, and ones
        whose severity rose (a warning that became breaking is worse at --fail-on warning too:
        a lower threshold never passes what a higher one fails), and ones that now observe
        another undocumented value where one was seen before (code that learnt to handle
        "maybe" does not handle "delete"). What a pull request should not be merged with."""

        def counts(f: ReportFinding) -> bool:
            # A repeat of the documentation lint's finding is counted as that one, as the
            # report's own verdict counts it: once.
            return f.status == "new" and f.severity.rank >= threshold.rank and not f.repeats

        return [f for f in self.new if counts(f)] + [
            after
            for before, after, what in self.changed
            if counts(after)
            and (
                not counts(before)
                or after.severity.rank > before.severity.rank
                or any(change.startswith("observed:") for change in what)
            )
        ]

    def counts(self) -> str:
        """The headline: how many findings are new, fixed, changed and unchanged, and in how
        many places (array indices as '*') the new and fixed ones lie when that differs, since
        a listing shows a line per place."""

        def counted(findings: list[ReportFinding], label: str) -> str:
            places = len(group_findings(findings, lambda f: f))
            return f"{len(findings)} {label}" + (
                f" ({places} place{'s' if places != 1 else ''})" if places != len(findings) else ""
            )

        return (
            f"{counted(self.new, 'new')}, {counted(self.fixed, 'fixed')}, "
            f"{len(self.changed)} changed, {len(self.unchanged)} unchanged"
        )

    def to_dict(self) -> dict[str, Any]:
        def brief(f: ReportFinding) -> dict[str, Any]:
            return {k: v for k, v in f.model_dump(mode="json").items() if k != "excerpt"}

        return {
            "caveats": list(self.caveats),
            "new": [brief(f) for f in self.new],
            "fixed": [brief(f) for f in self.fixed],
            "unchanged": [brief(f) for f in self.unchanged],
            "changed": [
                {"old": brief(a), "new": brief(b), "what": what} for a, b, what in self.changed
            ],
        }


def load_report(path: Path) -> DriftReport:
    try:
        text = path.read_text("utf-8-sig")  # a byte-order mark an editor added is no content
    except OSError as exc:
        raise AliconformError(f"{path}: cannot read report: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise AliconformError(
            f"{path}: not a drift report (not UTF-8 text: {exc.reason})"
        ) from None
    not_a_report = f"{path}: not an aliconform drift report (format_version 1)"
    try:
        report = DriftReport.model_validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"])
        raise AliconformError(f"{not_a_report}: at /{where}: {first['msg']}") from None
    # Every member a report is written with is there: a cut-down file, read as a report with
    # no findings, would pass a comparison (0 new).
    members = json.loads(text)  # valid JSON: validated above
    absent = next((name for name in WRITTEN_ALWAYS if name not in members), None)
    if absent is not None:
        raise AliconformError(f"{not_a_report}: at /{absent}: missing (every report has it)")
    if isinstance(members["format_version"], bool):  # pydantic takes true for the literal 1
        raise AliconformError(f"{not_a_report}: at /format_version: the number 1, not true")
    seen: dict[str, int] = {}
    for index, finding in enumerate(report.findings):
        if finding.id in seen:  # two findings would be compared as one
            raise AliconformError(
                f"{not_a_report}: finding id {finding.id} appears twice "
                f"(/findings/{seen[finding.id]} and /findings/{index})"
            )
        seen[finding.id] = index
    return report


# Not the message: it quotes the observed value (a time, an id), which changes with every
# recording while nothing else does. What the contract expects is compared instead, but for an
# invariant, whose expected value comes from the request or the response (the JobId a job must
# echo, at most as many items as a count says): its rule says what it expects.
_COMPARED = ("severity", "status", "waiver", "expected", "count")
_EXPECTED_FROM_THE_EXCHANGE = frozenset({"invariant-violation"})
# Kinds whose observed value is the drift itself: another value at the same place is another
# drift, even though it is the same finding (same kind, place and source).
_VALUE_KINDS = frozenset(kind.value for kind in VALUE_KINDS)


def diff_reports(old: DriftReport, new: DriftReport) -> ReportDiff:
    before = _places(old.findings)
    after = _places(new.findings)
    result = ReportDiff(caveats=_caveats(old, new))
    result.new = [f for key, group in after.items() if key not in before for f in group]
    result.fixed = [f for key, group in before.items() if key not in after for f in group]
    for key, group in after.items():
        if key not in before:
            continue
        what = _changes(before[key], group)
        if what:
            result.changed.append((_representative(before[key]), _representative(group), what))
        else:
            result.unchanged.extend(group)
    return result


def _places(findings: list[ReportFinding]) -> dict[tuple[str, ...], list[ReportFinding]]:
    places: dict[tuple[str, ...], list[ReportFinding]] = {}
    for finding in findings:
        places.setdefault(place_key(finding), []).append(finding)
    return places


def _representative(group: list[ReportFinding]) -> ReportFinding:
    """The finding a place is judged by: its first unwaived one, else its first."""
    return next((f for f in group if f.status == "new"), group[0])


def _caveats(old: DriftReport, new: DriftReport) -> list[str]:
    # Only the kind of run: inputs are paths, which differ between checkouts of the same run.
    if old.run == new.run:
        return []
    return [
        f"the reports come from different kinds of run ({old.run}, then {new.run}): a finding "
        "only one of them could show is counted as new or fixed"
    ]


def _changes(before: list[ReportFinding], after: list[ReportFinding]) -> list[str]:
    """What changed at one place, as 'attribute: old -> new' (DeepDiff over the compared
    fields of its representative finding, the count summed over the place). For the kinds whose
    observed value is the drift, values seen only now are 'observed: ...' (what --fail-on
    counts as worse); values no longer seen are said apart, and their order never matters."""
    old = _compared(before)
    new = _compared(after)
    view = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    what = [
        f"{item.path(output_format='list')[0]}: {item.t1} -> {item.t2}"
        for kind in ("values_changed", "type_changes")
        for item in view.get(kind, [])
    ]
    if _representative(after).kind in _VALUE_KINDS:
        seen, now = _observed(before), _observed(after)
        # A scan keeps so many values; past them, a value not kept may have been seen.
        all_seen = not any(f.more_observed_values for f in before)
        all_now = not any(f.more_observed_values for f in after)
        if now - seen and all_seen:
            what.append(f"observed: {_listed(seen)} -> {_listed(now)}")
        elif now - seen:
            what.append(
                f"observed, maybe not for the first time: {_listed(now - seen)} (the earlier "
                f"report kept {len(seen)} of the values it saw)"
            )
        elif seen - now and all_now:
            what.append(f"no longer observed: {_listed(seen - now)}")
    return what


def _compared(group: list[ReportFinding]) -> dict[str, str]:
    first = _representative(group)
    shown = {name: _show(getattr(first, name)) for name in _COMPARED}
    shown["count"] = str(sum(f.count for f in group))
    if first.kind in _EXPECTED_FROM_THE_EXCHANGE:
        del shown["expected"]
    return shown


def _observed(group: list[ReportFinding]) -> set[str]:
    """The distinct values observed at a place: a scan's list, or each finding's own."""
    return {value for f in group for value in (f.observed_values or [_show(f.observed)])}


def _listed(values: set[str]) -> str:
    return ", ".join(sorted(values))


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    return str(getattr(value, "value", value))
