"""The HTML report: one self-contained file (inline CSS and script, no external assets).

Jinja2 autoescaping escapes every value that came from a response; a Content-Security-Policy
that admits only the report's own script (by hash) means even an escaping mistake could not run
injected script.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from aliconform.drift.findings import shown_path
from aliconform.report.model import OPERATION_COUNTS, DriftReport

__all__ = ["render_html"]


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
