"""Scans of captured traffic: aggregation, unreadable lines, the report, the command."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from aliconform import ContractSet, scan
from aliconform.bench import build_corpus
from aliconform.cli import main
from aliconform.drift.findings import Severity
from aliconform.drift.waivers import DriftPolicy, load_policy
from aliconform.errors import AliconformError
from aliconform.report import diff_reports, scan_report
from aliconform.scan import UnreadableLimit, generalise, scan_file
from aliconform.secrets import scan_secrets

REPO = Path(__file__).resolve().parents[1]


def _capture(path: Path, count: int, drift_every: int = 10) -> Path:
    corpus = build_corpus(50)
    with path.open("w", encoding="utf-8") as stream:
        for index in range(count):
            operation, raw = corpus[index % len(corpus)]
            body = json.loads(raw)
            if index % drift_every == 3:
                body["RequestId"] = 12345  # breaking: a string became a number
            line = {"operation": operation, "status": 200, "headers": {}, "body": json.dumps(body)}
            if index % 2:
                line["body"] = body  # already-parsed bodies are accepted too
            stream.write(json.dumps(line) + "\n")
    return path


def test_generalise_turns_indices_into_stars() -> None:
    assert (
        generalise("/Results/Result/12/Data/persons/0/name")
        == "/Results/Result/*/Data/persons/*/name"
    )
    assert generalise("/a10/b") == "/a10/b"


@pytest.mark.parametrize("batch_bytes", [None, 4096], ids=["default-batches", "small-batches"])
def test_scan_counts_each_distinct_finding_with_first_last_and_examples(
    tmp_path: Path, contracts: ContractSet, monkeypatch: pytest.MonkeyPatch, batch_bytes: int | None
) -> None:
    """Batches cut by size (long lines) count and place every line as batches cut by count."""
    if batch_bytes is not None:
        monkeypatch.setattr(scan, "_BATCH_BYTES", batch_bytes)
    capture = _capture(tmp_path / "capture.jsonl", 400)
    result = scan_file(capture, contracts_dir=REPO / "contracts", workers=2)
    assert (result.lines, result.interactions, result.skipped_count) == (400, 400, 0)
    assert sum(result.operations.values()) == 400
    by_key = {key[:3]: aggregate for key, aggregate in result.aggregates.items()}
    drifted = [i + 1 for i in range(400) if i % 10 == 3]
    per_operation: dict[str, list[int]] = {}
    for line in drifted:
        operation = build_corpus(50)[(line - 1) % 50][0]
        per_operation.setdefault(operation, []).append(line)
    for operation, lines in per_operation.items():
        aggregate = by_key[(operation, "type-mismatch", "/RequestId")]
        assert aggregate.count == len(lines)
        assert (aggregate.first, aggregate.last) == (lines[0], lines[-1])
        assert aggregate.examples == lines[:3]
    report = scan_report(result, contracts, DriftPolicy())
    assert report.verdict.exit_code == 1
    assert sum(f.count for f in report.findings) == len(drifted)
    assert report.scan is not None
    assert report.scan.distinct_findings == len(per_operation)
    # The headline counts distinct findings, and says how often they were seen: what the
    # per-operation counts add up.
    assert report.verdict.headline.startswith(
        f"{len(per_operation)} new breaking finding(s) (seen {len(drifted)} times): "
    )
    assert sum(s.breaking for s in report.operations) == len(drifted)
    # which is what every table of these counts says under it
    from aliconform.report import write_reports
    from aliconform.report.model import OPERATION_COUNTS

    files = write_reports(report, tmp_path / "reports")
    assert "each counted as often as it was seen" in OPERATION_COUNTS
    assert OPERATION_COUNTS in files.markdown.read_text("utf-8")
    assert OPERATION_COUNTS.replace("'", "&#39;") in files.html.read_text("utf-8")


def test_batches_hold_a_bounded_number_of_bytes_whatever_the_line_length() -> None:
    """Workers get whole batches, two in flight each: a batch of 500 one-megabyte lines would
    hold half a gigabyte per batch. A batch ends once it holds _BATCH_BYTES."""
    line = b'{"operation": "QuerySmarttagJob", "body": "' + b"x" * 2**20 + b'"}\n'
    stream = io.BytesIO(line * 40)
    batches = list(scan._batches(stream))
    assert [start for start, _, _ in batches] == list(range(1, 41, 8))
    assert all(size == len(lines) * len(line) for _, lines, size in batches)
    assert max(size for _, _, size in batches) < scan._BATCH_BYTES + len(line)
    short = list(scan._batches(io.BytesIO(b"{}\n" * 1200)))
    assert [len(lines) for _, lines, _ in short] == [500, 500, 200]


def test_unreadable_lines_are_listed_and_do_not_stop_the_scan(tmp_path: Path) -> None:
    capture = _capture(tmp_path / "capture.jsonl", 20, drift_every=1000)
    with capture.open("a", encoding="utf-8") as stream:
        stream.write("not json\n")
        stream.write(json.dumps({"operation": "QuerySmartagJob", "body": "{}"}) + "\n")
        stream.write(json.dumps({"status": 200, "body": "{}"}) + "\n")
        stream.write(json.dumps({"operation": ["QuerySmarttagJob"], "body": "{}"}) + "\n")
        line = {"operation": "QuerySmarttagJob", "body": "{}", "request": "JobId=j"}
        stream.write(json.dumps(line) + "\n")
        line = {"operation": "QuerySmarttagJob", "body": "{}", "request": {"job_id": "j"}}
        stream.write(json.dumps(line) + "\n")
    result = scan_file(capture, contracts_dir=REPO / "contracts", workers=1)
    assert result.interactions == 20
    assert [s.line for s in result.skipped] == [21, 22, 23, 24, 25, 26]
    # the echo checks would look for JobId and quietly not run
    assert result.skipped[5].reason.startswith(
        "request: 'job_id' is not a parameter of QuerySmarttagJob (did you mean 'JobId'?)"
    )
    assert "not a JSON line" in result.skipped[0].reason
    assert "did you mean 'QuerySmarttagJob'" in result.skipped[1].reason
    assert 'no "operation"' in result.skipped[2].reason
    assert '"operation" must be the API operation name as a string' in result.skipped[3].reason
    assert result.skipped[3].reason.endswith("not an array")
    assert result.skipped[4].reason == (
        '"request" must be an object of business parameters, not a string'
    )


def _with_unreadable_tail(path: Path) -> Path:
    """20 lines, one of them breaking, then 3 unreadable ones (13% of 23)."""
    capture = _capture(path, 20, drift_every=1000)
    with capture.open("a", encoding="utf-8") as stream:
        stream.write("not json\n{}\n[]\n")
    return capture


@pytest.mark.parametrize(
    ("limit", "exit_code"), [(None, 2), ("3", 1), ("2", 2), ("13.1%", 1), ("13%", 2)]
)
def test_more_unreadable_lines_than_the_limit_fail_the_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str | None, exit_code: int
) -> None:
    capture = _with_unreadable_tail(tmp_path / "capture.jsonl")
    out = tmp_path / "r"
    argv = ["scan", str(capture), "--out", str(out), "-j", "1"]
    argv += [] if limit is None else ["--max-unreadable", limit]
    assert main(argv) == exit_code
    data = json.loads((out / "drift.json").read_text("utf-8"))
    assert [p["where"] for p in data["problems"]][-3:] == [
        f"{capture} line {n}" for n in (21, 22, 23)
    ]
    headline = data["verdict"]["headline"]
    if exit_code == 2:
        shown = limit if limit is not None else "1%"
        assert headline == (
            f"3 of 23 non-blank lines (13%) could not be read, more than the {shown} allowed"
            " (--max-unreadable)"
        )
        assert headline in capsys.readouterr().out
    else:  # the lines were judged on what could be read: the breaking drift of line 4
        assert headline.startswith("1 new breaking finding(s)")
    # JUnit passes or fails as the command exits: lines a limit tolerates are skipped cases
    # (not errors), and the HTML verdict box is the problem colour only when they decide it
    junit = ET.parse(out / "junit.xml").getroot()
    decided = exit_code == 2
    problems = str(len(data["problems"]))
    assert junit.get("errors") == (problems if decided else "0")
    (inputs,) = [suite for suite in junit if suite.get("name") == "inputs"]
    assert inputs.get("skipped") == ("0" if decided else problems)
    assert "skipped" not in junit.attrib  # not in Jenkins' schema of <testsuites>
    assert junit.get("failures") == "1"  # the breaking drift of line 4, either way
    verdict_box = re.search(
        r'<div id="verdict" class="verdict (\w+)"', (out / "drift.html").read_text("utf-8")
    )
    assert verdict_box is not None
    assert verdict_box.group(1) == ("problem" if decided else "fail")


def test_blank_lines_do_not_dilute_the_share_of_unreadable_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records separated by blank lines: half of them unreadable is half, not 1 in 302."""
    operation, raw = build_corpus(5)[0]
    capture = tmp_path / "spaced.jsonl"
    good = json.dumps({"operation": operation, "body": json.loads(raw)})
    capture.write_text(good + "\n" * 151 + "not json" + "\n" * 151, "utf-8")
    assert main(["scan", str(capture), "--out", str(tmp_path / "r"), "-j", "1"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "1 of 2 non-blank lines (50%) could not be read, more than the 1% allowed" in out


def test_a_clean_scan_s_junit_has_a_passing_case_per_operation_checked(tmp_path: Path) -> None:
    """Publishers that refuse an empty result (Jenkins junit, test-reporter's fail-on-empty)
    must see what was checked."""
    capture = tmp_path / "capture.jsonl"
    lines = [{"operation": op, "status": 200, "body": raw.decode()} for op, raw in build_corpus(20)]
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    out = tmp_path / "r"
    assert main(["scan", str(capture), "--out", str(out), "-j", "1"]) == 0
    root = ET.parse(out / "junit.xml").getroot()
    cases = {
        (case.get("classname"), case.get("name")): case.findtext("system-out")
        for case in root.iter("testcase")
    }
    assert cases == {
        (f"aliconform.scan.{operation}", "no drift found"): "4 response(s) checked"
        for operation in (
            "GetImageModerationResult",
            "GetVideoLabelClassificationResult",
            "GetVideoModerationResult",
            "QueryIProductionJob",
            "QuerySmarttagJob",
        )
    }
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "0", "0")


@pytest.mark.parametrize(
    ("text", "unreadable", "lines", "allowed"),
    [
        ("0", 0, 10, True),
        ("0", 1, 10, False),
        ("10", 10, 10, True),
        ("1%", 1, 100, True),
        ("1%", 2, 100, False),
        (" 0.5 % ", 1, 200, True),
        ("100%", 7, 7, True),
    ],
)
def test_an_unreadable_limit_is_a_count_or_a_share(
    text: str, unreadable: int, lines: int, allowed: bool
) -> None:
    assert UnreadableLimit.parse(text).allows(unreadable, lines) is allowed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3x", "'3x' is neither a number of lines (10) nor a share (0.5%)"),
        ("1.5", "'1.5' is neither a number of lines (10) nor a share (0.5%)"),
        ("-1", "'-1' is neither"),
        ("101%", "'101%': a share is at most 100%"),
    ],
)
def test_a_malformed_unreadable_limit_says_what_it_takes(text: str, message: str) -> None:
    with pytest.raises(AliconformError, match=re.escape(message)):
        UnreadableLimit.parse(text)


