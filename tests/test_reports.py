"""Reports: the JSON model, JUnit, Markdown, the HTML's escaping, and comparing two runs."""

from __future__ import annotations

import datetime as dt
import errno
import html
import json
import os
import re
import shutil
import signal
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from aliconform import ContractSet, load_contracts
from aliconform.cassettes import replay_all
from aliconform.cli import main
from aliconform.drift.doclint import lint_docs
from aliconform.drift.excerpt import response_excerpt
from aliconform.drift.findings import Severity, shown_path
from aliconform.drift.waivers import load_policy
from aliconform.errors import AliconformError
from aliconform.report import (
    DriftReport,
    diff_reports,
    load_report,
    replay_report,
    write_reports,
    writer,
)
from aliconform.report.build import EXCERPTS_PER_PLACE
from aliconform.report.html import finding_rows
from aliconform.report.markdown import render_diff_markdown
from aliconform.report.model import ReportFinding
from conftest import edit_response_body

REPO = Path(__file__).resolve().parents[1]
POLICY = REPO / "drift-policy.yaml"
XSS = '</code><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _rendered(markdown: str) -> str:
    """The Markdown as HTML, raw HTML allowed through as GitHub does before it sanitises."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def _report(cassettes: Path, contracts: ContractSet) -> DriftReport:
    return replay_report(
        replay_all(cassettes, contracts), lint_docs(contracts), contracts, load_policy(POLICY)
    )


@pytest.fixture
def hostile_cassettes(cassettes_copy: Path) -> Path:
    """Cassettes where one response carries markup and script in a drifted field and a key."""
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    payload = json.dumps(XSS)
    edit_response_body(
        path,
        lambda body: body.replace(
            '"Status": "Succeeded"', f'"Status": {payload}, {json.dumps(XSS[:40])}: 1'
        ),
    )
    return cassettes_copy


def test_json_report_matches_its_published_schema_and_round_trips(
    contracts: ContractSet, tmp_path: Path
) -> None:
    report = _report(REPO / "cassettes", contracts)
    files = write_reports(report, tmp_path)
    data = json.loads(files.json.read_text("utf-8"))
    Draft202012Validator(DriftReport.model_json_schema()).validate(data)
    assert data["format"] == "aliconform-drift-report"
    assert data["format_version"] == 1
    assert load_report(files.json) == report
    sections = {f["section"] for f in data["findings"]}
    assert sections == {"replay", "documentation"}


def test_every_finding_of_a_report_has_an_id_of_its_own(contracts: ContractSet) -> None:
    # report diff pairs findings by id: two sharing one (divergences on different error codes,
    # which have no place in the response) would be taken for one finding seen twice.
    report = _report(REPO / "cassettes", contracts)
    ids = [f.id for f in report.findings]
    assert len(set(ids)) == len(ids)
    assert any(f.path == "" and (f.field or "").startswith("error ") for f in report.findings)


def test_findings_alike_in_every_part_of_their_id_still_have_one_each(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    """A key with a right-to-left override and a key spelling that override's escape share a
    pointer (the first is shown escaped); two divergences of one aspect on one field share
    everything an id is made of. Each still gets an id, and a JUnit case, of its own, and
    `report diff` reads the report back."""
    _replace_status(cassettes_copy, '"Status": "Succeeded", "a\\u202eb": 1, "a\\\\u202eb": 2')
    shutil.copytree(REPO / "contracts", tmp_path / "contracts")
    contract = tmp_path / "contracts" / "imm" / "GetVideoModerationResult.yaml"
    text = contract.read_text("utf-8")
    start = text.index("        - aspect: value")  # RequestId's divergence
    second = (
        "        - aspect: value\n"
        "          claims:\n"
        "            - {source: doc-table, where: Response parameters, says: a request ID}\n"
        "            - {source: doc-example, where: Examples, says: a task ID}\n"
        "          kept: any string\n"
        "          reason: A second reading of the same aspect.\n"
    )
    contract.write_text(text[:start] + second + text[start:], "utf-8")
    edited = load_contracts(tmp_path / "contracts")
    report = _report(cassettes_copy, edited)
    escaped = [f for f in report.findings if f.path == "/a\\u202eb"]
    assert len(escaped) == 2
    twice = [
        f for f in report.findings if f.kind == "documented-divergence" and f.path == "/RequestId"
    ]
    assert len(twice) == 2
    ids = [f.id for f in report.findings]
    assert len(set(ids)) == len(ids)
    files = write_reports(report, tmp_path / "r")
    assert load_report(files.json) == report
    cases = [(c.get("classname"), c.get("name")) for c in ET.parse(files.junit).iter("testcase")]
    assert len(set(cases)) == len(cases)


def test_new_findings_come_before_waived_ones_whatever_their_severity(
    contracts: ContractSet, tmp_path: Path
) -> None:
    """The committed cassettes: waived breaking contradictions of the documentation, and one
    new warning; the warning is what a reader must see first, in every table."""
    report = _report(REPO / "cassettes", contracts)
    statuses = [f.status for f in report.findings]
    assert "waived" in statuses
    assert statuses == sorted(statuses)
    assert any(f.status == "waived" and f.severity is Severity.BREAKING for f in report.findings)
    page = write_reports(report, tmp_path).html.read_text("utf-8")
    first_row = re.search(r'<tr class="finding"[^>]*data-status="(\w+)"', page)
    assert first_row is not None
    assert first_row.group(1) == "new"


def test_report_counts_per_operation_add_up(contracts: ContractSet) -> None:
    report = _report(REPO / "cassettes", contracts)
    counted = [f for f in report.findings if not f.repeats]
    for summary in report.operations:
        mine = [f for f in counted if f.operation == summary.operation]
        assert summary.waived == sum(1 for f in mine if f.status == "waived")
        for severity in ("breaking", "warning", "info"):
            assert getattr(summary, severity) == sum(
                1 for f in mine if f.status == "new" and f.severity.value == severity
            )
    assert report.verdict.passed
    assert report.verdict.waived == sum(1 for f in counted if f.status == "waived") > 0
    assert report.verdict.new == sum(1 for f in counted if f.status == "new")
    warnings = sum(1 for f in counted if f.status == "new" and f.severity.value == "warning")
    assert report.verdict.headline == f"No new breaking drift ({warnings} new warning(s))"


def test_a_documentation_contradiction_replayed_from_its_derived_cassette_is_counted_once(
    contracts: ContractSet,
) -> None:
    """doc-example-* cassettes replay the documentation's examples, so they show the same
    contradictions the documentation lint reports for those examples."""
    report = _report(REPO / "cassettes", contracts)
    by_id = {f.id: f for f in report.findings}
    repeats = [f for f in report.findings if f.repeats]
    assert repeats
    for finding in repeats:
        assert finding.section == "replay"
        assert "/doc-example-" in (finding.source or "")
        linted = by_id[finding.repeats or ""]
        assert linted.section == "documentation"
        assert (linted.operation, linted.kind, linted.path, linted.observed) == (
            finding.operation,
            finding.kind,
            finding.path,
            finding.observed,
        )
        assert (finding.source or "").startswith(f"{linted.source} (cassette ")
    # every replay finding of a derived cassette that the lint also reports is a repeat
    lint = {
        (f.source, f.kind, f.path, f.observed)
        for f in report.findings
        if f.section == "documentation"
    }
    unmarked = [
        f
        for f in report.findings
        if f.section == "replay"
        and not f.repeats
        and ((f.source or "").split(" (cassette ")[0], f.kind, f.path, f.observed) in lint
    ]
    assert unmarked == []


def test_a_repeat_judged_otherwise_than_the_lint_finding_is_counted_on_its_own(
    contracts: ContractSet, tmp_path: Path
) -> None:
    """Waivers scoped to the lint's own source (not the cassettes replaying it) leave the
    cassettes' findings new and breaking: they must decide the verdict."""
    policy_text = POLICY.read_text("utf-8").replace(
        "source: documentation *", 'source: "documentation *[!)]"'
    )
    policy_file = tmp_path / "drift-policy.yaml"
    policy_file.write_text(policy_text, "utf-8")
    report = replay_report(
        replay_all(REPO / "cassettes", contracts),
        lint_docs(contracts),
        contracts,
        load_policy(policy_file),
    )
    new_breaking = [
        f for f in report.findings if f.status == "new" and f.severity.value == "breaking"
    ]
    assert new_breaking
    assert all(f.section == "replay" and f.repeats is None for f in new_breaking)
    assert report.verdict.new_breaking == len(new_breaking)
    assert report.verdict.exit_code == 1


