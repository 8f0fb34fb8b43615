"""Writing a report in every format into one directory, the four files put in place together."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aliconform.cassettes.store import atomic_write_texts
from aliconform.errors import AliconformError
from aliconform.report.html import render_html
from aliconform.report.junit import render_junit
from aliconform.report.markdown import render_markdown
from aliconform.report.model import DriftReport

__all__ = ["ReportFiles", "check_report_directory", "write_reports"]


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path
    junit: Path
    markdown: Path


def check_report_directory(directory: Path, what: str = "the reports") -> None:
    """Whether the reports can be written there, tried before a run that takes minutes (a
    scan, a recording) rather than after it, when its reports would be lost. The directory is
    made and written in; the levels this call made are removed again, so a run refused later
    for other reasons leaves nothing behind. Raises AliconformError naming the directory."""
    made: list[Path] = []
    try:
        for place in [*reversed(directory.parents), directory]:
            try:
                place.mkdir()  # one level: this call knows which it made
            except FileExistsError:  # there already (or "..", or a file: the probe says so)
                continue
            made.append(place)
        with tempfile.TemporaryFile(dir=directory, prefix=".aliconform-probe-"):
            pass
    except OSError as exc:
        raise AliconformError(_unwritable(directory, exc, what)) from exc
    finally:
        for place in reversed(made):  # deepest first, and only what this call made
            with contextlib.suppress(OSError):
                place.rmdir()


def _unwritable(directory: Path, exc: OSError, what: str = "the reports") -> str:
    # A rename's error names the temporary file first, the file it was to replace second; a
    # hidden name is a temporary or a probe of ours, which means nothing to the reader.
    named = Path(str(exc.filename2 or exc.filename or "")).name
    which = f"{named}: " if named and not named.startswith(".") else ""
    return f"cannot write {what} to {directory}: {which}{exc.strerror or exc}"


def write_reports(report: DriftReport, directory: Path) -> ReportFiles:
    """Raises AliconformError when the directory cannot be made or written to."""
    files = ReportFiles(
        directory / "drift.html",
        directory / "drift.json",
        directory / "junit.xml",
        directory / "summary.md",
    )
    # Every file is rendered before any is written, and all four are put in place together:
    # a run stopped or failing on the way leaves the previous run's four, never a mix.
    texts = [
        (files.json, report.model_dump_json(indent=2) + "\n"),
        (files.junit, render_junit(report)),
        (files.markdown, render_markdown(report)),
        (files.html, render_html(report)),
    ]
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_texts(texts)
    except OSError as exc:
        raise AliconformError(_unwritable(directory, exc)) from exc
    return files