def test_the_scan_command_refuses_a_malformed_limit_before_scanning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = _with_unreadable_tail(tmp_path / "capture.jsonl")
    argv = ["scan", str(capture), "--out", str(tmp_path / "r"), "--max-unreadable", "lots"]
    assert main(argv) == 2
    assert "Invalid value for '--max-unreadable'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_scan_command_writes_the_aggregated_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = _capture(tmp_path / "capture.jsonl", 100)
    out = tmp_path / "reports"
    code = main(
        [
            "scan",
            str(capture),
            "--out",
            str(out),
            "--workers",
            "2",
            "--contracts",
            str(REPO / "contracts"),
        ]
    )
    assert code == 1
    printed = capsys.readouterr().out
    assert "100 interactions" in printed
    data = json.loads((out / "drift.json").read_text("utf-8"))
    assert data["run"] == "scan"
    assert {f["path"] for f in data["findings"]} == {"/RequestId"}
    assert all(f["first_seen"] and f["example_lines"] for f in data["findings"])
    page = " ".join((out / "drift.html").read_text("utf-8").split())
    assert "Scan" in page
    # a scan does not look for unused waivers, so it cannot say that every one matched
    assert "Unused waivers are not looked for in a scan" in page
    assert "every waiver is in date and matched something" not in page


