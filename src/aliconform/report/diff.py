"""Comparing two reports: which findings are new, which were fixed, which stayed, which changed.

Findings are matched by their stable id (section, operation, kind, path, rule, source); DeepDiff
compares the two id-keyed maps, so a finding that stays but changes severity or waiver status is
reported as changed rather than as one fixed and one new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepdiff import DeepDiff
from pydantic import ValidationError

from aliconform.errors import AliconformError
from aliconform.report.model import DriftReport, ReportFinding

__all__ = ["ReportDiff", "diff_reports", "load_report"]


@dataclass
class ReportDiff:
    new: list[ReportFinding] = field(default_factory=list)
    fixed: list[ReportFinding] = field(default_factory=list)
    unchanged: list[ReportFinding] = field(default_factory=list)
    changed: list[tuple[ReportFinding, ReportFinding, list[str]]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def brief(f: ReportFinding) -> dict[str, Any]:
            return {k: v for k, v in f.model_dump(mode="json").items() if k != "excerpt"}

        return {
            "new": [brief(f) for f in self.new],
            "fixed": [brief(f) for f in self.fixed],
            "unchanged": [brief(f) for f in self.unchanged],
            "changed": [
                {"old": brief(a), "new": brief(b), "what": what} for a, b, what in self.changed
            ],
        }


def load_report(path: Path) -> DriftReport:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise AliconformError(f"{path}: cannot read report: {exc.strerror or exc}") from None
    try:
        return DriftReport.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"])
        raise AliconformError(
            f"{path}: not an aliconform drift report (format_version 1): at /{where}: {first['msg']}"
        ) from None
    except json.JSONDecodeError as exc:  # pragma: no cover - pydantic reports JSON errors itself
        raise AliconformError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None


_COMPARED = ("severity", "status", "waiver", "message", "count")


def diff_reports(old: DriftReport, new: DriftReport) -> ReportDiff:
    before = {f.id: f for f in old.findings}
    after = {f.id: f for f in new.findings}
    view = DeepDiff(
        {k: {a: getattr(f, a) for a in _COMPARED} for k, f in before.items()},
        {k: {a: getattr(f, a) for a in _COMPARED} for k, f in after.items()},
        view="tree",
    )
    result = ReportDiff()
    added = {
        _top_key(item.path(output_format="list")) for item in view.get("dictionary_item_added", [])
    }
    removed = {
        _top_key(item.path(output_format="list"))
        for item in view.get("dictionary_item_removed", [])
    }
    changes: dict[str, list[str]] = {}
    for kind in ("values_changed", "type_changes"):
        for item in view.get(kind, []):
            path = item.path(output_format="list")
            changes.setdefault(path[0], []).append(
                f"{path[1]}: {_show(item.t1)} -> {_show(item.t2)}"
            )
    result.new = [after[k] for k in after if k in added]
    result.fixed = [before[k] for k in before if k in removed]
    result.changed = [(before[k], after[k], what) for k, what in changes.items()]
    result.unchanged = [after[k] for k in after if k in before and k not in changes]
    return result


def _top_key(path: list[Any]) -> str:
    return str(path[0])


def _show(value: Any) -> str:
    return str(getattr(value, "value", value))
