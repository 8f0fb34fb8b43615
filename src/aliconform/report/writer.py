"""Writing a report in every format into one directory, each file atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aliconform.cassettes.store import atomic_write_text
from aliconform.errors import AliconformError
from aliconform.report.html import render_html
from aliconform.report.junit import render_junit
from aliconform.report.markdown import render_markdown
from aliconform.report.model import DriftReport

__all__ = ["ReportFiles", "write_reports"]


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    junit: Path
    markdown: Path


def write_reports(report: DriftReport, directory: Path) -> ReportFiles:
    """Raises AliconformError when the directory cannot be made or written to."""
    files = ReportFiles(
        directory / "drift.html",
        directory / "drift.json",
        directory / "junit.xml",
        directory / "summary.md",
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(files.json, report.model_dump_json(indent=2) + "\n")
        atomic_write_text(files.junit, render_junit(report))
        atomic_write_text(files.markdown, render_markdown(report))
        atomic_write_text(files.html, render_html(report))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AliconformError(f"cannot write the reports to {directory}: {reason}") from exc
    return files