def test_signed_urls_in_captured_traffic_never_reach_the_reports(tmp_path: Path) -> None:
    """Captured production bodies carry signed URLs (an echoed InputURL, a result's OSS link):
    the reports quote bodies and values, scrubbed as recordings are."""
    key_id, signature = "LTAI5t" + "Q8capturedKey12345", "Zm9vYmFyYmF6cXV4" + "capture"
    url = (
        "https://b.oss-cn-hangzhou.aliyuncs.com/a.mp4?Expires=1893456000"
        f"&OSSAccessKeyId={key_id}&Signature={signature}%3D"
    )
    whole = {"RequestId": "r", "Status": "Succeeded", "TaskId": "t", "URL": url}
    lines = [
        {"operation": "GetImageModerationResult", "status": 200, "body": whole},  # drift: URL
        {  # truncated: unparseable, quoted as it is
            "operation": "GetImageModerationResult",
            "status": 200,
            "body": json.dumps(whole)[:-1],
        },
        {  # a value of the wrong type, observed in the report
            "operation": "GetImageModerationResult",
            "status": 200,
            "body": {**whole, "URL": None, "ProjectName": {"signed": url}},
        },
    ]
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    out = tmp_path / "reports"
    assert main(["scan", str(capture), "--out", str(out)]) == 1
    report = json.loads((out / "drift.json").read_text("utf-8"))
    kinds = {f["kind"] for f in report["findings"]}
    assert {"undocumented-field", "unparseable-body", "type-mismatch"} <= kinds
    written = "".join(p.read_text("utf-8") for p in out.iterdir())
    assert key_id not in written
    assert signature not in written
    assert "OSSAccessKeyId=***" in written
    assert scan_secrets([out], root=tmp_path) == []


# Values of the credential fields below, made up and split so that this file carries none.
_SECRET = "Zq8xW3nV7bT2" + "kL9mP4rS6uY1cE5gH0jK"
_TOKEN = "CAIS" + "1234abcdEFGH" * 10
_PASSWORD = "hunter2" + "hunter2"
_KEY_ID = "LTAI5t" + "Q8leakedKey98765"


def _leaky_body() -> dict[str, Any]:
    """A response that quotes credentials: in fields named for them, as a key id inside a
    text (an error message that quotes the request), and as a key (a map keyed by key id)."""
    return {
        _KEY_ID: "x",
        "RequestId": "r",
        "Status": "Succeeded",
        "TaskId": "t",
        "AccessKeySecret": _SECRET,
        "SecurityToken": _TOKEN,
        "Password": _PASSWORD,
        "ProjectName": {"note": f"denied for AccessKeyId={_KEY_ID}"},
        "TaskType": f"bad {_KEY_ID}",
    }


def _assert_no_credentials(text: str) -> None:
    for secret in (_SECRET, _TOKEN, _PASSWORD, _KEY_ID):
        assert secret not in text


def test_credentials_in_captured_traffic_never_reach_the_reports(tmp_path: Path) -> None:
    """A credential field's value is what a finding about that field observes, with no field
    name around it for a text pattern to see: it is scrubbed by the field's name."""
    line = {"operation": "GetImageModerationResult", "status": 200, "body": _leaky_body()}
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(line) + "\n", "utf-8")
    out = tmp_path / "reports"
    assert main(["scan", str(capture), "--out", str(out)]) == 1
    report = json.loads((out / "drift.json").read_text("utf-8"))
    observed = {f["path"]: f["observed"] for f in report["findings"]}
    assert observed["/AccessKeySecret"] == observed["/Password"] == '"***"'
    written = "".join(p.read_text("utf-8") for p in out.iterdir())
    _assert_no_credentials(written)
    assert scan_secrets([out], root=tmp_path) == []


def test_a_key_written_with_json_escapes_is_scrubbed_once_the_excerpt_decodes_it(
    tmp_path: Path,
) -> None:
    """ "\\u004cTAI..." is a key id once decoded, as the excerpt decodes it: scrubbing reads the
    escapes spelled out, and the excerpt's lines are scrubbed after the layout as well."""
    escaped = "\\u004c" + _KEY_ID[1:]
    body = (
        '{"RequestId": "r", "Status": "Succeeded", "TaskId": "t", "TaskType": 5, '
        f'"Message": "The AccessKeyId {escaped} is not found."}}'
    )
    line = {"operation": "GetImageModerationResult", "status": 200, "body": body}
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(line) + "\n", "utf-8")
    out = tmp_path / "reports"
    assert main(["scan", str(capture), "--out", str(out)]) == 1
    written = "".join(p.read_text("utf-8") for p in out.iterdir())
    assert "The AccessKeyId *** is not found." in written
    _assert_no_credentials(written)


