"""No credential in a committed cassette or a written report.

Scans the repository's cassettes/ and reports/ (reports/ may not exist in a fresh clone) with
aliconform's secret scan, and fails with every hit as `file:line rule preview`.
"""

from __future__ import annotations

from pathlib import Path

from aliconform.secrets import files_to_scan, format_hit, scan_secrets

REPO = Path(__file__).resolve().parent.parent


def test_no_secrets_in_cassettes_or_reports() -> None:
    paths = [path for path in (REPO / "cassettes", REPO / "reports") if path.exists()]
    files = files_to_scan(paths)
    assert files, f"nothing to scan under {', '.join(str(path) for path in paths) or REPO}"
    hits = scan_secrets(files, root=REPO)
    assert not hits, f"{len(hits)} suspected secret(s):\n" + "\n".join(map(format_hit, hits))
