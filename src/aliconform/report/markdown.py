"""A Markdown summary for a pull-request comment or a CI job summary."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from typing import TYPE_CHECKING

from aliconform.report.grouping import Group, group_findings
from aliconform.report.model import (
    OPERATION_COUNTS,
    DriftReport,
    ReportFinding,
    distinct_observed,
)

if TYPE_CHECKING:
    from aliconform.report.diff import ReportDiff

__all__ = ["render_diff_markdown", "render_markdown"]

_SHOWN = 20
_PATH_SHOWN = 200  # a key of 30,000 characters is a path too
#: GitHub refuses a comment of more than 65,536 characters; a summary past this is cut.
MARKDOWN_LIMIT = 60_000


# What GitHub turns into a link or a mention even in escaped text (autolinks, @names): shown
# in a code span instead, exactly as written and never linked.
_LINKED = re.compile(
    r"(?:https?://|www\.)[^\s<>]*[^\s<>.,;:!?)\]'\"]|@[A-Za-z0-9][A-Za-z0-9_-]*", re.IGNORECASE
)


def _cell(text: object) -> str:
    """Table-cell safe: no pipes or newlines, and no markup GitHub would render."""
    value = " ".join(str(text).split())
    parts: list[str] = []
    start = 0
    for match in _LINKED.finditer(value):
        parts += [_escaped(value[start : match.start()]), _code(match[0], in_table=True)]
        start = match.end()
    return "".join([*parts, _escaped(value[start:])])


def _escaped(text: str) -> str:
    # Every backslash escaped first, then what Markdown would read: the text shows as it is.
    value = html.escape(text.replace("\\", "\\\\"), quote=False)
    value = value.replace("|", "\\|").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
    # No links or images from response content when the summary is posted.
    return value.replace("[", "\\[").replace("]", "\\]")


def _code(text: object, *, in_table: bool = False) -> str:
    """A code span: shown exactly as written (GitHub decodes no entities and renders no links
    or mentions inside one). A backtick in the text is kept: the span is fenced with one more
    backtick than the longest run in it (CommonMark), and padded with a space, which the
    renderer strips, where the text starts or ends with one. Whitespace runs show as one space,
    as they would anyway."""
    value = " ".join(str(text).split())
    if not value:
        return "` `"
    if in_table:  # GFM splits cells before code spans; an escaped pipe shows as a pipe
        value = value.replace("|", "\\|")
    fence = "`" * (max(map(len, re.findall("`+", value)), default=0) + 1)
    if value.startswith("`") or value.endswith("`"):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def _row(group: Group[ReportFinding], report: DriftReport) -> str:
    finding = group.first
    source = _cell(finding.source or "")
    if report.unwritten(finding):
        source += " (checked, not written)"
    # Shortened before it is escaped, so that no escape is cut in half.
    expected = _short(_as_text(finding.expected), 80)
    values, more = distinct_observed(group.items, 10)  # a row per place: every value seen there
    observed = ", ".join(values) + (", …" if more else "")
    lapsed = f" (waiver {_code(finding.lapsed_waiver)} expired)" if finding.lapsed_waiver else ""
    return (
        f"| {finding.severity.value}{lapsed} | {_cell(finding.operation)} | {_code(finding.kind, in_table=True)} "
        f"| {_code(_short(group.where(), _PATH_SHOWN), in_table=True)} | {_cell(expected)} "
        f"| {_code(_short(observed, 120), in_table=True) if observed else ''} | {source} |"
    )


def _as_text(value: object) -> str:
    """A value as JSON shows it (["Success", "Fail"]), not as Python would."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_markdown(report: DriftReport) -> str:
    verdict = report.verdict
    mark = {0: "✅", 1: "❌"}.get(verdict.exit_code, "⚠️")
    lines = [
        f"## {mark} aliconform: {_cell(verdict.headline)}",
        "",
        f"{_cell(report.title)}. {verdict.new} new finding(s), {verdict.new_breaking} breaking; "
        f"{verdict.waived} waived by the drift policy. Generated {report.generated_at:%Y-%m-%d %H:%M} UTC.",
        "",
        "| operation | checked | breaking | warning | info | waived |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {op.operation} | {op.checked} | {op.breaking} | {op.warning} | {op.info} | {op.waived} |"
        for op in report.operations
    ]
    lines += ["", f"<sub>{OPERATION_COUNTS}</sub>"]
    new = [f for f in report.findings if f.status == "new" and f.section != "documentation"]
    repeats = [f for f in new if f.repeats]
    new = [f for f in new if not f.repeats]
    if new:
        # A drift in every element of an array is one row: it must not push the others out.
        groups = group_findings(new, lambda finding: finding)
        places = f", at {len(groups)} places" if len(groups) != len(new) else ""
        lines += ["", f"### New findings ({len(new)}{places})", ""]
        lines += [
            "| severity | operation | kind | path | expected | observed | source |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [_row(group, report) for group in groups[:_SHOWN]]
        if len(groups) > _SHOWN:
            lines.append(f"\n…and {len(groups) - _SHOWN} more places in drift.html / drift.json.")
    documentation = report.findings_in("documentation")
    if documentation:
        counted = sum(1 for f in documentation if f.status == "new")
        lines += [
            "",
            f"Documentation lint: {len(documentation)} contradiction(s) in the documentation itself ({counted} not waived); see drift.html.",
        ]
        unwaived = group_findings((f for f in documentation if f.status == "new"), lambda f: f)
        if unwaived:  # what the verdict counts must be on the page, not only its number
            lines += [
                "",
                "| severity | operation | kind | path | expected | observed | source |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [_row(group, report) for group in unwaived[:_SHOWN]]
            if len(unwaived) > _SHOWN:
                lines.append(f"\n…and {len(unwaived) - _SHOWN} more in drift.html / drift.json.")
    if repeats:  # a paragraph of its own: straight after a table it would be read as a row
        lines += [
            "",
            f"{len(repeats)} new finding(s) of cassettes derived from documentation examples repeat the lint's findings for those examples (counted once).",
        ]
    lines += _recording_lines(report)
    lines += _fuzz_lines(report)
    if report.waivers:
        lines += ["", "### Waivers that need attention", ""]
        lines += [f"- {_code(w.id)}: {w.problem} ({_cell(w.reason)})" for w in report.waivers]
    stale = [s for s in report.sources if s.provenance_problem]
    if stale:
        lines += ["", "### Cassettes whose provenance needs attention", ""]
        lines += [f"- {_code(s.cassette or s.id)}: {_cell(s.provenance_problem)}" for s in stale]
    if report.problems:
        lines += ["", "### Inputs that could not be checked", ""]
        lines += [
            f"- {_code(p.where)}: {_cell(p.message.splitlines()[0] if p.message else '')}"
            for p in report.problems
        ]
    return _bounded(lines, "drift.html and drift.json hold everything")


def _fuzz_lines(report: DriftReport) -> list[str]:
    fuzz = report.fuzz
    if fuzz is None:
        return []
    return [
        "",
        "### Property-based run",
        "",
        f"{fuzz.cases} generated request(s) to {_code(fuzz.endpoint)} "
        f"({fuzz.max_examples} per operation and mode, seed {fuzz.seed}) in {fuzz.seconds:.1f} s.",
    ]


def _recording_lines(report: DriftReport) -> list[str]:
    if not report.recording:
        return []
    outcomes = Counter(r.outcome for r in report.recording)
    lines = ["", "### Recording", "", ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))]
    lines += [
        f"- {_code(r.cassette)}: {r.outcome}, {_cell(r.message)}"
        for r in report.recording
        if r.outcome == "failed"
    ]
    if report.behaviour:
        lines += [
            "",
            f"### Behaviour changes since the previous recordings ({len(report.behaviour)})",
            "",
        ]
        lines += ["| cassette | path | change | before | after |", "|---|---|---|---|---|"]
        lines += [
            f"| {_cell(c.cassette)}{'#' + str(c.interaction) if c.interaction is not None else ''} "
            f"| {_code(c.path, in_table=True)} | {c.change} | {_cell(c.old or '')} | {_cell(c.new or '')} |"
            for c in report.behaviour[:_SHOWN]
        ]
    return lines


