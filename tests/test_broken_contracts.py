"""Every deliberately broken contract gives exactly one clear error: file:line:column, key path."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from aliconform import ContractError, load_contracts
from aliconform.cli import main

BROKEN = sorted((Path(__file__).parent / "broken_contracts").glob("*.yaml"))
REPO = Path(__file__).resolve().parents[1]
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (\S+)$", re.MULTILINE)
EXPECT_MESSAGE = re.compile(r"^# expect-message: (.+)$", re.MULTILINE)


def expectation(text: str) -> tuple[int, int, str, str]:
    where = EXPECT.search(text)
    message = EXPECT_MESSAGE.search(text)
    assert where, "each broken contract states its expected position in its header"
    assert message, "each broken contract states its expected message in its header"
    key_path = "" if where.group(3) == "-" else where.group(3)
    return int(where.group(1)), int(where.group(2)), key_path, message.group(1)


def test_there_are_at_least_twenty_kinds_of_mistake() -> None:
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("case", BROKEN, ids=lambda p: p.stem)
def test_one_clear_error(case: Path, contract_dir: Callable[[str], Path]) -> None:
    text = case.read_text(encoding="utf-8")
    line, column, key_path, message = expectation(text)
    root = contract_dir(text)
    with pytest.raises(ContractError) as caught:
        load_contracts(root)
    issues = caught.value.issues
    assert len(issues) == 1, [str(issue) for issue in issues]
    issue = issues[0]
    assert (issue.line, issue.column, issue.key_path) == (line, column, key_path)
    assert message in issue.message
    assert str(issue).startswith(f"{issue.file}:{line}:{column}: ")
    assert issue.file.endswith("Sample.yaml")


@pytest.mark.parametrize("case", BROKEN, ids=lambda p: p.stem)
def test_cli_reports_without_traceback(
    case: Path, contract_dir: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    line, column, _, _ = expectation(case.read_text(encoding="utf-8"))
    root = contract_dir(case.read_text(encoding="utf-8"))
    assert main(["contracts", "validate", "--contracts", str(root)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert f"Sample.yaml:{line}:{column}: " in captured.err


def test_file_that_is_not_utf8(contract_dir: Callable[[str], Path]) -> None:
    root = contract_dir("format_version: 1\n")
    (root / "imm" / "Sample.yaml").write_bytes(b"operation: \xff\xfe\n")
    with pytest.raises(ContractError, match=r"Sample\.yaml: not UTF-8 text"):
        load_contracts(root)


def test_a_character_yaml_forbids_is_placed_at_its_line_and_column(
    contract_dir: Callable[[str], Path],
) -> None:
    root = contract_dir("format_version: 1\n")
    (root / "imm" / "Sample.yaml").write_text("format_version: 1\noperation: Sa\x00mple\n", "utf-8")
    expected = r"Sample\.yaml:2:14: character U\+0000 is not allowed in YAML"
    with pytest.raises(ContractError, match=expected):
        load_contracts(root)


def test_every_broken_file_is_reported_in_one_run(contract_dir: Callable[[str, str], Path]) -> None:
    first, second = BROKEN[0], BROKEN[1]
    contract_dir(first.read_text(encoding="utf-8"), "imm/Sample.yaml")
    root = contract_dir(
        second.read_text(encoding="utf-8").replace("operation: Sample\n", "operation: Other\n"),
        "ice/Other.yaml",
    )
    with pytest.raises(ContractError) as caught:
        load_contracts(root)
    files = {Path(issue.file).name for issue in caught.value.issues}
    assert files == {"Sample.yaml", "Other.yaml"}


def test_missing_directory_and_catalog(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such contracts directory"):
        load_contracts(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ContractError, match="empty: no contracts here"):
        load_contracts(tmp_path / "empty")
    # Contracts without the shared catalog: that file is named.
    (tmp_path / "empty" / "imm").mkdir()
    shutil.copy(REPO / "contracts/imm/GetImageModerationResult.yaml", tmp_path / "empty" / "imm")
    with pytest.raises(
        ContractError, match=r"empty: not a contracts directory: there is no common/errors\.yaml"
    ):
        load_contracts(tmp_path / "empty")
