"""JUnit XML for CI test tabs: a suite per operation, a test case per checked source.

A case fails when its source has new breaking findings; warnings and waived findings are listed
in its system-out so they are visible without failing anything. Inputs that could not be checked
at all are errors.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from aliconform.report.model import DriftReport, ReportFinding

__all__ = ["render_junit"]


def _line(finding: ReportFinding) -> str:
    waived = f" [waived: {finding.waiver}]" if finding.waiver else ""
    return (
        f"{finding.severity.value}: {finding.kind} at {finding.path or '/'}{waived}: {finding.message}"
        f" (contract {finding.contract_location or '?'})"
    )


def render_junit(report: DriftReport) -> str:
    by_source: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in report.findings:
        by_source[finding.source or ""].append(finding)
    suites: dict[str, ET.Element] = {}
    root = ET.Element("testsuites", name=f"aliconform {report.run}")
    for source in report.sources:
        suite = suites.get(source.operation)
        if suite is None:
            suite = suites[source.operation] = ET.SubElement(
                root,
                "testsuite",
                name=f"{source.operation}",
                tests="0",
                failures="0",
                errors="0",
                skipped="0",
            )
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"aliconform.{source.section}.{source.operation}",
            name=source.id,
        )
        findings = by_source.get(source.id, [])
        breaking = [f for f in findings if f.status == "new" and f.severity.value == "breaking"]
        if breaking:
            failure = ET.SubElement(
                case,
                "failure",
                type="breaking-drift",
                message="; ".join(f"{f.kind} at {f.path or '/'}" for f in breaking)[:1000],
            )
            failure.text = "\n".join(_line(f) for f in breaking)
            suite.set("failures", str(int(suite.get("failures", "0")) + 1))
        others = [f for f in findings if f not in breaking]
        if others:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in others)
        suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    if report.problems:
        suite = ET.SubElement(
            root,
            "testsuite",
            name="inputs",
            tests=str(len(report.problems)),
            failures="0",
            errors=str(len(report.problems)),
            skipped="0",
        )
        for problem in report.problems:
            case = ET.SubElement(
                suite, "testcase", classname="aliconform.inputs", name=problem.where
            )
            error = ET.SubElement(
                case,
                "error",
                type="unreadable-input",
                message=problem.message.splitlines()[0][:500] if problem.message else "",
            )
            error.text = problem.message
    total = sum(int(s.get("tests", "0")) for s in root)
    failures = sum(int(s.get("failures", "0")) for s in root)
    errors = sum(int(s.get("errors", "0")) for s in root)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
