"""Drift reports: one model, written as HTML, JSON, JUnit XML and Markdown, and compared."""

from aliconform.report.build import (
    ReportInput,
    build_report,
    fuzz_report,
    record_report,
    replay_report,
    scan_report,
)
from aliconform.report.diff import ReportDiff, diff_reports, load_report
from aliconform.report.model import REPORT_FORMAT_VERSION, DriftReport, ReportFinding
from aliconform.report.writer import ReportFiles, check_report_directory, write_reports

__all__ = [
    "REPORT_FORMAT_VERSION",
    "DriftReport",
    "ReportDiff",
    "ReportFiles",
    "ReportFinding",
    "ReportInput",
    "build_report",
    "check_report_directory",
    "diff_reports",
    "fuzz_report",
    "load_report",
    "record_report",
    "replay_report",
    "scan_report",
    "write_reports",
]