def test_drift_edited_into_a_derived_cassette_is_not_taken_for_a_repeat(
    hostile_cassettes: Path, contracts: ContractSet
) -> None:
    report = _report(hostile_cassettes, contracts)
    [edited] = [f for f in report.findings if f.kind == "undocumented-enum-value"]
    assert edited.repeats is None
    assert report.verdict.new_breaking == 1


def test_junit_fails_exactly_the_interactions_with_new_breaking_drift(
    hostile_cassettes: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    files = write_reports(_report(hostile_cassettes, contracts), tmp_path)
    root = ET.parse(files.junit).getroot()
    failed = [case for case in root.iter("testcase") if case.find("failure") is not None]
    assert len(failed) == 1
    assert "GetImageModerationResult/doc-example-success.yaml#0" in failed[0].get("name", "")
    assert "undocumented-enum-value at /Status" in (failed[0].find("failure").get("message") or "")  # type: ignore[union-attr]
    assert root.get("failures") == "1"
    assert int(root.get("tests", "0")) == sum(1 for _ in root.iter("testcase"))
    # The attributes Jenkins' junit-10.xsd allows (it refuses a file with any other).
    assert set(root.attrib) <= {"name", "time", "tests", "failures", "errors"}
    for suite in root:
        assert {"name", "tests", "failures", "errors"} <= set(suite.attrib)
        assert set(suite.attrib) <= {"name", "tests", "failures", "errors", "skipped", "time"}


def test_markdown_summary_states_the_verdict_and_escapes_cells(
    hostile_cassettes: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    text = write_reports(_report(hostile_cassettes, contracts), tmp_path).markdown.read_text(
        "utf-8"
    )
    assert text.startswith("## ❌ aliconform: 1 new breaking finding(s)")
    rendered = _rendered(text)
    assert "<script>" not in rendered
    assert "&lt;script&gt;" in rendered
    # The drifted key, a path in a code span, reads exactly as in the response: no entity or
    # backslash of the escaping that text outside code spans needs.
    key = html.escape(XSS[:40].replace("/", "~1"), quote=False)
    assert f"<code>/{key}</code>" in rendered
    table_rows = [line for line in text.splitlines() if line.startswith("| breaking")]
    assert table_rows
    assert all(line.count(" | ") == 6 for line in table_rows)
    # The enum's documented values, as JSON writes them (not Python's ['...']).
    (enum_row,) = [line for line in table_rows if "undocumented-enum-value" in line]
    assert '\\["Running", "Succeeded", "Failed"\\]' in enum_row, enum_row


@pytest.mark.parametrize("value", ['"\\">x', '"a\\\\|b"', '"x`y``z"', '"\\*not emphasis\\*"'])
def test_markdown_cells_show_backslashes_and_backticks_as_the_response_has_them(
    value: str,
) -> None:
    """A cell renders to the text it quotes: Markdown consumes no backslash and keeps every
    backtick (code spans aside, where the text is literal anyway)."""
    from aliconform.report.markdown import _cell

    row = f"| a | b |\n|---|---|\n| {_cell(value)} | c |\n"
    cell = re.search(r"<td>(.*?)</td>", _rendered(row))
    assert cell is not None
    assert html.unescape(cell.group(1)) == value


def test_markdown_never_links_or_mentions_from_the_text_it_quotes() -> None:
    """GitHub links a bare URL or www. name and notifies an @name even in escaped text: each
    is shown in a code span instead, exactly as written (no backslash in a URL's '_')."""
    from aliconform.report.markdown import _cell

    value = "see www.evil.example/x and https://help.example/document_detail/1.html, cc @octocat"
    row = f"| a | b |\n|---|---|\n| {_cell(value)} | c |\n"
    rendered = _rendered(row)
    for shown in ("www.evil.example/x", "https://help.example/document_detail/1.html", "@octocat"):
        assert f"<code>{shown}</code>" in rendered, shown
    cell = re.search(r"<td>(.*?)</td>", rendered)
    assert cell is not None
    assert html.unescape(re.sub(r"</?code>", "", cell.group(1))) == value


def test_the_markdown_files_fit_a_pull_request_comment(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    """Three undocumented keys of 30,000 characters made a summary of 97,616 characters;
    GitHub refuses a comment over 65,536."""
    from aliconform.report.markdown import MARKDOWN_LIMIT

    keys = ", ".join(f'"{letter * 30_000}": 1' for letter in "xyz")
    _replace_status(cassettes_copy, f'"Status": "Succeeded", {keys}')
    report = _report(cassettes_copy, contracts)
    summary = write_reports(report, tmp_path).markdown.read_text("utf-8")
    assert len(summary) <= MARKDOWN_LIMIT
    assert "x" * 150 in summary  # shortened, not dropped
    clean = _report(REPO / "cassettes", contracts)
    comment = render_diff_markdown(diff_reports(clean, report), "old.json", "new.json")
    assert len(comment) <= MARKDOWN_LIMIT
    assert comment.count("- new: ") == 3


def test_html_escapes_every_response_value_and_allows_only_its_own_script(
    hostile_cassettes: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    html = write_reports(_report(hostile_cassettes, contracts), tmp_path).html.read_text("utf-8")
    assert html.count("<script") == 1  # the report's own
    assert "<img" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    assert "script-src 'sha256-" in policy.group(1)
    assert "unsafe-inline" not in policy.group(1).split("script-src")[1]
    assert not re.search(r"(src|href)=\"https?://", html), "the report must not load anything"


def test_excerpt_marks_the_line_of_a_pointer_inside_a_json_string_payload() -> None:
    body = json.dumps({"Results": {"Result": [{"Type": "Meta", "Data": json.dumps({"title": 5})}]}})
    lines = response_excerpt(body, "/Results/Result/0/Data/title", ("/Results/Result/0/Data",))
    (hit,) = [line for line in lines if line.hit]
    assert hit.text.strip() == '"title": 5'
    missing = response_excerpt(body, "/Results/Result/0/Absent")
    (parent,) = [line for line in missing if line.hit]
    assert parent.text.strip() == "{"


def test_a_response_with_many_findings_is_laid_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An added field in each of thousands of array elements: one layout for all the excerpts,
    not one per finding (which made a report take minutes)."""
    from aliconform.drift import excerpt

    calls: list[int] = []
    real = excerpt.layout

    def counted(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(excerpt, "layout", counted)
    frames = [{"Rate": 30, "Offset": index, "Extra": index} for index in range(300)]
    body = json.dumps({"ModerationResult": {"Frames": {"BlockFrames": frames}}}).encode()
    for index in (0, 150, 299):
        lines = response_excerpt(body, f"/ModerationResult/Frames/BlockFrames/{index}/Extra")
        (hit,) = [line for line in lines if line.hit]
        assert hit.text.strip() == f'"Extra": {index}'
    assert len(calls) == 1


def test_report_diff_shows_new_fixed_and_unchanged(
    hostile_cassettes: Path,
    contracts: ContractSet,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = write_reports(_report(REPO / "cassettes", contracts), tmp_path / "old").json
    new = write_reports(_report(hostile_cassettes, contracts), tmp_path / "new").json
    result = diff_reports(load_report(old), load_report(new))
    assert {(f.kind, f.path) for f in result.new} == {
        ("undocumented-enum-value", "/Status"),
        ("undocumented-field", "/" + XSS[:40].replace("~", "~0").replace("/", "~1")),
    }
    assert result.fixed == []
    assert len(result.unchanged) == len(load_report(old).findings)
    back = diff_reports(load_report(new), load_report(old))  # the drift undone: fixed
    assert {(f.kind, f.path) for f in back.fixed} == {(f.kind, f.path) for f in result.new}
    assert back.new == []
    assert main(["report", "diff", str(old), str(new), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["new"]) == 2
    assert main(["report", "diff", str(old), str(old)]) == 0
    assert "0 new, 0 fixed, 0 changed" in capsys.readouterr().out


@pytest.fixture
def report_pair(
    hostile_cassettes: Path, contracts: ContractSet, tmp_path: Path
) -> tuple[Path, Path]:
    """drift.json of the committed cassettes, then of the same with hostile drift edited in."""
    old = write_reports(_report(REPO / "cassettes", contracts), tmp_path / "old").json
    new = write_reports(_report(hostile_cassettes, contracts), tmp_path / "new").json
    return old, new


def _counted(report: DriftReport) -> ReportFinding:
    """A finding the verdict counts (not the repeat of a documentation lint's finding)."""
    return next(f for f in report.findings if not f.repeats)


def test_report_diff_fails_on_what_got_worse_when_asked(
    report_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = report_pair
    clean = load_report(old)
    diff = ["report", "diff", str(old), str(new)]
    assert main(diff) == 0  # informative unless asked
    capsys.readouterr()
    # the new enum value is breaking, the new key a warning
    assert main([*diff, "--fail-on", "breaking"]) == 1
    assert "--fail-on breaking: 1 finding(s) new or worse" in capsys.readouterr().err
    assert main([*diff, "--fail-on", "warning", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert len(data["worse"]) == 2
    assert data["fail_on"] == "warning"
    # what was fixed never fails
    assert main(["report", "diff", str(new), str(old), "--fail-on", "info"]) == 0
    capsys.readouterr()
    # a finding whose waiver lapsed, or whose severity rose past the threshold, got worse
    first = _counted(clean)
    waived = first.model_copy(
        update={"status": "waived", "waiver": "w", "severity": Severity.BREAKING}
    )
    lapsed = waived.model_copy(update={"status": "new", "waiver": None})
    quieter = lapsed.model_copy(update={"severity": Severity.WARNING})
    before = write_reports(clean.model_copy(update={"findings": [waived]}), tmp_path / "b").json
    after = write_reports(clean.model_copy(update={"findings": [lapsed]}), tmp_path / "a").json
    assert main(["report", "diff", str(before), str(after), "--fail-on", "breaking"]) == 1
    milder = write_reports(clean.model_copy(update={"findings": [quieter]}), tmp_path / "m").json
    assert main(["report", "diff", str(after), str(milder), "--fail-on", "warning"]) == 0
    capsys.readouterr()
    # a warning that became breaking fails every threshold it reaches, the lower ones too: a
    # stricter threshold never passes what a looser one fails
    for threshold in ("breaking", "warning", "info"):
        assert main(["report", "diff", str(milder), str(after), "--fail-on", threshold]) == 1
    changed = capsys.readouterr().out
    assert "severity: warning -> breaking" in changed
    assert f"({lapsed.source})" in changed  # which copy changed, as new and fixed lines say
    # a waiver that lapsed says what it became, not Python's None
    assert main(["report", "diff", str(before), str(after)]) == 0
    assert "waiver: w -> (none)" in capsys.readouterr().out
    assert main([*diff, "--fail-on", "braking"]) == 2
    assert "did you mean 'breaking'" in capsys.readouterr().err


def test_report_diff_fails_on_another_undocumented_value_where_one_was_seen(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Code that learnt to handle Suggestion "maybe" does not handle "delete-account": the same
    # finding (kind, place, source), but a new value, and so worse.
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    reports = []
    for value in ("maybe", "delete-account"):
        edit_response_body(
            path,
            lambda body, v=value: re.sub(r'"Suggestion": "[^"]*"', f'"Suggestion": "{v}"', body),
        )
        reports.append(write_reports(_report(cassettes_copy, contracts), tmp_path / value).json)
    result = diff_reports(load_report(reports[0]), load_report(reports[1]))
    ((_, after, what),) = result.changed
    assert (after.kind, after.path) == ("undocumented-enum-value", "/ModerationResult/Suggestion")
    assert any(change.startswith("observed:") for change in what)
    assert result.worse(Severity.BREAKING) == [after]
    assert main(["report", "diff", str(reports[0]), str(reports[1]), "--fail-on", "breaking"]) == 1
    assert "--fail-on breaking: 1 finding(s) new or worse" in capsys.readouterr().err
    # the same value in both: unchanged, and passing
    assert diff_reports(load_report(reports[1]), load_report(reports[1])).worse(Severity.INFO) == []


def _enum_drift(template: ReportFinding, section: str, path: str, *values: str) -> ReportFinding:
    """An undocumented enum value at path, as a report keeps it: a scan's distinct values in
    observed_values (when there are several), a replay's one value in observed."""
    return template.model_copy(
        update={
            "id": f"{section}{path}{values}",
            "section": section,
            "status": "new",
            "waiver": None,
            "kind": "undocumented-enum-value",
            "severity": Severity.BREAKING,
            "path": path,
            "observed": values[0],
            "observed_values": list(values) if len(values) > 1 else [],
            "count": len(values),
        }
    )


def test_report_diff_compares_a_scan_s_observed_values_as_a_set(
    report_pair: tuple[Path, Path],
) -> None:
    """A value seen only in the later scan is worse wherever it comes in the list; the same
    values in another order, or fewer of them, are not."""
    clean = load_report(report_pair[0])
    template = _counted(clean)

    def scan(*values: str) -> DriftReport:
        finding = _enum_drift(template, "scan", "/ModerationResult/Suggestion", *values)
        return clean.model_copy(update={"run": "scan", "findings": [finding]})

    maybe, delete = '"maybe"', '"delete"'
    grew = diff_reports(scan(maybe), scan(maybe, delete))
    ((_, after, what),) = grew.changed
    assert what == ["count: 1 -> 2", f"observed: {maybe} -> {delete}, {maybe}"]
    assert grew.worse(Severity.BREAKING) == [after]
    reordered = diff_reports(scan(delete, maybe), scan(maybe, delete))
    assert reordered.changed == []
    assert reordered.worse(Severity.INFO) == []
    shrank = diff_reports(scan(maybe, delete), scan(delete))
    ((_, _, what),) = shrank.changed
    assert what == ["count: 2 -> 1", f"no longer observed: {maybe}"]
    assert shrank.worse(Severity.INFO) == []
    # Past the values a scan kept, a value not in the earlier list may have been seen there:
    # said, not failed on; and one missing from a later list that was cut is not "fixed".
    cut = scan(maybe, delete).model_copy(deep=True)
    cut.findings[0].more_observed_values = True
    unsure = diff_reports(cut, scan(maybe, delete, '"hold"'))
    ((_, _, what),) = unsure.changed
    assert 'observed, maybe not for the first time: "hold"' in what[-1]
    assert unsure.worse(Severity.INFO) == []
    shown_first = scan(maybe, maybe).model_copy(deep=True)  # "delete" past what it kept
    shown_first.findings[0].more_observed_values = True
    later = diff_reports(scan(maybe, delete), shown_first)
    assert not any("no longer" in change for _, _, what in later.changed for change in what)


def test_report_diff_sees_no_change_where_only_the_observed_time_moved(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    """An invariant's message quotes the times it compared: a recording a second later is the
    same drift, not a changed one, or every live re-recording would list changes."""
    before = _report(cassettes_copy, contracts)
    path = cassettes_copy / "ice" / "QueryIProductionJob" / "doc-example-success.yaml"
    edit_response_body(path, lambda body: body.replace("14:50:25Z", "14:50:26Z"))
    after = _report(cassettes_copy, contracts)
    moved = [f for f in after.findings if "14:50:26Z" in f.message]
    assert moved  # the message did change
    assert diff_reports(before, after).changed == []
    # An invariant's expected value comes from the exchange (the JobId a job echoes): another
    # recording's is no change either; another kind's expected is the contract's, and is one.
    for kind, changes in (("invariant-violation", 0), ("type-mismatch", 1)):
        echoed = after.model_copy(deep=True)
        echoed.findings[0].kind = kind
        later = echoed.model_copy(deep=True)
        later.findings[0].expected = "job-2222"
        assert len(diff_reports(echoed, later).changed) == changes, kind


def test_report_diff_matches_one_drift_across_an_array_that_grew(
    report_pair: tuple[Path, Path],
) -> None:
    """The same drift in every element of a live array that has two elements, then three, is
    the same drift (count 2 -> 3): neither new nor fixed, and not worse."""
    clean = load_report(report_pair[0])
    template = _counted(clean)

    def replay(elements: int) -> DriftReport:
        findings = [
            _enum_drift(template, "replay", f"/ModerationResult/Frames/BlockFrames/{i}/X", '"a"')
            for i in range(elements)
        ]
        return clean.model_copy(update={"findings": findings})

    grew = diff_reports(replay(2), replay(3))
    assert (grew.new, grew.fixed) == ([], [])
    ((_, _, what),) = grew.changed
    assert what == ["count: 2 -> 3"]
    assert grew.worse(Severity.INFO) == []
    assert diff_reports(replay(0), replay(3)).new == replay(3).findings
    assert diff_reports(replay(2), replay(0)).fixed == replay(2).findings


def test_report_diff_markdown_shows_response_text_in_code_spans(
    report_pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = report_pair
    assert main(["report", "diff", str(old), str(new), "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### `")
    rendered = _rendered(text)
    assert "<script>" not in rendered
    key = html.escape(XSS[:40].replace("/", "~1"), quote=False)
    assert "<li>new: warning <code>GetImageModerationResult</code> " in rendered
    assert f"<code>/{key}</code>" in rendered


def test_a_report_with_members_a_later_version_added_is_read(
    report_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    """format_version changes only when a member is removed or changes meaning: a reader
    ignores one it does not know, and the published schema allows it."""
    data = json.loads(report_pair[1].read_text("utf-8"))
    data["added_later"] = {"anything": 1}
    data["findings"][0]["added_later"] = True
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(data), "utf-8")
    assert diff_reports(load_report(report_pair[1]), load_report(newer)).changed == []
    Draft202012Validator(DriftReport.model_json_schema()).validate(data)


def test_report_diff_rejects_a_file_that_is_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"format": "something-else"}', "utf-8")
    assert main(["report", "diff", str(bogus), str(bogus)]) == 2
    assert "not an aliconform drift report" in capsys.readouterr().err


def test_report_diff_refuses_a_report_that_lacks_what_every_report_holds(
    report_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cut-down file compared as a report with no findings would pass a CI gate: 0 new."""
    old, _ = report_pair
    written = json.loads(old.read_text("utf-8"))

    def refused(data: Any, name: str) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data), "utf-8")
        assert main(["report", "diff", str(old), str(path), "--fail-on", "breaking"]) == 2
        return " ".join(capsys.readouterr().err.split())

    for key in ("findings", "format", "format_version", "verdict"):
        cut = {k: v for k, v in written.items() if k != key}
        assert f"not an aliconform drift report (format_version 1): at /{key}: " in refused(
            cut, f"no-{key}.json"
        )
    assert "at /format_version: " in refused(dict(written, format_version=True), "bool.json")
    twice = dict(written, findings=[*written["findings"], written["findings"][0]])
    first_id = written["findings"][0]["id"]
    message = refused(twice, "twice.json")
    assert f"finding id {first_id} appears twice (/findings/0 and /findings/" in message
    # A byte-order mark (an editor's) is no reason to refuse it
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + old.read_bytes())
    assert main(["report", "diff", str(old), str(marked)]) == 0
    # The published schema says the same
    schema = DriftReport.model_json_schema()
    assert {"findings", "format", "format_version", "verdict"} <= set(schema["required"])


def test_report_diff_of_reports_with_nothing_in_common_and_a_changed_severity(
    contracts: ContractSet, tmp_path: Path
) -> None:
    report = _report(REPO / "cassettes", contracts)
    first, second, *_rest = report.findings
    only_first = report.model_copy(update={"findings": [first]})
    only_second = report.model_copy(update={"findings": [second]})
    result = diff_reports(only_first, only_second)
    assert ([f.id for f in result.new], [f.id for f in result.fixed]) == ([second.id], [first.id])
    louder = first.model_copy(
        update={
            "severity": Severity.BREAKING
            if first.severity is not Severity.BREAKING
            else Severity.INFO
        }
    )
    changed = diff_reports(only_first, only_first.model_copy(update={"findings": [louder]}))
    ((_, _, what),) = changed.changed
    assert what == [f"severity: {first.severity.value} -> {louder.severity.value}"]
    assert not changed.new
    assert not changed.fixed
    assert not changed.unchanged


def test_report_diff_says_when_the_two_runs_are_not_alike(
    contracts: ContractSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay = _report(REPO / "cassettes", contracts)
    assert diff_reports(replay, replay).caveats == []
    scan = replay.model_copy(update={"run": "scan", "findings": replay.findings[:1]})
    (caveat,) = diff_reports(replay, scan).caveats
    assert caveat.startswith("the reports come from different kinds of run (replay, then scan)")
    # The same run from another checkout: its paths differ, and that says nothing.
    elsewhere = replay.model_copy(update={"inputs": {"contracts": "/elsewhere/contracts"}})
    assert diff_reports(replay, elsewhere).caveats == []
    old = write_reports(replay, tmp_path / "old").json
    new = write_reports(scan, tmp_path / "new").json
    assert main(["report", "diff", str(old), str(new)]) == 0
    assert "note: the reports come from different kinds of run" in capsys.readouterr().out
    assert main(["report", "diff", str(old), str(new), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["caveats"] == [caveat]


def _replace_status(cassettes: Path, replacement: str) -> None:
    """Drift one cassette's response: its Status (and what follows) spelled as given."""
    path = cassettes / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    edit_response_body(path, lambda body: body.replace('"Status": "Succeeded"', replacement))


def test_a_finding_whose_waiver_lapsed_says_so_in_every_report(
    cassettes_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Known drift whose waiver expired is new again, and fails; but a reader must tell it
    from drift never seen before."""
    _replace_status(cassettes_copy, '"Status": "Weird"')
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "format_version: 1\nextends: aliconform\nwaivers:\n"
        "  - id: weird-status\n    operation: GetImageModerationResult\n"
        "    kind: undocumented-enum-value\n    path: /Status\n"
        "    reason: the service said Weird for a while\n    expires: 2020-01-01\n",
        "utf-8",
    )
    out = tmp_path / "r"
    argv = [
        "replay",
        "--cassettes",
        str(cassettes_copy),
        "--policy",
        str(policy),
        "--out",
        str(out),
    ]
    assert main(argv) == 1
    assert "(waiver weird-status expired)" in " ".join(capsys.readouterr().out.split())
    (finding,) = [f for f in load_report(out / "drift.json").findings if f.path == "/Status"]
    assert (finding.status, finding.lapsed_waiver) == ("new", "weird-status")
    assert "(waiver weird-status expired)" in (out / "drift.html").read_text("utf-8")
    assert "(waiver `weird-status` expired)" in (out / "summary.md").read_text("utf-8")
    others = [f for f in load_report(out / "drift.json").findings if f.path != "/Status"]
    assert all(f.lapsed_waiver is None for f in others)
    # Added within format_version 1: written only when a waiver lapsed, so that a reader
    # from before it (which refuses a member it does not know) reads every other report.
    written = json.loads((out / "drift.json").read_text("utf-8"))["findings"]
    assert [f["path"] for f in written if "lapsed_waiver" in f] == ["/Status"]


def test_junit_stays_well_formed_with_control_characters_in_a_response(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    _replace_status(cassettes_copy, '"Status": "Succ\\u0001eeded", "Ex\\u0002": 1')
    files = write_reports(_report(cassettes_copy, contracts), tmp_path)
    root = ET.parse(files.junit).getroot()  # raises on malformed XML
    assert root.get("failures") == "1"
    # Recorded divergences belong to no cassette: each is its own test case, not lost.
    names = [case.get("name", "") for case in root.iter("testcase")]
    assert any("documented-divergence" in name for name in names)


def test_every_report_is_written_when_a_response_holds_lone_surrogates(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    # JSON may escape half a surrogate pair, which no UTF-8 file can hold as it is.
    _replace_status(cassettes_copy, '"Status": "Succ\\ud800eeded", "Ex\\udc00": 1')
    files = write_reports(_report(cassettes_copy, contracts), tmp_path)
    report = load_report(files.json)
    paths = {finding.path for finding in report.findings}
    assert "/Ex\\udc00" in paths
    assert "/Status" in paths
    for written in (files.html, files.markdown, files.junit):
        assert "\\udc00" in written.read_text("utf-8")
    assert "Succ\\ud800eeded" in files.html.read_text("utf-8")


def test_findings_keep_their_ids_when_the_cassettes_directory_has_another_name(
    contracts: ContractSet, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "recorded-2026-11"
    shutil.copytree(REPO / "cassettes", elsewhere)
    here, there = _report(REPO / "cassettes", contracts), _report(elsewhere, contracts)
    assert any(f.source and "recorded-2026-11/" in f.source for f in there.findings)
    assert [f.id for f in here.findings] == [f.id for f in there.findings]
    result = diff_reports(here, there)
    assert (len(result.new), len(result.fixed), len(result.unchanged)) == (
        0,
        0,
        len(here.findings),
    )


def _offsets_as_text_in_300_frames(cassettes: Path, **also: object) -> None:
    """One drift in every element of a long array: image moderation's BlockFrames, 300 of them,
    each Offset a string (a distinct one each); also, other members set at the root."""
    path = cassettes / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"

    def drift(body: str) -> str:
        data = json.loads(body)
        frames = data["ModerationResult"]["Frames"]
        frame = frames["BlockFrames"][0]
        frames["BlockFrames"] = [dict(frame, Offset=str(index)) for index in range(300)]
        return json.dumps(data | also)

    edit_response_body(path, drift)


def test_markdown_summary_shows_each_distinct_drift_once_with_its_count(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    """One drift in every element of a long array must not push the others out of the
    summary (it shows 20 rows), nor fill a pull-request comment."""
    _offsets_as_text_in_300_frames(cassettes_copy, RequestId=7)
    text = write_reports(_report(cassettes_copy, contracts), tmp_path).markdown.read_text("utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| breaking")]
    assert any(
        "`/ModerationResult/Frames/BlockFrames/*/Offset (300 times" in row for row in rows
    ), rows
    assert any("300 times" in row for row in rows)
    assert any("/RequestId" in row for row in rows)
    assert len(rows) < 10


def test_markdown_summary_says_how_many_lint_findings_it_leaves_out(
    contracts: ContractSet, tmp_path: Path
) -> None:
    report = _report(REPO / "cassettes", contracts)
    (one,) = [f for f in report.findings_in("documentation") if f.path == "/FinishTime"]
    many = [one.model_copy(update={"path": f"/Extra{i}", "id": f"x{i}"}) for i in range(30)]
    report = report.model_copy(update={"findings": [*report.findings, *many]})
    shown = len([f for f in report.findings_in("documentation") if f.status == "new"]) - 20
    text = write_reports(report, tmp_path).markdown.read_text("utf-8")
    assert f"…and {shown} more in drift.html / drift.json." in text


def test_markdown_summary_lists_the_lint_findings_the_verdict_counts(
    contracts: ContractSet, tmp_path: Path
) -> None:
    """The shipped cassettes give one new warning, the lint's: the summary must show it."""
    report = _report(REPO / "cassettes", contracts)
    unwaived = [f for f in report.findings_in("documentation") if f.status == "new"]
    assert unwaived
    text = write_reports(report, tmp_path).markdown.read_text("utf-8")
    for finding in unwaived:
        assert f"`{shown_path(finding.path, finding.field)}`" in text
        assert f"`{finding.kind}`" in text
    # the sentence on repeated findings is a paragraph: straight after the table's last row,
    # GitHub reads it as another row
    lines = text.splitlines()
    (repeats,) = [i for i, line in enumerate(lines) if "repeat the lint's findings" in line]
    assert lines[repeats - 1] == ""


def test_markdown_summary_lists_every_value_observed_at_one_place(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    """Three results with three undocumented Types are one row; it shows the three values."""
    path = cassettes_copy / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"

    def three_results(body: str) -> str:
        data = json.loads(body)
        (result,) = data["Results"]["Result"]
        data["Results"]["Result"] = [
            {**result, "Type": name} for name in ("Faces", "Music", "Scenes")
        ]
        return json.dumps(data)

    edit_response_body(path, three_results)
    text = write_reports(_report(cassettes_copy, contracts), tmp_path).markdown.read_text("utf-8")
    (row,) = [
        line
        for line in text.splitlines()
        if "/Results/Result/*/Type" in line and "undocumented-enum-value" in line
    ]
    for name in ("Faces", "Music", "Scenes"):
        assert name in row, row


def test_a_severity_the_drift_policy_set_carries_the_policy_s_reason_into_every_report(
    contracts: ContractSet, tmp_path: Path
) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "extends: aliconform\n"
        "severity:\n"
        "  - kind: invariant-violation\n"
        "    operation: QueryIProductionJob\n"
        "    severity: breaking\n"
        "    reason: our billing <relies> on FinishTime >= CreateTime\n",
        "utf-8",
    )
    report = replay_report(
        replay_all(REPO / "cassettes", contracts),
        lint_docs(contracts),
        contracts,
        load_policy(policy_file),
    )
    raised = [f for f in report.findings if f.kind == "invariant-violation"]
    assert raised
    assert {(f.severity, f.severity_reason) for f in raised} == {
        (Severity.BREAKING, "our billing <relies> on FinishTime >= CreateTime")
    }
    others = [f for f in report.findings if f.operation != "QueryIProductionJob"]
    assert others
    assert all(f.severity_reason is None for f in others)
    files = write_reports(report, tmp_path / "out")
    page = files.html.read_text("utf-8")
    why = re.findall(r"<dt>why this severity</dt><dd>(.*?)</dd>", page)
    assert (
        "breaking: set by the drift policy: our billing &lt;relies&gt; on FinishTime &gt;= CreateTime"
    ) in why
    # the kind's default rationale ("warning: ...") is shown only where the default holds
    defaults = [f for f in report.findings if f.kind == "invariant-violation" and f not in raised]
    assert sum(line.startswith("warning: each field is well-formed") for line in why) == len(
        defaults
    )
    assert sum("set by the drift policy" in line for line in why) == len(raised)
    junit = files.junit.read_text("utf-8")
    assert "severity set by the drift policy: our billing &lt;relies&gt;" in junit
    assert load_report(files.json) == report


def test_the_console_marks_a_cassette_finding_that_repeats_the_documentation_lint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verdict counts such a finding once; the console lists both copies, so it says which
    one is the repeat."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "extends: aliconform\nseverity:\n  - kind: invariant-violation\n"
        "    operation: QueryIProductionJob\n    severity: breaking\n    reason: our billing reads it\n",
        "utf-8",
    )
    argv = ["replay", "--cassettes", str(REPO / "cassettes"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--policy", str(policy_file)]) == 1
    printed = [
        line for line in capsys.readouterr().out.splitlines() if "invariant-violation" in line
    ]
    marked = [line for line in printed if "(as in the documentation lint, counted once)" in line]
    assert len(printed) == 2 * len(marked)
    assert marked
    assert all("cassette" in line for line in marked)
    junit = (tmp_path / "o" / "junit.xml").read_text("utf-8")
    repeats = [f for f in load_report(tmp_path / "o" / "drift.json").findings if f.repeats]
    assert len(repeats) >= len(marked)
    assert junit.count("as in the documentation lint (the verdict counts it once)") == len(repeats)


@pytest.mark.parametrize("text", ["a`b", "`x`", "``", "a``b`", "we|ird`key <x>", "|`|"])
def test_a_code_span_shows_backticks_and_pipes_as_written(text: str) -> None:
    from aliconform.report.markdown import _code

    expected = f"<code>{html.escape(text, quote=False)}</code>"
    assert _rendered(f"- {_code(text)}\n").strip() == f"<ul>\n<li>{expected}</li>\n</ul>"
    table = f"| a | b |\n|---|---|\n| {_code(text, in_table=True)} | x |\n"
    assert f"<td>{expected}</td>" in _rendered(table)


def test_a_report_that_fails_to_render_leaves_the_previous_four_files(
    contracts: ContractSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _report(REPO / "cassettes", contracts)
    files = write_reports(report, tmp_path)
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}
    changed = report.model_copy(update={"generated_at": report.generated_at + dt.timedelta(1)})

    def broken(_: DriftReport) -> str:
        raise RuntimeError("the HTML template broke")

    monkeypatch.setattr(writer, "render_html", broken)
    with pytest.raises(RuntimeError):
        write_reports(changed, tmp_path)
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before
    assert files.json.read_bytes() == before[files.json]


@pytest.mark.parametrize("refused", ["drift.html", "summary.md"])
@pytest.mark.parametrize("how", ["a directory in the way", "a rename refused"])
def test_a_report_file_that_cannot_be_replaced_leaves_the_previous_four(
    contracts: ContractSet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
    how: str,
) -> None:
    """A rename refused after others were done (a file another user owns in a shared
    directory, say) puts back those done: never files of two runs side by side. The error
    names the file."""
    report = _report(REPO / "cassettes", contracts)
    write_reports(report, tmp_path)
    (tmp_path / "junit.xml").unlink()  # one the previous run did not leave
    if how == "a directory in the way":
        (tmp_path / refused).unlink()
        (tmp_path / refused).mkdir()
    else:
        replace = Path.replace

        def refuse(self: Path, target: Path) -> Path:
            if Path(target).name == refused:
                raise PermissionError(
                    errno.EPERM, "Operation not permitted", str(self), None, str(target)
                )
            return replace(self, target)

        monkeypatch.setattr(Path, "replace", refuse)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    changed = report.model_copy(update={"generated_at": report.generated_at + dt.timedelta(1)})
    with pytest.raises(AliconformError, match=f"cannot write the reports to .*: {refused}: "):
        write_reports(changed, tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*before, refused})


def test_a_stop_while_reports_are_put_in_place_lands_after_the_last(
    contracts: ContractSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGTERM arriving between two renames would leave one run's drift.json beside another's
    # summary.md: it is held back until all four are in place.
    report = _report(REPO / "cassettes", contracts)
    renamed: list[Path] = []
    seen: list[int] = []
    replace = Path.replace

    def replacing(self: Path, target: Path) -> Path:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives during the first rename
        done = replace(self, target)
        renamed.append(done)
        return done

    def on_stop(signum: int, frame: object) -> None:
        seen.append(len(renamed))

    # Another thread is running, as a progress bar's is: the signal may reach it, and Python
    # still runs the handler in the main thread, between two renames unless held back.
    done = threading.Event()
    bystander = threading.Thread(target=done.wait, daemon=True)
    bystander.start()
    previous = signal.signal(signal.SIGTERM, on_stop)
    try:
        monkeypatch.setattr(Path, "replace", replacing)
        write_reports(report, tmp_path)
        monkeypatch.undo()
    finally:
        signal.signal(signal.SIGTERM, previous)
        done.set()
    assert len(renamed) == 4
    assert seen == [4]  # handled once, and only once all four were in place


def test_one_drift_across_a_long_array_keeps_few_excerpts_and_renders_in_one_pass(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = cassettes_copy / "imm" / "GetVideoLabelClassificationResult" / "doc-example-success.yaml"

    def many_labels(body: str) -> str:
        data = json.loads(body)
        data["Labels"] = [dict(data["Labels"][0], LabelLevel="one") for _ in range(200)]
        return json.dumps(data)

    edit_response_body(path, many_labels)
    report = _report(cassettes_copy, contracts)
    drifted = [f for f in report.findings if f.path.endswith("/LabelLevel") and f.source]
    assert len(drifted) == 200
    assert [bool(f.excerpt) for f in drifted].count(True) == EXCERPTS_PER_PLACE
    assert drifted[0].excerpt  # the first of them, in array order, keeps its excerpt

    def compared(self: object, other: object) -> bool:
        raise AssertionError("a report's findings are compared whole (n² for a long array)")

    monkeypatch.setattr(ReportFinding, "__eq__", compared)
    files = write_reports(report, tmp_path)
    junit = ET.parse(files.junit).getroot()
    assert int(junit.get("failures") or 0) >= 1
    # The failure's message names the drift once, with its range, as the other reports do.
    (failure,) = [
        case.find("failure")
        for case in junit.iter("testcase")
        if "GetVideoLabelClassificationResult/doc-example-success" in (case.get("name") or "")
        and case.find("failure") is not None
    ]
    message = failure.get("message") or ""
    assert "/Labels/*/LabelLevel (200 times: /Labels/0/LabelLevel … /Labels/199/LabelLevel)" in (
        message
    )
    assert "/Labels/1/LabelLevel" not in message
    assert len((failure.text or "").splitlines()) == 200  # the details keep every finding


def test_many_undocumented_keys_of_one_object_keep_few_excerpts(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    """Each undocumented key is its own place, but all their excerpts show the same object: a
    response of 20,000 unknown keys made a report of tens of megabytes of the same lines."""
    path = cassettes_copy / "imm" / "GetVideoLabelClassificationResult" / "doc-example-success.yaml"

    def many_keys(body: str) -> str:
        data = json.loads(body)
        data.update({f"Extra{n:03d}": n for n in range(40)})
        data["Labels"] = [dict(data["Labels"][0], Extra=1, Other=2) for _ in range(5)]
        return json.dumps(data)

    edit_response_body(path, many_keys)
    report = _report(cassettes_copy, contracts)
    extra = [f for f in report.findings if f.path.startswith("/Extra") and f.source]
    assert len(extra) == 40
    assert all(f.kind == "undocumented-field" for f in extra)
    assert [bool(f.excerpt) for f in extra].count(True) == EXCERPTS_PER_PLACE
    # Each element's object is one place, as an array's elements are for every other kind.
    in_labels = [f for f in report.findings if f.path.startswith("/Labels/") and f.source]
    assert len(in_labels) > EXCERPTS_PER_PLACE
    assert [bool(f.excerpt) for f in in_labels].count(True) == EXCERPTS_PER_PLACE
    # Past KEYS_PER_OBJECT keys, the root's are one row (a row each made 20,000 rows); the
    # labels' two keys stay a row each, named.
    rows = finding_rows([f for f in report.findings if f.section == "replay"])
    places = {row.where.split(" (")[0] for row in rows if row.finding.kind == "undocumented-field"}
    assert places == {"/*", "/Labels/*/Extra", "/Labels/*/Other"}
    (root,) = [row for row in rows if row.where == "/*"]
    assert root.findings == 40
    assert root.pointers[:2] == ["/Extra000", "/Extra001"]
    assert "/extra017" in root.searchable


def test_report_diff_shows_a_place_per_line_and_stays_short(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_reports(_report(REPO / "cassettes", contracts), tmp_path / "old").json
    path = cassettes_copy / "imm" / "GetVideoLabelClassificationResult" / "doc-example-success.yaml"

    def drifted(body: str) -> str:
        data = json.loads(body)
        data["Labels"] = [dict(data["Labels"][0], LabelLevel="one") for _ in range(300)]
        # 30 places, one new key each: 15 in the root object, 15 in the first label
        data.update({f"Surprise{i}": i for i in range(15)})
        data["Labels"][0].update({f"Surprise{i}": i for i in range(15, 30)})
        return json.dumps(data)

    edit_response_body(path, drifted)
    new = write_reports(_report(cassettes_copy, contracts), tmp_path / "new").json
    assert main(["report", "diff", str(old), str(new), "--format", "markdown"]) == 0
    comment = capsys.readouterr().out
    assert ": 330 new (31 places), 0 fixed" in comment.replace("`", "")
    assert "300 times: /Labels/0/LabelLevel … /Labels/299/LabelLevel" in comment
    assert "…and 11 more new places" in comment  # 31 places, 20 shown
    assert len(comment) < 65_536  # a pull-request comment's limit
    assert main(["report", "diff", str(old), str(new)]) == 0
    text = capsys.readouterr().out
    assert len([line for line in text.splitlines() if line.startswith("- new:")]) == 31
    assert ": 330 new (31 places), 0 fixed, 0 changed" in " ".join(text.split())


def test_report_diff_counts_a_repeat_of_the_lint_once_as_the_verdict_does(
    report_pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cassette derived from a documentation example repeats the lint's finding for it: the
    report counts the two once, and so does --fail-on."""
    clean = load_report(report_pair[0])
    lint = _counted(clean).model_copy(
        update={
            "id": "a" * 16,
            "section": "documentation",
            "repeats": None,
            "status": "new",
            "waiver": None,
            "severity": Severity.BREAKING,
        }
    )
    repeat = lint.model_copy(update={"id": "b" * 16, "section": "replay", "repeats": lint.id})
    before = write_reports(clean.model_copy(update={"findings": []}), tmp_path / "b").json
    after = clean.model_copy(update={"findings": [lint, repeat]})
    after_file = write_reports(after, tmp_path / "a").json
    capsys.readouterr()
    assert main(["report", "diff", str(before), str(after_file), "--fail-on", "breaking"]) == 1
    assert "--fail-on breaking: 1 finding(s) new or worse" in capsys.readouterr().err
    assert (
        main(["report", "diff", str(before), str(after_file), "-f", "json", "--fail-on", "info"])
        == 1
    )
    assert json.loads(capsys.readouterr().out)["worse"] == [lint.id]


def test_a_report_withholds_other_vendors_secrets_a_response_carries(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    # Scrubbing knows Alibaba Cloud's credentials; a drifted response may carry anyone's. What
    # the report quotes passes the secret scan that reports are held to.
    from aliconform.secrets import scan_secrets

    aws, github = "AKIAIOSFODNN7EXAMPLE", "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    edit_response_body(
        path,
        lambda body: body.replace(
            '"Status": "Succeeded"', f'"Status": "{aws}", "Token": "{github}"'
        ),
    )
    report = _report(cassettes_copy, contracts)
    files = write_reports(report, tmp_path / "reports")
    assert scan_secrets([tmp_path / "reports"], root=tmp_path) == []
    for written in (files.html, files.json, files.junit, files.markdown):
        text = written.read_text("utf-8")
        assert aws not in text
        assert github not in text
    drifted = {(f.kind, f.path) for f in report.findings if f.status == "new"}
    assert ("undocumented-enum-value", "/Status") in drifted  # still said, value withheld
    assert ("undocumented-field", "/Token") in drifted


def test_an_operation_without_cassettes_counts_no_response_checked(
    cassettes_copy: Path, contracts: ContractSet
) -> None:
    # Its page's example is the documentation lint's: the table must not say it was checked.
    for product in ("imm", "ice"):
        for operation in (cassettes_copy / product).iterdir():
            if operation.name != "GetVideoLabelClassificationResult":
                shutil.rmtree(operation)
    report = _report(cassettes_copy, contracts)
    checked = {summary.operation: summary.checked for summary in report.operations}
    assert checked["GetVideoLabelClassificationResult"] > 0
    assert checked["GetImageModerationResult"] == 0
    assert checked["QuerySmarttagJob"] == 0


def test_html_shows_one_drift_across_a_long_array_as_one_row_and_counts_every_finding(
    cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    """A row per finding made a 20,000-finding report 32 MB that took 20 s to open; a row per
    place reads as the console does, and drift.json keeps every pointer."""
    _offsets_as_text_in_300_frames(cassettes_copy)
    report = _report(cassettes_copy, contracts)
    page = write_reports(report, tmp_path).html.read_text("utf-8")
    start = page.index('<table id="findings"')
    table = page[start : page.index("</table>", start)]
    rows = re.findall(r'<tr class="finding"[^>]*data-findings="(\d+)"[^>]*>(.*?)</tr>', table, re.S)
    main_findings = [f for f in report.findings if f.section != "documentation"]
    assert sum(int(count) for count, _ in rows) == len(main_findings)
    offsets = [cells for count, cells in rows if "/BlockFrames/*/Offset" in cells]
    assert len(offsets) == 1, offsets
    assert "&times;300" in offsets[0]
    (detail,) = [
        detail
        for detail in table.split('<tr class="detail"')
        if "<code>/ModerationResult/Frames/BlockFrames/0/Offset</code>" in detail
    ]
    assert detail.count("<code>/ModerationResult/Frames/BlockFrames/") == 20
    assert "and 280 more" in detail
    # the search finds a pointer the console printed, past the 20 the detail lists
    (row,) = [tag for tag in re.findall(r'<tr class="finding"[^>]*>', table) if "/offset" in tag]
    assert "/moderationresult/frames/blockframes/299/offset" in row
    observed = re.search(r"<dt>observed</dt><dd>(.*?)</dd>", detail, re.S)
    assert observed is not None
    assert observed.group(1).count("<code>") == 10
    assert "and others" in observed.group(1)
    assert f"{len(main_findings)} findings at {len(rows)} places" in page
