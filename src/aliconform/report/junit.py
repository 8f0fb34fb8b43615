"""JUnit XML for CI test tabs: a suite per operation, a test case per checked source.

A case fails when its source has new breaking findings; warnings and waived findings are listed
in its system-out so they are visible without failing anything. Inputs that could not be checked
at all are errors when they decide the verdict, and skipped cases when the run tolerated them (a
scan's few unreadable lines), so that the file passes or fails as the command exits. An operation
checked without any drift (a clean scan) still has a passing case: a test tab shows what was
checked, and publishers that refuse an empty result do not fail the build.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass

from aliconform.drift.findings import shown_path
from aliconform.report.grouping import group_findings
from aliconform.report.model import DriftReport, ReportFinding

__all__ = ["render_junit"]

# Characters XML 1.0 cannot carry at all, even escaped; a response may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _line(finding: ReportFinding) -> str:
    waived = f" [waived: {finding.waiver}]" if finding.waiver else ""
    line = (
        f"{finding.severity.value}: {finding.kind} at {shown_path(finding.path, finding.field)}{waived}: {finding.message}"
        f" (contract {finding.contract_location or '?'})"
    )
    if finding.repeats:
        line += "; as in the documentation lint (the verdict counts it once)"
    if finding.severity_reason is not None:
        line += f"; severity set by the drift policy: {finding.severity_reason}"
    if finding.first_seen is not None:  # an aggregate of a scan: how often, where, what
        line += (
            f"; seen {finding.count} time(s), lines {finding.first_seen} to {finding.last_seen}"
            f", first in {finding.source}"
        )
    if finding.observed_values:
        line += f"; observed {finding.observed_summary()}"
    return line


@dataclass(frozen=True)
class _Case:
    operation: str
    classname: str
    name: str
    findings: list[ReportFinding]
    note: str | None = None  # the system-out of a case with no findings


def _cases(report: DriftReport) -> list[_Case]:
    """One test case per checked source, one per finding that no checked source owns (scan
    aggregates, recorded divergences), and one per operation checked that has neither."""
    by_source: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in report.findings:
        by_source[finding.source or ""].append(finding)
    cases = []
    owned = set()
    for source in report.sources:
        owned.add(source.id)
        classname = f"aliconform.{source.section}.{source.operation}"
        cases.append(_Case(source.operation, classname, source.id, by_source.get(source.id, [])))
    # A finding no source owns is its own case, named by what it is and where in the response:
    # a test tab follows a case across runs by its name, and the line of a capture where a
    # drift was first seen changes with every capture. Its source is in the case's text.
    unowned = [f for f in report.findings if (f.source or "") not in owned]
    names = Counter(_unowned_name(f) for f in unowned)
    taken: Counter[tuple[str, str]] = Counter()
    for finding in unowned:
        classname = f"aliconform.{finding.section}.{finding.operation}"
        name = _unowned_name(finding)
        if names[name] > 1:  # the same drift from several sources (recorded divergences)
            name += f" ({finding.source or finding.section})"
        taken[classname, name] += 1
        if taken[classname, name] > 1:  # and from one source (two divergences of one aspect)
            name += f" #{taken[classname, name]}"
        cases.append(_Case(finding.operation, classname, name, [finding]))
    with_cases = {case.operation for case in cases}
    for summary in report.operations:
        if summary.checked and summary.operation not in with_cases:
            classname = f"aliconform.{report.run}.{summary.operation}"
            note = f"{summary.checked} response(s) checked"
            cases.append(_Case(summary.operation, classname, "no drift found", [], note))
    return cases


def _unowned_name(finding: ReportFinding) -> str:
    rule = f" [{finding.rule}]" if finding.rule else ""
    return f"{finding.kind} at {shown_path(finding.path, finding.field)}{rule}"


def _fails(finding: ReportFinding) -> bool:
    return finding.status == "new" and finding.severity.value == "breaking"


def render_junit(report: DriftReport) -> str:
    root = ET.Element("testsuites", name=f"aliconform {report.run}")
    suites: dict[str, ET.Element] = {}
    for each in _cases(report):
        findings = each.findings
        suite = suites.get(each.operation)
        if suite is None:
            suite = suites[each.operation] = ET.SubElement(root, "testsuite", name=each.operation)
        case = ET.SubElement(suite, "testcase", classname=each.classname, name=each.name)
        if each.note:
            ET.SubElement(case, "system-out").text = each.note
        breaking = [f for f in findings if _fails(f)]
        if breaking:
            # A line per place, as the other reports show it: one drift across an array is one
            # entry of the message, not one per element crowding the others out.
            groups = group_findings(breaking, lambda f: f)
            message = "; ".join(f"{g.first.kind} at {g.where()}" for g in groups)
            failure = ET.SubElement(case, "failure", type="breaking-drift", message=message[:1000])
            failure.text = "\n".join(_line(f) for f in breaking)
        others = [f for f in findings if not _fails(f)]  # not `in breaking`: n² model compares
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
    if report.problems:
        suite = ET.SubElement(root, "testsuite", name="inputs")
        decisive = report.verdict.exit_code == 2  # else tolerated (--max-unreadable)
        for problem in report.problems:
            case = ET.SubElement(
                suite, "testcase", classname="aliconform.inputs", name=problem.where
            )
            first = problem.message.splitlines()[0][:500] if problem.message else ""
            if decisive:
                error = ET.SubElement(case, "error", type="unreadable-input", message=first)
                error.text = problem.message
            else:
                skipped = ET.SubElement(case, "skipped", message=f"not checked: {first}"[:500])
                skipped.text = problem.message
    for suite in root:
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    # Skipped cases are counted per suite only: Jenkins' schema (junit-10.xsd) has no
    # `skipped` on <testsuites>, and a file it refuses is not read at all.
    for name in ("tests", "failures", "errors"):
        root.set(name, str(sum(int(suite.get(name, "0")) for suite in root)))
    for element in root.iter():
        element.text = _xml_safe(element.text) if element.text else element.text
        for key, value in element.attrib.items():
            element.set(key, _xml_safe(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
