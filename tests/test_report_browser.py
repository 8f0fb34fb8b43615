"""The HTML report in a real browser: Debian's chromium driven by Python playwright.

Opens a real report (a replay of the committed cassettes, one edited to drift and to carry
script), uses the filters and reads what a person sees. The screenshot is kept under
reports/screenshots/ as a test artifact.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from aliconform import ContractSet
from aliconform.cassettes import replay_all
from aliconform.drift.doclint import lint_docs
from aliconform.drift.waivers import DriftPolicy, load_policy
from aliconform.report import replay_report, write_reports
from conftest import edit_response_body

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "reports" / "screenshots"
CHROMIUM = os.environ.get("ALICONFORM_CHROMIUM", "/usr/bin/chromium")
SCRIPT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file() and not shutil.which(CHROMIUM):
        if os.environ.get("ALICONFORM_REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"chromium not found at {CHROMIUM}, and this run requires the browser tests"
            )
        pytest.skip(f"chromium not found at {CHROMIUM} (install Debian's chromium package)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def report_page(
    browser: object, cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> Iterator[object]:
    path = cassettes_copy / "imm" / "GetImageModerationResult" / "doc-example-success.yaml"
    edit_response_body(
        path, lambda body: body.replace('"Status": "Succeeded"', f'"Status": {json.dumps(SCRIPT)}')
    )
    run = replay_all(cassettes_copy, contracts)
    report = replay_report(
        run, lint_docs(contracts), contracts, load_policy(REPO / "drift-policy.yaml")
    )
    html = write_reports(report, tmp_path / "reports").html
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(html.as_uri())
    yield page
    assert problems == [], (
        f"the report logged errors (a CSP violation means its script did not run): {problems}"
    )
    page.close()


def test_reader_sees_the_verdict_filters_findings_and_opens_one(report_page: object) -> None:
    page = report_page
    verdict = page.locator("#verdict")  # type: ignore[attr-defined]
    assert "1 new breaking finding(s)" in verdict.inner_text()

    findings = page.locator("#findings tr.finding")  # type: ignore[attr-defined]
    total = findings.count()
    assert total >= 2  # the breaking one, and the warnings of the documentation's own examples
    bar = page.locator('.filters[data-for="findings"]')  # type: ignore[attr-defined]
    bar.locator('select[data-facet="severity"]').select_option("breaking")
    visible = page.locator("#findings tr.finding:visible")  # type: ignore[attr-defined]
    assert visible.count() == 4  # the new one and three waived examples of the documentation
    bar.locator('select[data-facet="status"]').select_option("new")
    assert visible.count() == 1
    assert bar.locator('[data-role="shown"]').inner_text() == f"1 of {total} shown"
    row = visible.first
    assert row.locator("code.path").inner_text() == "/Status"
    assert "GetImageModerationResult" in row.inner_text()

    row.click()
    detail = page.locator(f'tr.detail[data-detail-for="{row.get_attribute("data-id")}"]')  # type: ignore[attr-defined]
    assert detail.is_visible()
    hit = detail.locator(".excerpt span.hit")
    assert hit.count() == 1
    assert json.dumps(SCRIPT) in hit.inner_text()  # shown as text (a JSON string) ...
    assert page.evaluate("window.__pwned") is None  # ... never run  # type: ignore[attr-defined]
    assert "contracts/imm/GetImageModerationResult.yaml:" in detail.inner_text()

    bar.locator('select[data-facet="severity"]').select_option("")
    bar.locator('select[data-facet="status"]').select_option("")
    bar.locator('input[data-facet="text"]').fill("/userdata")
    shown = bar.locator('[data-role="shown"]')
    playwright_api.expect(shown).not_to_have_text(f"{total} of {total} shown")  # typing settles
    assert page.locator("#findings tr.finding:visible").count() >= 1  # type: ignore[attr-defined]
    assert all(
        "/userdata" in text.lower()
        for text in page.locator("#findings tr.finding:visible").all_inner_texts()
    )  # type: ignore[attr-defined]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    bar.locator('input[data-facet="text"]').fill("")
    bar.locator('select[data-facet="severity"]').select_option("breaking")
    page.screenshot(path=str(SCREENSHOTS / "report-filtered.png"), full_page=True)  # type: ignore[attr-defined]
    assert (SCREENSHOTS / "report-filtered.png").stat().st_size > 10_000


def test_documentation_lint_section_filters_waived_contradictions(report_page: object) -> None:
    page = report_page
    section = page.locator("#doc-findings tr.finding")  # type: ignore[attr-defined]
    total = section.count()
    assert total >= 10
    bar = page.locator('.filters[data-for="doc-findings"]')  # type: ignore[attr-defined]
    bar.locator('select[data-facet="status"]').select_option("waived")
    waived = page.locator("#doc-findings tr.finding:visible")  # type: ignore[attr-defined]
    assert waived.count() == 3
    assert all("waived" in text for text in waived.all_inner_texts())
    bar.locator('select[data-facet="operation"]').select_option("QueryIProductionJob")
    assert page.locator("#doc-findings tr.finding:visible").count() == 1  # type: ignore[attr-defined]
    provenance = page.locator("#provenance")  # type: ignore[attr-defined]
    assert "documentation" in provenance.inner_text()
    assert "day(s) ago" in provenance.inner_text()


def test_the_report_fits_a_narrow_window_with_long_problems_and_paths(
    browser: object, cassettes_copy: Path, contracts: ContractSet, tmp_path: Path
) -> None:
    from aliconform.report.model import ReportProblem

    report = replay_report(replay_all(cassettes_copy, contracts), [], contracts, DriftPolicy())
    where = "cassettes/ice/QueryIProductionJob/live-lifecycle.yaml#2"
    message = "expected a success, the service answered " + "InvalidParameter " * 40
    wide = report.model_copy(
        update={"problems": [ReportProblem(where=where, message=message + "\n" + "x" * 400)]}
    )
    html = write_reports(wide, tmp_path / "reports").html
    page = browser.new_page(viewport={"width": 1000, "height": 800})  # type: ignore[attr-defined]
    try:
        page.goto(html.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        where_width = page.evaluate(
            "document.querySelector('#problems td:first-child').getBoundingClientRect().width"
        )
        assert where_width > 150  # the place stays readable beside a long message
        assert "x" * 400 in page.inner_text("#problems")  # wrapped, nothing cut
        # The findings keep room for what a reader scans for: the path and the message.
        widths = page.evaluate(
            "[...document.querySelectorAll('#findings tr.finding')].map(row =>"
            " ['path', 'message'].map(c => row.querySelector('td.' + c)"
            ".getBoundingClientRect().width))"
        )
        assert widths
        assert min(path for path, _ in widths) > 150
        assert min(message for _, message in widths) > 130
    finally:
        page.close()


def test_on_a_phone_the_tables_scroll_and_the_page_does_not(report_page: object) -> None:
    page = report_page
    page.set_viewport_size({"width": 375, "height": 800})  # type: ignore[attr-defined]
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # type: ignore[attr-defined]
    table = page.locator("#findings")  # type: ignore[attr-defined]
    wrapper = table.locator("xpath=..")
    assert wrapper.evaluate("box => box.scrollWidth > box.clientWidth")  # it scrolls sideways
    wrapper.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    assert table.locator("td.message").first.is_visible()  # the far columns can be reached


def test_without_script_every_detail_is_shown_and_no_dead_filter(
    browser: object, report_page: object
) -> None:
    """Script blocked (a CI server's CSP, a locked-down viewer) or printed: the details stay
    readable and no control is offered that would do nothing. With script, they fold."""
    page = report_page
    details = page.locator("#findings tr.detail")  # type: ignore[attr-defined]
    assert details.count() >= 2
    assert page.locator("#findings tr.detail:visible").count() == 0  # type: ignore[attr-defined]
    row = page.locator("#findings tr.finding").first  # type: ignore[attr-defined]
    assert (row.get_attribute("tabindex"), row.get_attribute("aria-expanded")) == ("0", "false")
    # the filters' names are their visible labels (WCAG 2.5.3)
    status = page.get_by_role("combobox", name="New or waived")  # type: ignore[attr-defined]
    assert status.count() == 2  # findings and documentation lint

    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    still = context.new_page()
    still.goto(page.url)  # type: ignore[attr-defined]
    shown = still.locator("#findings tr.detail:visible")
    assert shown.count() == details.count()
    assert "contracts/imm/GetImageModerationResult.yaml:" in shown.first.inner_text()
    assert still.locator(".filters:visible").count() == 0
    assert still.locator("#findings tr.finding").first.get_attribute("aria-expanded") is None
    context.close()
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    assert page.locator("#findings tr.detail:visible").count() == details.count()  # type: ignore[attr-defined]
    hit = page.locator("#findings .excerpt span.hit").first  # type: ignore[attr-defined]
    marker = hit.evaluate("e => getComputedStyle(e, '::before').content")
    assert "\u25b6" in marker  # the finding's line is marked by more than its colour
