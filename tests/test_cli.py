from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aliconform.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fields_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contracts", "fields", "GetImageModerationResult", "--json")
    assert code == 0
    rows = {row["path"]: row for row in json.loads(out)}
    rate = rows["ModerationResult.Frames.BlockFrames[].Rate"]
    assert {k: rate[k] for k in ("type", "required", "enum", "format", "source")} == {
        "type": "number",
        "required": False,
        "enum": None,
        "format": None,
        "source": "doc-table",
    }
    assert rows["Status"]["enum"] == ["Running", "Succeeded", "Failed"]
    assert rows["ModerationResult.URI"]["format"] == "oss-uri"
    assert rows["ModerationResult.Frames.BlockFrames[].Label(json)"]["source"] == "doc-example"


def test_fields_json_reaches_into_payloads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contracts", "fields", "QuerySmarttagJob", "--json")
    assert code == 0
    paths = [row["path"] for row in json.loads(out)]
    assert "Results.Result[].Data(VideoLabel).persons[].name" in paths
    assert len(paths) == len(set(paths))


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contracts", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [row["operation"] for row in rows] == sorted(row["operation"] for row in rows)
    assert len(rows) == 5


def test_show_and_jsonschema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "contracts", "show", "QueryIProductionJob")
    assert code == 0
    assert "IdempotentParameterMismatch" in out
    assert "Result(Cover)" not in out
    assert "Cover" in out
    code, out, _ = run(capsys, "contracts", "jsonschema", "QueryIProductionJob")
    assert code == 0
    assert json.loads(out)["title"] == "QueryIProductionJob success response"


def test_unknown_operation_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "contracts", "fields", "GetImageModeration")
    assert code == 2
    assert "did you mean 'GetImageModerationResult'" in err


@pytest.mark.parametrize(
    "command",
    [["contracts", "validate"], ["contracts", "list"], ["openapi"], ["lint-docs"]],
    ids=" ".join,
)
def test_a_catalog_without_contracts_is_the_same_usage_error_to_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "common").mkdir()
    shutil.copy(REPO / "contracts" / "common" / "errors.yaml", tmp_path / "common")
    code, out, err = run(capsys, *command, "--contracts", str(tmp_path))
    assert code == 2
    said = " ".join((out + err).split())
    assert f"{tmp_path}: no contracts here: there is a common/errors.yaml but no" in said
    assert "problem(s)" not in said


def test_validate_and_version(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "contracts", "validate")[0] == 0
    code, out, err = run(capsys, "contracts", "validate", "--contracts", str(tmp_path / "none"))
    assert code == 2  # unreadable input, as for every other command
    assert "no such contracts directory" in out + err
    # A directory that holds no contracts at all was the wrong one to give: said so, exit 2.
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "contracts", "validate", "--contracts", str(tmp_path / "empty"))
    assert code == 2
    assert "no contracts here: a contracts directory holds" in " ".join((out + err).split())
    # A contract saved as .yml would not be loaded: it is named rather than skipped.
    stray = tmp_path / "contracts"
    shutil.copytree(REPO / "contracts", stray)
    (stray / "imm" / "GetImageModerationResult.yaml").rename(
        stray / "imm" / "GetImageModerationResult.yml"
    )
    code, out, err = run(capsys, "contracts", "validate", "--contracts", str(stray))
    assert code == 1
    assert "GetImageModerationResult.yml: contracts are *.yaml files" in out + err
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("aliconform ")