@pytest.mark.parametrize("output", ["text", "json"])
def test_check_prints_no_credential_a_response_quotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    """check's output lands in CI logs."""
    response = tmp_path / "response.json"
    response.write_text(json.dumps(_leaky_body()), "utf-8")
    assert main(["check", "GetImageModerationResult", str(response), "--format", output]) == 1
    printed = capsys.readouterr()
    assert "AccessKeySecret" in printed.out
    _assert_no_credentials(printed.out + printed.err)


def test_scan_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path)]) == 2
    assert "absent.jsonl: no such file" in capsys.readouterr().err
    assert main(["scan", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    assert ": a directory; scan reads one JSONL file" in capsys.readouterr().err


def test_example_lines_are_distinct_lines_when_a_drift_repeats_across_an_array(
    tmp_path: Path,
) -> None:
    label = {"LabelName": "cat", "LabelLevel": 1, "LabelConfidence": 0.5, "Extra": 1}
    capture = tmp_path / "capture.jsonl"
    with capture.open("w", encoding="utf-8") as stream:
        for _ in range(3):
            body = {"RequestId": "r", "TaskId": "t", "Status": "Succeeded", "Labels": [label] * 30}
            line = {"operation": "GetVideoLabelClassificationResult", "status": 200, "body": body}
            stream.write(json.dumps(line) + "\n")
    result = scan_file(capture, workers=1)
    (extra,) = [a for a in result.aggregates.values() if a.finding.path == "/Labels/*/Extra"]
    assert extra.count == 90
    assert extra.examples == [1, 2, 3]


def test_scan_reads_standard_input_and_pipes(tmp_path: Path) -> None:
    """Captures are often compressed or streamed: `scan -` and a named pipe read them in one
    pass, and judge them as the file itself."""
    capture = _capture(tmp_path / "capture.jsonl", 60)
    command = [sys.executable, "-m", "aliconform.cli", "scan", "--workers", "2"]
    piped = subprocess.run(
        [*command, "-", "--out", str(tmp_path / "stdin")],
        stdin=capture.open("rb"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    assert "60 interactions" in piped.stdout
    from_stdin = json.loads((tmp_path / "stdin" / "drift.json").read_text("utf-8"))
    assert {f["path"] for f in from_stdin["findings"]} == {"/RequestId"}
    assert from_stdin["findings"][0]["source"].startswith("stdin")

    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(capture.read_bytes()))
    writer.start()
    code = main(["scan", str(fifo), "--workers", "2", "--out", str(tmp_path / "fifo")])
    writer.join()
    assert code == 1
    from_fifo = json.loads((tmp_path / "fifo" / "drift.json").read_text("utf-8"))
    assert [f["count"] for f in from_fifo["findings"]] == [
        f["count"] for f in from_stdin["findings"]
    ]
    # A pipe is named by its path: <(zcat ...) is /dev/fd/63, and "63 line 2" says nothing.
    assert from_fifo["findings"][0]["source"].startswith(f"{fifo} line ")


COMPRESSORS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


@pytest.mark.parametrize("compression", list(COMPRESSORS))
def test_a_compressed_capture_is_read_as_the_capture_itself(
    tmp_path: Path, contracts: ContractSet, compression: str
) -> None:
    """Captures are kept compressed: a file, standard input or a pipe of gzip, bzip2 or xz
    is read through it, and judged as the uncompressed capture."""
    plain = _capture(tmp_path / "capture.jsonl", 40)
    packed = tmp_path / f"capture.jsonl.{compression}"
    packed.write_bytes(COMPRESSORS[compression](plain.read_bytes()))
    expected = scan_file(plain, workers=1)
    from_file = scan_file(packed, workers=1)
    assert from_file.lines == expected.lines == 40
    assert _counts(from_file) == _counts(expected) != {}
    assert scan.compression_of(packed) == compression
    assert scan.compression_of(plain) is None

    command = [sys.executable, "-m", "aliconform.cli", "scan", "--workers", "1", "-"]
    piped = subprocess.run(
        [*command, "--out", str(tmp_path / "stdin")],
        stdin=packed.open("rb"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 1, piped.stderr
    assert "40 lines, 40 interactions" in piped.stdout
    report = json.loads((tmp_path / "stdin" / "drift.json").read_text("utf-8"))
    assert {f["path"]: f["count"] for f in report["findings"]} == {"/RequestId": 4}


def _counts(result: scan.ScanResult) -> dict[tuple[str, ...], int]:
    return {key: aggregate.count for key, aggregate in result.aggregates.items()}


def test_a_zstd_capture_is_named_with_the_way_to_read_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl.zst"
    capture.write_bytes(b"(\xb5/\xfd" + b"\x00" * 20)  # zstd's magic number
    assert main(["scan", str(capture), "--out", str(tmp_path / "r")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{capture}: zstd-compressed, which scan does not read" in err
    assert "zstdcat FILE | aliconform scan -" in err
    assert not (tmp_path / "r").exists()


def test_a_cut_off_gzip_capture_is_an_error_naming_it_not_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    packed = gzip.compress(_capture(tmp_path / "plain.jsonl", 200).read_bytes())
    capture = tmp_path / "capture.jsonl.gz"
    capture.write_bytes(packed[: len(packed) // 2])
    assert main(["scan", str(capture), "--workers", "1", "--out", str(tmp_path / "r")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{capture}: the gzip data is damaged or cut off" in err
    assert not (tmp_path / "r" / "drift.json").exists()


def test_a_problem_that_is_the_verdict_is_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text('{"x": 1}\n', "utf-8")
    assert main(["scan", str(capture), "--out", str(tmp_path / "r")]) == 2
    printed = capsys.readouterr()
    both = printed.out + printed.err
    assert both.count("no interaction in the file could be checked") == 1


def test_the_same_drift_in_two_captures_is_the_same_finding(
    tmp_path: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _capture(tmp_path / "a.jsonl", 100)
    second = tmp_path / "b.jsonl"
    second.write_text("\n" + first.read_text("utf-8"), "utf-8")  # every line one further down
    out_a, out_b = tmp_path / "ra", tmp_path / "rb"
    for capture, out in ((first, out_a), (second, out_b)):
        assert (
            main(
                [
                    "scan",
                    str(capture),
                    "--out",
                    str(out),
                    "-j",
                    "1",
                    "--contracts",
                    str(REPO / "contracts"),
                ]
            )
            == 1
        )
    capsys.readouterr()
    assert main(["report", "diff", str(out_a / "drift.json"), str(out_b / "drift.json")]) == 0
    assert "0 new, 0 fixed" in capsys.readouterr().out
    junit = (out_a / "junit.xml").read_text("utf-8")
    assert 'failures="' in junit
    assert 'tests="0"' not in junit
    assert "type-mismatch at /RequestId" in junit
    # A CI test tab follows a case by its name: the same drift keeps it, wherever first seen.
    names = [_case_names(out / "junit.xml") for out in (out_a, out_b)]
    assert names[0] == names[1]
    assert names[0]


def _case_names(junit: Path) -> list[tuple[str, str]]:
    root = ET.parse(junit).getroot()
    return sorted((c.get("classname", ""), c.get("name", "")) for c in root.iter("testcase"))


def test_a_scan_lists_the_distinct_values_it_observed_the_earliest_first(
    tmp_path: Path, contracts: ContractSet, capsys: pytest.CaptureFixture[str]
) -> None:
    # Twelve undocumented statuses over more lines than one batch holds, so that batches that
    # finish in any order are merged; and one status shaped like an AccessKey id.
    key_like = "LTAI" + "5tQw8ZxNp2Rk7Ym3Jd4Hs"
    news = [f"Status{n}" for n in range(11)] + [key_like]
    capture = tmp_path / "capture.jsonl"
    body = json.loads(dict(build_corpus(50))["GetImageModerationResult"])
    with capture.open("w", encoding="utf-8") as stream:
        for index in range(1500):
            status = news[(index // 120) % len(news)] if index % 3 == 0 else "Succeeded"
            line = {"operation": "GetImageModerationResult", "body": {**body, "Status": status}}
            stream.write(json.dumps(line) + "\n")
    expected = [f'"{value}"' for value in news[:10]]
    for workers in ("1", "3"):
        out = tmp_path / f"out-{workers}"
        args = ["scan", str(capture), "--out", str(out), "-j", workers]
        assert main([*args, "--contracts", str(REPO / "contracts")]) == 1
        printed = capsys.readouterr().out
        data = json.loads((out / "drift.json").read_text("utf-8"))
        (enum,) = [f for f in data["findings"] if f["kind"] == "undocumented-enum-value"]
        # all twelve kept (an enum's values are the drift), the first ten shown
        assert enum["observed_values"][:10] == expected
        assert len(enum["observed_values"]) == 12
        assert enum["more_observed_values"] is False
        assert enum["observed"] == expected[0]
        shown = ", ".join(expected) + ", …"
        assert f"(observed {shown})" in " ".join(printed.split())
        assert shown in (out / "summary.md").read_text("utf-8")
        assert shown in (out / "junit.xml").read_text("utf-8")
        page = (out / "drift.html").read_text("utf-8")
        assert ", ".join(f"<code>&#34;{v}&#34;</code>" for v in news[:10]) + ", and others" in page
    # Past the ten kept, the key-shaped value is never quoted; nor is it when it is kept.
    few = tmp_path / "few.jsonl"
    few.write_text(
        "".join(
            json.dumps({"operation": "GetImageModerationResult", "body": {**body, "Status": s}})
            + "\n"
            for s in ("Odd", key_like, "Odd")
        ),
        "utf-8",
    )
    assert main(["scan", str(few), "--out", str(tmp_path / "few"), "-j", "1"]) == 1
    printed = capsys.readouterr().out
    data = json.loads((tmp_path / "few" / "drift.json").read_text("utf-8"))
    (enum,) = [f for f in data["findings"] if f["kind"] == "undocumented-enum-value"]
    assert enum["observed_values"][0] == '"Odd"'
    assert len(enum["observed_values"]) == 2
    assert enum["more_observed_values"] is False
    for text in (printed, *(p.read_text("utf-8") for p in (tmp_path / "few").iterdir())):
        assert key_like not in text


def test_a_long_body_s_excerpt_is_laid_out_and_marks_the_drift(tmp_path: Path) -> None:
    # A body longer than a scan keeps (a large Smarttag result), drifted near its end: its
    # excerpt is still the laid-out JSON with the line marked, not the first lines of raw text.
    body = json.loads(dict(build_corpus(50))["GetVideoModerationResult"])
    frames = body["ModerationResult"]["Frames"]["BlockFrames"]
    template = frames[0]
    frames[:] = [{**template, "Offset": index} for index in range(2000)]
    frames[-1]["Unexpected"] = "LTAI" + "5tQw8ZxNp2Rk7Ym3Jd4Hs"
    text = json.dumps(body)
    assert len(text) > 64 * 1024
    capture = tmp_path / "capture.jsonl"
    line = json.dumps({"operation": "GetVideoModerationResult", "body": text})
    capture.write_text(line + "\n" + line + "\n", "utf-8")
    out = tmp_path / "out"
    assert main(["scan", str(capture), "--out", str(out), "-j", "2"]) in (0, 1)
    data = json.loads((out / "drift.json").read_text("utf-8"))
    (added,) = [f for f in data["findings"] if f["kind"] == "undocumented-field"]
    assert added["path"] == "/ModerationResult/Frames/BlockFrames/*/Unexpected"
    (hit,) = [line for line in added["excerpt"] if line["hit"]]
    assert hit["text"].strip().startswith('"Unexpected": ')
    assert hit["number"] > 2000  # the laid-out body's own line number
    assert "LTAI5t" not in (out / "drift.json").read_text("utf-8")


def test_unbounded_variety_is_capped_and_hostile_lines_are_skipped(
    tmp_path: Path, contracts: ContractSet
) -> None:
    from aliconform.scan import MAX_DISTINCT

    corpus = build_corpus(5)
    operation, raw = corpus[0]
    capture = tmp_path / "varied.jsonl"
    with capture.open("w", encoding="utf-8") as stream:
        for index in range(MAX_DISTINCT + 300):
            body = json.loads(raw)
            body[f"Extra{index}"] = 1  # a new undocumented field name on every line
            stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
        stream.write('{"operation": "x", "body": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
        stream.write(json.dumps({"operation": operation, "status": True, "body": {}}) + "\n")
    result = scan_file(capture, contracts_dir=REPO / "contracts", workers=2)
    assert len(result.aggregates) <= MAX_DISTINCT + 1
    assert sum(a.count for a in result.aggregates.values()) == MAX_DISTINCT + 300
    overflow = [a for a in result.aggregates.values() if a.finding.path == "/…"]
    assert overflow
    assert overflow[0].count >= 300
    reasons = [s.reason for s in result.skipped]
    assert "nests deeper" in reasons[0]
    assert reasons[1] == '"status" must be an HTTP status (100 to 599), not true'


def test_a_scan_that_checked_nothing_does_not_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "junk.jsonl"
    capture.write_text("junk\nmore junk\n", "utf-8")
    assert main(["scan", str(capture), "--out", str(tmp_path / "r"), "-j", "1"]) == 2
    assert "no interaction in the file could be checked" in capsys.readouterr().out + (
        tmp_path / "r" / "summary.md"
    ).read_text("utf-8")


def _lines_checked(lines: list[bytes]) -> Any:
    from aliconform import scan

    scan._init_worker(str(REPO / "contracts"))
    return scan._check_batch(1, lines, "capture.jsonl")


def test_a_body_with_many_findings_is_scrubbed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrubbing reads the whole body: once per line, not once per distinct finding (a
    megabyte body with hundreds of unknown keys took minutes)."""
    operation, raw = build_corpus(5)[0]
    body = json.loads(raw)
    body.update({f"extra_{index}": index for index in range(50)})
    line = json.dumps({"operation": operation, "body": json.dumps(body)}).encode()
    calls = []
    real = scan.scrub_body
    monkeypatch.setattr(scan, "scrub_body", lambda body: calls.append(1) or real(body))
    result = _lines_checked([line, line])
    assert len(result.aggregates) == 50
    assert len(calls) == 1  # the second line adds to the aggregates the first made


def _findings(result: Any) -> list[tuple[str, str, str, int]]:
    return sorted((*key[:3], aggregate.count) for key, aggregate in result.aggregates.items())


_ODD_BODIES = [
    # (name, the body's JSON text): what a parse would settle must reach the engine unsettled
    ("duplicate key, the second breaking", '{"RequestId": "r", "RequestId": 5}'),
    ("NaN, which msgspec does not read", '{"RequestId": NaN}'),
    ("a lone surrogate", '{"RequestId": "\\ud800"}'),
    ("an array", "[1, 2]"),
    ("null", "null"),
]


@pytest.mark.parametrize(("name", "text"), _ODD_BODIES, ids=[name for name, _ in _ODD_BODIES])
def test_a_body_written_as_json_is_checked_as_the_same_body_given_as_text(
    name: str, text: str, contracts: ContractSet
) -> None:
    operation = "GetImageModerationResult"
    head = f'{{"operation": "{operation}", "status": 200, "body": '
    embedded = _lines_checked([f"{head}{text}}}\n".encode()])
    as_text = _lines_checked([(head + json.dumps(text) + "}\n").encode()])
    assert embedded.interactions == as_text.interactions == 1, name
    assert _findings(embedded) == _findings(as_text) != []
    from aliconform.drift.engine import check_body, compiled

    direct = check_body(compiled(contracts[operation]), text)
    assert sorted((f.kind.value, f.path) for f in direct) == [
        (kind, path) for _, kind, path, _ in _findings(embedded)
    ]


def test_embedded_and_text_bodies_give_the_same_findings_over_a_drifted_corpus() -> None:
    from aliconform.bench import drift, drift_inside

    corpus = build_corpus(60)
    drifted = [*corpus, *drift(corpus), *drift_inside(corpus)]

    def line(operation: str, body: str) -> bytes:
        return f'{{"operation": "{operation}", "body": {body}}}\n'.encode()

    embedded = _lines_checked([line(op, raw.decode()) for op, raw in drifted])
    as_text = _lines_checked([line(op, json.dumps(raw.decode())) for op, raw in drifted])
    assert embedded.interactions == as_text.interactions == len(drifted)
    assert _findings(embedded) == _findings(as_text)
    assert len(_findings(embedded)) > 10
    # The report's example body is the body's own text, as the line wrote it; a body too long
    # to keep has its excerpt instead.
    from aliconform.scan import _MAX_EXAMPLE_BODY

    for aggregate in embedded.aggregates.values():
        written = drifted[aggregate.first - 1][1]
        if len(written) <= _MAX_EXAMPLE_BODY:
            assert (aggregate.body, aggregate.excerpt) == (written, None)
        else:
            assert aggregate.body == b""
            assert aggregate.excerpt


def test_a_line_whose_embedded_body_is_not_utf8_is_not_a_json_line() -> None:
    result = _lines_checked([b'{"operation": "GetImageModerationResult", "body": {"a": "\xff"}}\n'])
    assert result.interactions == 0
    assert "not a JSON line" in result.skipped[0].reason


def test_an_unreadable_line_is_quoted_scrubbed_escaped_and_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reason a line is skipped quotes the line; it goes to the console and every report."""
    key_id = "LTAI" + "5tAbCdEfGhIjKlMnOpQr"  # made at run time: this file holds no key
    capture = tmp_path / "odd.jsonl"
    lines = [
        {"operation": key_id, "status": 200, "body": "{}"},
        {"operation": "QuerySmarttagJob", "status": key_id, "body": "{}"},
        {"operation": "Query\u001b[31mX" + "y" * 100_000, "status": 200, "body": "{}"},
        {"operation": "QuerySmarttagJob", "status": 0, "body": "{}"},
        {"operation": "QuerySmarttagJob", "status": 99999, "body": "{}"},
        {"operation": "QuerySmarttagJob", "headers": [], "body": "{}"},
        {"operation": "QuerySmarttagJob", "headers": {"Content-Type": 1}, "body": "{}"},
    ]
    capture.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    out = tmp_path / "r"
    code = main(["scan", str(capture), "-o", str(out), "-j", "1", "--max-unreadable", "100%"])
    assert code == 2  # nothing could be checked
    reasons = [s.reason for s in scan_file(capture, workers=1).skipped]
    assert len(reasons) == len(lines)
    assert all(len(reason) <= 400 for reason in reasons)
    assert reasons[3] == '"status" must be an HTTP status (100 to 599), not 0'
    assert reasons[4].endswith("not 99999")
    assert reasons[5] == reasons[6] == '"headers" must be an object of strings (header name: value)'
    written = capsys.readouterr().out + "".join(
        (out / name).read_text("utf-8")
        for name in ("drift.html", "drift.json", "junit.xml", "summary.md")
    )
    assert key_id not in written
    assert "\u001b" not in written
    assert "\\x1b" in written
    assert len(written) < 200_000  # the 100 kB name is not copied into each of the four files
    assert scan_secrets([out], root=tmp_path) == []


def test_a_flood_of_one_kind_never_takes_the_place_of_another(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """A new key name on every line fills its own kind's places; a type mismatch after them
    keeps its path, so a waiver of that path still applies to it."""
    from aliconform.scan import MAX_DISTINCT

    operation, raw = build_corpus(5)[0]
    capture = tmp_path / "flood.jsonl"
    with capture.open("w", encoding="utf-8") as stream:
        for index in range(MAX_DISTINCT + 100):
            body = json.loads(raw)
            body[f"trace_{index}"] = 1
            stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
        body = json.loads(raw)
        body["RequestId"] = 5
        stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
    result = scan_file(capture, contracts_dir=REPO / "contracts", workers=2)
    mismatch = [a for a in result.aggregates.values() if a.finding.kind.value == "type-mismatch"]
    assert [(a.finding.path, a.count, a.first) for a in mismatch] == [
        ("/RequestId", 1, MAX_DISTINCT + 101)
    ]
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"waivers:\n  - id: known\n    operation: {operation}\n    kind: type-mismatch\n"
        "    path: /RequestId\n    reason: a known drift, accepted\n",
        "utf-8",
    )
    report = scan_report(result, contracts, load_policy(policy))
    assert [f.path for f in report.findings if f.status == "waived"] == ["/RequestId"]
    assert report.verdict.new_breaking == 0


def test_the_same_drift_in_two_payload_variants_is_two_findings(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """The pointer into a JSON-string payload does not name its variant; a waiver of the ASR
    results' drift must not waive the same drift in the OCR results."""
    operation, raw = next(item for item in build_corpus(10) if item[0] == "QuerySmarttagJob")
    capture = tmp_path / "variants.jsonl"
    with capture.open("w", encoding="utf-8") as stream:
        for variant in ("ASR", "OCR"):
            body = json.loads(raw)
            for result in body["Results"]["Result"]:
                if result["Type"] == variant:
                    result["Data"] = json.dumps({**json.loads(result["Data"]), "details": "oops"})
            stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "waivers:\n  - id: asr\n    operation: QuerySmarttagJob\n    kind: type-mismatch\n"
        "    field: 'Results.Result[].Data(ASR).*'\n    reason: a known drift, accepted\n",
        "utf-8",
    )
    report = scan_report(scan_file(capture, workers=1), contracts, load_policy(policy))
    judged = sorted((f.field, f.status, f.count) for f in report.findings)
    assert judged == [
        ("Results.Result[].Data(ASR).details", "waived", 1),
        ("Results.Result[].Data(OCR).details", "new", 1),
    ]
    assert len({f.id for f in report.findings}) == 2


def test_a_scan_finding_outside_payload_variants_keeps_the_id_earlier_releases_gave_it(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """Ids are what tools outside track a finding by (issues, links): the field joins the id
    only where it names a payload variant."""
    operation, raw = next(
        item for item in build_corpus(10) if item[0] == "GetImageModerationResult"
    )
    body = {**json.loads(raw), "RequestId": 5}
    capture = tmp_path / "one.jsonl"
    capture.write_text(json.dumps({"operation": operation, "body": body}) + "\n", "utf-8")
    report = scan_report(scan_file(capture, workers=1), contracts, DriftPolicy())
    (finding,) = [f for f in report.findings if f.kind == "type-mismatch"]
    assert (finding.field, finding.id) == ("RequestId", "71c76071b437963e")


def test_report_diff_of_scans_compares_every_undocumented_value_they_saw(
    tmp_path: Path, contracts: ContractSet
) -> None:
    """Twelve new values, in another order, are the same twelve (no --fail-on); a thirteenth
    is a new drift, even past the ten values a row shows."""
    operation, raw = next(
        item for item in build_corpus(10) if item[0] == "GetImageModerationResult"
    )

    def scanned(name: str, values: list[str]) -> Any:
        capture = tmp_path / f"{name}.jsonl"
        with capture.open("w", encoding="utf-8") as stream:
            for value in values:
                body = json.loads(raw)
                body["ModerationResult"]["Suggestion"] = value
                stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
        return scan_report(scan_file(capture, workers=1), contracts, DriftPolicy())

    twelve = [f"v{index:02}" for index in range(12)]
    first = scanned("a", twelve)
    (row,) = [f for f in first.findings if f.kind == "undocumented-enum-value"]
    assert sorted(row.observed_values) == [f'"{value}"' for value in twelve]
    assert diff_reports(first, scanned("b", twelve[::-1])).worse(Severity.BREAKING) == []
    grown = diff_reports(first, scanned("c", [*twelve, "delete"]))
    ((_, after, what),) = grown.changed
    assert any(change.startswith("observed:") and "delete" in change for change in what)
    assert grown.worse(Severity.BREAKING) == [after]


def test_a_scan_of_more_distinct_findings_than_it_names_names_the_same_ones_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches finish in any order; they are merged in the file's, so which findings keep a
    row of their own is not left to chance (report diff would show changes that are not)."""
    from concurrent.futures import ThreadPoolExecutor

    from aliconform.scan import MAX_DISTINCT

    corpus = build_corpus(5)
    operation, raw = corpus[0]
    capture = tmp_path / "varied.jsonl"
    with capture.open("w", encoding="utf-8") as stream:
        for index in range(MAX_DISTINCT + 200):
            body = json.loads(raw)
            body[f"Extra{index}"] = 1  # line index + 1 holds /Extra{index}
            stream.write(json.dumps({"operation": operation, "body": body}) + "\n")
    # The batch that holds the last lines to be named finishes after the one behind it.
    real = scan._check_batch

    def slow_at_the_boundary(start: int, lines: list[bytes], source: str) -> Any:
        if start <= MAX_DISTINCT < start + len(lines):
            time.sleep(1)
        return real(start, lines, source)

    monkeypatch.setattr(scan, "_BATCH_LINES", 10)
    monkeypatch.setattr(scan, "_check_batch", slow_at_the_boundary)
    monkeypatch.setattr(  # threads, so that the slow batch is this process's
        scan,
        "ProcessPoolExecutor",
        lambda workers, mp_context, initializer, initargs: ThreadPoolExecutor(
            workers, initializer=initializer, initargs=initargs
        ),
    )
    named = {a.finding.path for a in scan_file(capture, workers=2).aggregates.values()}
    assert named == {f"/Extra{index}" for index in range(MAX_DISTINCT)} | {"/…"}


def test_ctrl_c_stops_a_scan_without_a_traceback_from_its_workers(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group; a worker still starting must not answer it with
    a KeyboardInterrupt traceback of its own (the parent stops the scan and says so)."""
    capture = _capture(tmp_path / "big.jsonl", 2_000)
    site = tmp_path / "site"
    site.mkdir()
    started = tmp_path / "started"
    (site / "sitecustomize.py").write_text(  # a worker says it started, then takes its time
        "import pathlib, sys, time\n"
        "if '--multiprocessing-fork' in sys.argv:\n"
        f"    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(6)\n"
    )
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-m", "aliconform.cli", "scan", str(capture), "-o", str(tmp_path / "r")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a group of its own, which a terminal's Ctrl-C reaches whole
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": path},
        # As a terminal starts it: a test run in the background (`cmd &` in a script) has
        # SIGINT ignored, which a child inherits, and the scan would never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "no worker started"
        time.sleep(1)  # the workers are starting
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = stderr.decode("utf-8", "replace")
    assert process.returncode == 130, (text, stdout.decode("utf-8", "replace")[-2000:])
    assert "KeyboardInterrupt" not in text
    assert "Traceback" not in text
    assert "stopped by SIGINT" in text


def test_a_capture_whose_name_is_not_utf8_is_scanned_and_reported(tmp_path: Path) -> None:
    """Python keeps such a name's bytes as lone surrogates, which no report can be written
    with: the reports show the byte as \\xff."""
    line = {"operation": "GetImageModerationResult", "status": 200, "body": _leaky_body()}
    capture = Path(os.fsdecode(bytes(tmp_path) + b"/cap\xff.jsonl"))
    capture.write_text(json.dumps(line) + "\n", "utf-8")
    out = tmp_path / "reports"
    assert main(["scan", str(capture), "--out", str(out), "-j", "1"]) == 1
    report = json.loads((out / "drift.json").read_text("utf-8"))
    assert {f["source"] for f in report["findings"]} == {"cap\\xff.jsonl line 1"}
    assert report["inputs"]["file"].endswith("/cap\\xff.jsonl")


def test_a_response_body_or_a_pretty_printed_document_is_told_apart_from_a_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two mistakes a first scan makes: a body where a capture line goes, and one JSON
    document over several lines. Each line's reason names the command that reads it."""
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"RequestId": "r", "Code": "x"}) + "\n", "utf-8")
    result = scan_file(body, workers=1)
    (line,) = result.skipped
    assert line.reason.startswith('no "operation"')
    assert "looks like a response body" in line.reason
    assert "aliconform check <operation>" in line.reason
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({"RequestId": "r", "Code": "x"}, indent=2) + "\n", "utf-8")
    result = scan_file(pretty, workers=1)
    first = result.skipped[0]
    assert first.line == 1
    assert first.reason.startswith("not a JSON line")
    assert "one JSON document written over several lines" in first.reason
    # Only a line that opens a document says so: the rest are just unreadable.
    assert all("several lines" not in s.reason for s in result.skipped[1:])


def test_check_of_a_capture_names_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for lines in (2, 1):  # a capture of one line is one too
        capture = _capture(tmp_path / f"capture-{lines}.jsonl", lines)
        assert main(["check", "GetImageModerationResult", str(capture)]) == 1
        printed = capsys.readouterr()
        err = " ".join(printed.err.split())
        assert f"{capture} holds JSON documents with operation and body, one per line" in err
        assert f"aliconform scan {capture}" in err
    body = tmp_path / "two-bodies.json"
    body.write_text('{"RequestId": "a"}\n{"RequestId": "b"}\n', "utf-8")
    assert main(["check", "GetImageModerationResult", str(body)]) == 1
    # Not a capture: the lines are bodies, and scan would not read them either.
    assert "aliconform scan" not in capsys.readouterr().err