def render_diff_markdown(diff: ReportDiff, old: str, new: str) -> str:
    """`report diff --format markdown`: the counts, the caveats, then a line per place (one
    drift across an array is one line), at most _SHOWN of each of new, fixed and changed, so
    that the comment stays within what a pull request takes; the response's own text in code
    spans."""
    lines = [f"### {_code(old)} → {_code(new)}: {diff.counts()}", ""]
    lines += [f"> **Note:** {_cell(caveat)}" for caveat in diff.caveats]
    for label, findings in (("new", diff.new), ("fixed", diff.fixed)):
        groups = group_findings(findings, lambda f: f)
        lines += [
            f"- {label}: {g.first.severity.value} {_code(g.first.operation)} {_code(g.first.kind)}"
            f" at {_code(_short(g.where(), _PATH_SHOWN))}"
            + (f" ({_code(g.first.source)})" if g.first.source else "")
            for g in groups[:_SHOWN]
        ]
        lines += _left_out(len(groups), label)
    changed = group_findings(diff.changed, lambda change: change[1])
    for group in changed[:_SHOWN]:
        _before, after, what = group.first
        lines.append(
            f"- changed: {_code(after.operation)} {_code(after.kind)} "
            f"at {_code(_short(group.where(), _PATH_SHOWN))}"
            + (f" ({_code(after.source)})" if after.source else "")
            + f": {_cell('; '.join(what))}"
            + (" (the first of them)" if group.count > 1 else "")
        )
    lines += _left_out(len(changed), "changed")
    return _bounded(lines, "`report diff --format json` lists all")


def _bounded(lines: list[str], where_all: str) -> str:
    """The lines, cut at the last whole line within MARKDOWN_LIMIT characters, with a note."""
    text = "\n".join(lines) + "\n"
    if len(text) <= MARKDOWN_LIMIT:
        return text
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MARKDOWN_LIMIT - 200:
            break
        kept.append(line)
    note = (
        f"_…cut here to fit a pull-request comment ({MARKDOWN_LIMIT:,} characters); {where_all}._"
    )
    return "\n".join([*kept, "", note]) + "\n"


def _left_out(places: int, label: str) -> list[str]:
    if places <= _SHOWN:
        return []
    return [f"- …and {places - _SHOWN} more {label} places (`report diff --format json` lists all)"]