def test_check_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"RequestId": "r", "JobStatus": "Processing"}')
    code, out, _ = run(capsys, "check", "QuerySmarttagJob", str(good))
    assert code == 0
    assert "conforms, no findings" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"RequestId": 1, "JobStatus": "Processing"}')
    code, out, _ = run(capsys, "check", "QuerySmarttagJob", str(bad), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert (report["format"], report["format_version"]) == ("aliconform-findings", 1)
    assert report["schema_version"] == 1  # the earlier name, still there
    assert [(f["kind"], f["path"], f["source"]) for f in report["findings"]] == [
        ("type-mismatch", "/RequestId", str(bad))
    ]
    code, _, err = run(capsys, "check", "QuerySmarttagJob", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read file" in err
    error_body = tmp_path / "error.json"
    error_body.write_text('{"RequestId": "r", "Code": "Throttling.User", "Message": "m"}')
    assert run(capsys, "check", "QuerySmarttagJob", str(error_body), "--status", "400")[0] == 0


def test_names_with_brackets_are_printed_as_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The terminal library reads [...] as styles: a path or a waiver reason must not lose
    '[prod]', and '[/red]' must not crash a command (after its work, for derive)."""
    odd = tmp_path / "w[/red]"  # a directory "w[" with "red]" in it
    odd.mkdir(parents=True)
    good, bad = odd / "r[prod].json", odd / "b[prod].json"
    good.write_text('{"RequestId": "r", "JobStatus": "Processing"}')
    bad.write_text('{"RequestId": 1, "JobStatus": "Processing"}')
    code, out, _ = run(capsys, "check", "QuerySmarttagJob", str(good))
    assert (code, f"{good}: conforms" in " ".join(out.split())) == (0, True)
    code, out, _ = run(capsys, "check", "QuerySmarttagJob", str(bad))
    assert code == 1
    assert "b[prod].json" in out
    capture = odd / "cap[prod].jsonl"
    capture.write_text(
        json.dumps({"operation": "QuerySmarttagJob", "body": {"RequestId": 1}}) + "\n", "utf-8"
    )
    code, out, _ = run(capsys, "scan", str(capture), "--out", str(tmp_path / "r"), "-j", "1")
    assert code == 1
    assert "cap[prod].jsonl" in out
    cassettes = tmp_path / "c[/red]"
    argv = ["--cassettes", str(cassettes)]
    code, out, _ = run(
        capsys, "cassettes", "derive", *argv, "--operation", "GetImageModerationResult"
    )
    assert code == 0
    assert f"wrote {cassettes}/imm/GetImageModerationResult/" in out
    code, out, _ = run(capsys, "cassettes", "list", *argv)
    assert (code, "c[/red]" in out) == (0, True)
    # a problem's path in the verdict line, a file written by openapi
    misplaced = cassettes / "[v2]" / "y.yaml"
    misplaced.parent.mkdir()
    misplaced.write_text("interactions: []\n", "utf-8")
    code, out, _ = run(capsys, "replay", *argv, "--out", str(tmp_path / "rr"))
    assert code == 2
    assert "[v2]/y.yaml" in " ".join(out.split())
    code, _, err = run(capsys, "openapi", "--out", str(tmp_path / "[/red].json"))
    assert (code, "[/red].json" in err) == (0, True)


@pytest.mark.parametrize("operation", ["GetImageModerationResult", "GetVideoModerationResult"])
def test_a_plain_moderation_label_is_a_warning_resting_on_the_examples(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, operation: str
) -> None:
    # The tables say only "the label of the violation"; the JSON in it is the examples' alone.
    task_type = operation.removeprefix("Get").removesuffix("Result")
    body = tmp_path / "plain-label.json"
    frames = {"TotalCount": 1, "BlockFrames": [{"Rate": 90, "Offset": 1, "Label": "porn"}]}
    body.write_text(
        json.dumps(
            {
                "RequestId": "r",
                "Status": "Succeeded",
                "TaskType": task_type,
                "TaskId": f"{task_type}-1",
                "ModerationResult": {"Suggestion": "block", "Frames": frames},
            }
        )
    )
    code, out, _ = run(capsys, "check", operation, str(body), "--format", "json")
    assert code == 0  # no breaking finding
    (finding,) = json.loads(out)["findings"]
    assert (finding["kind"], finding["severity"]) == ("invalid-json-payload", "warning")
    assert finding["path"] == "/ModerationResult/Frames/BlockFrames/0/Label"
    assert "the contract assumes this" in finding["message"]
    assert "documentation's examples alone" in finding["severity_reason"]


def test_lint_docs_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "lint-docs", "--format", "json")
    report = json.loads(out)
    waived = {f["waived_by"] for f in report["findings"] if f["waived_by"]}
    assert code == 0, "the known contradictions are waived in drift-policy.yaml"
    assert waived == {
        "video-moderation-example-userdata-object",
        "video-moderation-example-label-object",
        "iproduction-example-cover-result-empty",
    }
    assert len(report["findings"]) == 23  # as tests/test_drift_engine.py pins them
    assert report["unused_waivers"] == []
    assert report["expired_waivers"] == []
    # which policy waived them is said, in JSON and in text, as replay says it
    assert Path(report["policy"]).resolve() == (REPO / "drift-policy.yaml").resolve()
    code, out, _ = run(capsys, "lint-docs")
    assert f"drift policy: {report['policy']}" in out
    code, out, _ = run(capsys, "lint-docs", "--policy", str(REPO / "scenarios.yaml"))
    assert code == 2  # not a policy: refused, never silently a different one


def test_bad_format_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "lint-docs", "--format", "xml")[0] == 2


def test_bench_prints_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "--count", "100", "--jsonschema-sample", "10")
    assert code == 0
    labels = (
        "responses/s",
        "check ÷ orjson.loads",
        "check ÷ that full parse",
        "that full parse ÷ orjson.loads",
        "check without the invariants (types alone) ÷ orjson.loads",
        "drifted at the root",
        "drifted deep inside a result",
        "jsonschema ÷ check",
        "peak RSS",
    )
    for label in labels:
        assert label in out, label


# The optional extras' top-level modules: the base install (`tox -e main`) has none of them.
_OPTIONAL_MODULES = [
    "alibabacloud_tea_openapi",
    "alibabacloud_tea_util",
    "alibabacloud_credentials",
    "alibabacloud_imm20200930",
    "alibabacloud_ice20201109",
    "schemathesis",
    "hypothesis",
]


def _without_extras(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a process where importing any optional extra fails, as in a base install."""
    script = (
        "import sys\n"
        f"for name in {_OPTIONAL_MODULES!r}:\n"
        "    sys.modules[name] = None  # import raises ImportError\n"
        "from aliconform.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_main_job_runs_without_the_optional_extras(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    replay = _without_extras("replay", "--cassettes", "cassettes", "--out", str(out))
    assert replay.returncode in (0, 1), replay.stderr[-2000:]
    assert (out / "drift.html").is_file()
    body = tmp_path / "body.json"
    body.write_text('{"RequestId": 1}', "utf-8")
    check = _without_extras("check", "GetImageModerationResult", str(body))
    assert check.returncode == 1, check.stderr[-2000:]
    # What needs the SDK says which package to install, instead of failing on import.
    needs_sdk = [
        ("twin", "--port", "0"),
        (
            "cassettes",
            "derive",
            "--cassettes",
            str(tmp_path / "c"),
            "--operation",
            "QuerySmarttagJob",
        ),
    ]
    for argv in needs_sdk:
        done = _without_extras(*argv)
        assert done.returncode == 2, (argv, done.stderr[-2000:])
        assert "pip install 'aliconform[sdk]'" in done.stdout + done.stderr, argv
        assert "Traceback" not in done.stderr, argv


def test_a_twin_port_in_use_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = run(capsys, "twin", "--port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out + err
    assert "twin on" not in out + err  # nothing announced before it listens


def test_the_twin_refuses_an_empty_secret_and_shows_a_key_id_of_yours_as_a_prefix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import aliconform.twin

    served: list[Any] = []

    def serve(*, port: int, config: Any, announce: Any) -> None:
        served.append(config)
        announce(f"http://127.0.0.1:{port}")

    monkeypatch.setattr(aliconform.twin, "run_twin", serve)
    monkeypatch.setenv("ALICONFORM_TWIN_ACCESS_KEY_SECRET", "")
    code, out, err = run(capsys, "twin", "--port", "0")
    assert code == 2
    assert "ALICONFORM_TWIN_ACCESS_KEY_SECRET is set but empty" in " ".join((out + err).split())
    assert served == []
    monkeypatch.setenv("ALICONFORM_TWIN_ACCESS_KEY_SECRET", "a-secret-of-mine-0123456789")
    key_id = "LTAI5tMyOwnTestKey0123456"
    code, out, err = run(capsys, "twin", "--port", "0", "--access-key-id", key_id)
    assert code == 0
    (config,) = served
    assert config.credentials == {key_id: "a-secret-of-mine-0123456789"}
    said = out + err
    assert "access key id LTAI…" in said
    assert key_id not in said
    assert "a-secret-of-mine" not in said


def test_help_text_keeps_brackets_and_joins_docstring_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "twin", "--help")
    assert code == 0
    # Rich markup would read "[@Action]" as a style tag and drop it from the syntax shown.
    assert "(kind[=count|=*][@Action])" in out
    code, out, _ = run(capsys, "scan", "--help")
    # A docstring's line breaks are not the terminal's: the sentence is wrapped as one.
    assert "Exit 0: no new breaking drift; 1: new breaking drift; 2: usage error," in out
    code, out, _ = run(capsys, "openapi", "--help")
    # Markdown would read "<product>" as an HTML tag and drop it.
    assert "/<product>/<version>/<Action>" in out


def _commands() -> list[tuple[str, ...]]:
    import typer

    def walk(group: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        if hasattr(group, "commands"):  # a group (typer brings its own copy of click)
            return [p for name, sub in group.commands.items() for p in walk(sub, (*path, name))]
        return [path]

    from aliconform.cli import app

    return walk(typer.main.get_command(app), ())


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_help_at_80_columns_shows_every_option_name_whole(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name cut short (--skip-without-creden…) cannot be typed; a flag needs no <bool>."""
    import typer

    from aliconform.cli import app

    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    cli = typer.main.get_command(app)
    for name in command:
        cli = cli.commands[name]  # type: ignore[attr-defined]
    names = [opt for param in cli.params for opt in (*param.opts, *param.secondary_opts)]
    missing = [name for name in names if name.startswith("--") and name not in out.split()]
    assert not missing, out
    assert "<bool>" not in out
    assert "…" not in out


@pytest.mark.parametrize("command", ["replay", "scan"])
@pytest.mark.parametrize("below", ["", "reports"])
def test_reports_directory_where_a_file_stands_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, below: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me", "utf-8")
    capture = tmp_path / "capture.jsonl"
    capture.write_text("", "utf-8")
    argv = [command, *([str(capture)] if command == "scan" else []), "--out", str(blocker / below)]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert f"{blocker} is a file, not a directory" in " ".join(err.replace("│", " ").split())
    assert blocker.read_text("utf-8") == "keep me"


@pytest.mark.parametrize("command", ["replay", "scan"])
def test_reports_directory_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    # Simulated: the tests may run as root, for whom permission bits refuse nothing.
    import tempfile

    real = tempfile.TemporaryFile
    reports = tmp_path / "reports"

    def refuse_there(*args: Any, **kwargs: Any) -> Any:
        if Path(kwargs.get("dir") or ".") == reports:
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    def no_work(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the run started although its reports cannot be written")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse_there)
    monkeypatch.setattr("aliconform.scan.scan_file", no_work)
    monkeypatch.setattr("aliconform.cassettes.replay.replay_all", no_work)
    capture = tmp_path / "capture.jsonl"
    capture.write_text("", "utf-8")
    argv = [command, *([str(capture)] if command == "scan" else []), "--out", str(reports)]
    code, _, err = run(capsys, *argv)
    assert code == 2
    flat = " ".join(err.replace("│", " ").split())
    assert f"cannot write the reports to {reports}: Permission denied" in flat


def test_unwritable_cassette_and_scratch_directories_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("", "utf-8")
    code, _, err = run(capsys, "cassettes", "derive", "--cassettes", str(a_file))
    assert code == 2
    assert f"cannot write the cassettes to {a_file}: Not a directory" in " ".join(err.split())
    code, _, err = run(capsys, "bench-scan", "-n", "10", "--scratch", str(a_file / "x"))
    assert code == 2
    assert "cannot write the capture files to" in " ".join(err.split())


def test_a_stopped_bench_scan_leaves_no_capture_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its captures are hundreds of megabytes, written to the working directory by default."""

    def stopped_while_scanning(*args: object, **kwargs: object) -> None:
        assert list(tmp_path.glob("capture-*.jsonl")), "the capture is written before the scan"
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(subprocess, "run", stopped_while_scanning)
    code, _, err = run(capsys, "bench-scan", "-n", "20", "--scratch", str(tmp_path))
    assert code == 128 + signal.SIGTERM
    assert "stopped by SIGTERM" in err
    assert list(tmp_path.iterdir()) == []


def test_reports_directory_is_tried_without_leaving_it_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "a/b"))
    assert code == 2
    assert "missing.jsonl: no such file" in err
    assert list(tmp_path.iterdir()) == []


def test_trying_the_reports_directory_removes_only_what_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aliconform.report import check_report_directory

    monkeypatch.chdir(tmp_path)
    (tmp_path / "reports").mkdir()  # there before, and empty: it stays
    check_report_directory(Path("missing/../reports"))
    check_report_directory(Path("a/b/c"))
    check_report_directory(tmp_path / "reports" / "sub")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["reports"]


def test_a_dry_run_does_not_need_a_writable_reports_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a dry run tried the reports directory")

    monkeypatch.setattr("aliconform.report.check_report_directory", refuse)
    code, out, _ = run(capsys, "record", "--dry-run", "--out", str(tmp_path / "r"))
    assert code == 0
    assert "GetImageModerationResult" in out


def test_reports_that_cannot_be_written_are_a_usage_error_naming_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aliconform.drift.waivers import DriftPolicy
    from aliconform.errors import AliconformError
    from aliconform.report import ReportInput, build_report, write_reports

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("aliconform.report.writer.atomic_write_texts", refuse)
    data = ReportInput([], {}, [], lambda _finding: "replay")
    report = build_report(run="check", title="t", data=data, policy=DriftPolicy(), operations=[])
    with pytest.raises(AliconformError, match=r"cannot write the reports to .*: Permission denied"):
        write_reports(report, tmp_path / "out")


def test_openapi_out_naming_a_directory_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "openapi", "--out", str(tmp_path))
    assert code == 2
    assert f"--out {tmp_path} is a directory; name the file to write" in err
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_region_is_one_usage_error_before_anything_is_called(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_recording(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("recording started for a region that has no endpoint")

    monkeypatch.setattr("aliconform.cli._run_recording", no_recording)
    argv = ["record", "--region", "cn-shangai", "--cassettes", str(tmp_path / "cassettes")]
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "reports"))
    assert code == 2
    flat = " ".join(err.replace("│", " ").split())
    assert "no documented endpoint in region 'cn-shangai' (did you mean 'cn-shanghai'?)" in flat
    assert flat.endswith("(or give --endpoint)")
    assert flat.count("no documented endpoint") == 1
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_replaying_an_empty_cassettes_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "cassettes" / "ice").mkdir(parents=True)  # directories, and no cassette in them
    argv = ["replay", "--cassettes", str(tmp_path / "cassettes"), "--out", str(tmp_path / "r")]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert f"{tmp_path / 'cassettes'}: no cassettes found" in " ".join(
        err.replace("│", " ").split()
    )
    assert not (tmp_path / "r").exists()


def test_a_cassette_that_cannot_be_checked_is_named_on_the_console(
    cassettes_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A cassette under a directory no contract is named for: the verdict line says which one.
    stray = cassettes_copy / "imm" / "GetImageModeration"
    stray.mkdir()
    for source in (cassettes_copy / "imm" / "GetImageModerationResult").glob(
        "doc-example-success*"
    ):
        shutil.copy(source, stray)
    argv = ["replay", "--cassettes", str(cassettes_copy), "--out", str(tmp_path / "r")]
    code, out, err = run(capsys, *argv)
    assert code == 2
    printed = " ".join((out + err).replace("│", " ").split())
    assert (
        f"{cassettes_copy.name}/imm/GetImageModeration/doc-example-success.yaml: no contract for "
        "operation 'GetImageModeration' (did you mean 'GetImageModerationResult'?)"
    ) in printed


def test_response_text_is_shown_as_written_never_read_as_markup_or_terminal_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A response's keys and values reach the console: Rich must not read "[/x]" as a closing
    tag (which raised), "[link=...]" as a link, nor may ESC or a bidirectional override reach
    the terminal."""
    body = {
        "RequestId": "r",
        "JobStatus": "oops[/x] [link=http://evil.example]click[/link]",
        "[red]k[/red]": 1,
        "\x1b[2Jcleared": 2,
        "\u202eevil": 3,
    }
    response = tmp_path / "response.json"
    response.write_text(json.dumps(body), "utf-8")
    code, out, err = run(capsys, "check", "QuerySmarttagJob", str(response))
    assert code == 1, err
    flat = "".join(out.split())
    assert "oops[/x][link=http://evil.example]click[/link]" in flat
    assert "'[red]k[/red]'" in flat
    assert "\\x1b[2Jcleared" in flat
    assert "\\u202eevil" in flat
    assert "\x1b" not in out + err
    assert "\u202e" not in out + err


def _labels_drifting_in_every_element(tmp_path: Path, count: int) -> Path:
    from aliconform.bench import build_corpus

    body = next(
        json.loads(raw)
        for operation, raw in build_corpus(10)
        if operation == "GetVideoLabelClassificationResult"
    )
    label = body["Labels"][0]
    body["Labels"] = [dict(label, LabelConfidence="0.5", Extra=1) for _ in range(count)]
    response = tmp_path / "response.json"
    response.write_text(json.dumps(body), "utf-8")
    return response


def test_check_shows_one_drift_repeated_across_an_array_as_one_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = _labels_drifting_in_every_element(tmp_path, 120)
    code, out, _ = run(capsys, "check", "GetVideoLabelClassificationResult", str(response))
    assert code == 1
    flat = " ".join(out.split())
    assert "/Labels/*/LabelConfidence" in "".join(out.split())
    assert "120 times" in flat
    assert "/Labels/57/" not in "".join(out.split())  # no row per element
    assert "120 new breaking finding(s)" in flat  # the count is still every finding
    code, out, _ = run(
        capsys, "check", "GetVideoLabelClassificationResult", str(response), "--format", "json"
    )
    assert len(json.loads(out)["findings"]) == 240  # the data keeps every one


@pytest.mark.parametrize(
    "argv",
    [
        ("report", "schema"),
        ("contracts", "list", "--json"),
        ("contracts", "fields", "QuerySmarttagJob"),
    ],
)
def test_a_closed_standard_output_ends_the_command_as_a_broken_pipe_does(
    argv: tuple[str, ...],
) -> None:
    """`aliconform ... | head -1`: the reader went away. That is no finding (exit 1) and no
    error to print: 128 + SIGPIPE, as a shell's own commands end."""
    import os

    read, write = os.pipe()
    os.close(read)
    try:
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from aliconform.cli import main; sys.exit(main())",
                *argv,
            ],
            cwd=REPO,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert run.returncode == 128 + signal.SIGPIPE, run.stderr
    assert run.stderr == ""


def test_a_dry_run_shows_no_credential_a_variable_carries(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario variable may hold a signed URL: the plan shows it as a recording writes it."""
    key_id, token = "LTAI5tPlanKeyId123456789", "CAISplanSecurityToken0123456789abcdef"
    signed = (
        f"https://bucket.oss-cn-shanghai.aliyuncs.com/video.mp4?OSSAccessKeyId={key_id}"
        f"&Expires=1700000000&Signature=c2lnbmF0dXJlLXZhbHVl&security-token={token}"
    )
    monkeypatch.setenv("ALICONFORM_ICE_VIDEO_URI", signed)
    code, out, err = run(capsys, "record", "--dry-run", "--operation", "QuerySmarttagJob")
    assert code == 0
    assert "bucket.oss-cn-shanghai.aliyuncs.com/video.mp4" in out
    for secret in (key_id, token, "c2lnbmF0dXJlLXZhbHVl"):
        assert secret not in out + err
