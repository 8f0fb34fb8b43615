"""The exported JSON Schemas: in sync with the models, valid, and useful to other tools."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from aliconform import ContractSet
from aliconform.cli import main
from aliconform.contracts.jsonschema import (
    catalog_format_schema,
    contract_format_schema,
    response_schema,
)

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
SCENARIOS, SCENARIOS_SCHEMA = "scenarios.yaml", "scenarios.schema.json"


def _yaml(path: Path) -> object:
    return json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))


def test_committed_format_schemas_are_current() -> None:
    assert json.loads((CONTRACTS / "schema.json").read_text()) == contract_format_schema(), (
        "contracts/schema.json is stale: run 'aliconform contracts schema'"
    )
    assert json.loads((CONTRACTS / "errors.schema.json").read_text()) == catalog_format_schema()


def test_schema_check_command_detects_staleness(copy_of_contracts: Path) -> None:
    assert main(["contracts", "schema", "--check", "-c", str(copy_of_contracts)]) == 0
    (copy_of_contracts / "schema.json").write_text("{}\n")
    assert main(["contracts", "schema", "--check", "-c", str(copy_of_contracts)]) == 1
    assert main(["contracts", "schema", "-c", str(copy_of_contracts)]) == 0
    assert main(["contracts", "schema", "--check", "-c", str(copy_of_contracts)]) == 0


def test_schema_check_calls_a_deleted_file_missing(
    copy_of_contracts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy_of_contracts / "errors.schema.json").unlink()
    (copy_of_contracts / "schema.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["contracts", "schema", "--check", "-c", str(copy_of_contracts)]) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert f"{copy_of_contracts / 'errors.schema.json'} is missing: run" in said
    assert f"{copy_of_contracts / 'schema.json'} is out of date: run" in said


@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("missing/contracts", "no such contracts directory"),
        ("a-file.txt", "not a directory"),
        ("empty", ""),  # a directory that holds no contracts: no schema.json written into it
        ("catalog-only", "no contracts here: there is a common/errors.yaml but no"),
    ],
)
def test_schema_of_a_directory_that_holds_no_contracts_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, said: str, check: bool
) -> None:
    (tmp_path / "a-file.txt").write_text("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "catalog-only" / "common").mkdir(parents=True)
    shutil.copy(CONTRACTS / "common" / "errors.yaml", tmp_path / "catalog-only" / "common")
    target = tmp_path / given
    argv = ["contracts", "schema", "-c", str(target), *(["--check"] if check else [])]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"error: {target}: {said}" in error
    assert "Traceback" not in error
    assert not (tmp_path / "empty" / "schema.json").exists()
    assert not (tmp_path / "catalog-only" / "schema.json").exists()


def test_editors_accept_the_contracts_with_the_format_schema() -> None:
    validator = jsonschema.Draft202012Validator(contract_format_schema())
    for path in sorted(CONTRACTS.glob("*/*.yaml")):
        if path.parent.name == "common":
            continue
        errors = list(validator.iter_errors(_yaml(path)))
        assert not errors, f"{path}: {errors[0].message}"
    catalog = jsonschema.Draft202012Validator(catalog_format_schema())
    assert not list(catalog.iter_errors(_yaml(CONTRACTS / "common" / "errors.yaml")))


def test_format_schema_rejects_a_wrong_type() -> None:
    document = _yaml(CONTRACTS / "imm" / "GetImageModerationResult.yaml")
    assert isinstance(document, dict)
    document["response"]["fields"]["Status"]["type"] = "objekt"
    assert list(jsonschema.Draft202012Validator(contract_format_schema()).iter_errors(document))


@pytest.mark.parametrize(
    "operation",
    [
        "GetVideoLabelClassificationResult",
        "GetImageModerationResult",
        "GetVideoModerationResult",
        "QuerySmarttagJob",
        "QueryIProductionJob",
    ],
)
def test_response_schema_is_valid_draft_2020_12(contracts: ContractSet, operation: str) -> None:
    for closed in (False, True):
        schema = response_schema(contracts[operation], closed=closed)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_response_schema_judges_examples(contracts: ContractSet) -> None:
    image = contracts["GetImageModerationResult"]
    assert not list(
        jsonschema.Draft202012Validator(response_schema(image)).iter_errors(
            json.loads(image.examples[0].body)
        )
    )
    # The video page's example shows UserData and Label as objects where its table says string.
    video = contracts["GetVideoModerationResult"]
    errors = jsonschema.Draft202012Validator(response_schema(video)).iter_errors(
        json.loads(video.examples[0].body)
    )
    assert {"/" + "/".join(map(str, e.absolute_path)) for e in errors} == {
        "/UserData",
        "/ModerationResult/Frames/BlockFrames/0/Label",
    }


def test_closed_schema_rejects_undocumented_keys(contracts: ContractSet) -> None:
    image = contracts["GetImageModerationResult"]
    body = json.loads(image.examples[0].body)
    body["NewField"] = 1
    assert list(
        jsonschema.Draft202012Validator(response_schema(image, closed=True)).iter_errors(body)
    )
    assert not list(jsonschema.Draft202012Validator(response_schema(image)).iter_errors(body))


def test_payload_variants_become_content_schemas(contracts: ContractSet) -> None:
    schema = response_schema(contracts["QuerySmarttagJob"])
    item = schema["properties"]["Results"]["properties"]["Result"]["items"]
    assert item["properties"]["Data"]["contentMediaType"] == "application/json"
    variants = {rule["if"]["properties"]["Type"]["const"] for rule in item["allOf"]}
    types = set(item["properties"]["Type"]["enum"])
    # one condition per Type value with a variant; "subtitles" is the contract's label for a
    # shape the page documents without naming its Type: no response could select it
    assert variants == types
    assert "subtitles" not in variants


def test_the_scenarios_schema_is_current_and_accepts_the_shipped_scenarios(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.record import ScenarioFile

    repo = CONTRACTS.parent
    committed = json.loads((repo / "scenarios.schema.json").read_text("utf-8"))
    assert committed == ScenarioFile.model_json_schema(), (
        "scenarios.schema.json is stale: run 'aliconform scenarios schema'"
    )
    assert "$schema=./scenarios.schema.json" in (repo / "scenarios.yaml").read_text("utf-8")
    validator = jsonschema.Draft202012Validator(committed)
    assert not list(validator.iter_errors(_yaml(repo / "scenarios.yaml")))
    # As editors check it: check-jsonschema also holds the schema's patterns to JavaScript's
    # regex syntax, which yaml-language-server compiles them with.
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", SCENARIOS_SCHEMA, SCENARIOS],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    stale = tmp_path / "scenarios.schema.json"
    stale.write_text("{}\n", "utf-8")
    assert main(["scenarios", "schema", "--check", "--out", str(stale)]) == 1
    assert main(["scenarios", "schema", "--out", str(stale)]) == 0
    assert json.loads(stale.read_text("utf-8")) == committed
    capsys.readouterr()
    assert main(["scenarios", "schema", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a directory; name the file to write" in capsys.readouterr().err


def test_scenarios_check_names_each_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["scenarios", "check", "--scenarios", str(CONTRACTS.parent / "scenarios.yaml")]) == 0
    )
    assert "20 scenarios valid" in capsys.readouterr().out
    broken = tmp_path / "scenarios.yaml"
    broken.write_text(
        "scenarios:\n  - name: one\n    operation: QuerySmarttagJob\n    params: {JobID: x}\n",
        "utf-8",
    )
    # A check that finds problems exits 1, as `contracts validate` does; 2 is for a file that
    # is not there to check.
    assert main(["scenarios", "check", "--scenarios", str(broken)]) == 1
    err = " ".join(capsys.readouterr().err.replace("│", " ").split())
    assert f"{broken}:4" in err
    assert "did you mean 'JobId'" in err
    assert f"1 problem(s) in {broken}" in err
    assert main(["scenarios", "check", "--scenarios", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    "duration",
    ["5s", "500ms", "2m", "1.5", "0.5s", "0s", "0", "0.0ms", " 5s", "5 s", "-1s", "5h", 5, 0, 0.5],
)
def test_the_scenarios_schema_and_the_loader_agree_on_durations(duration: object) -> None:
    from pydantic import ValidationError

    from aliconform.record.scenarios import PollSpec, ScenarioFile

    poll = {"field": "Status", "terminal": ["Done"], "interval": duration}
    try:
        PollSpec.model_validate(poll)
        loads = True
    except ValidationError:
        loads = False
    schema = ScenarioFile.model_json_schema()
    spec = {"$defs": schema["$defs"], "$ref": "#/$defs/PollSpec"}
    assert jsonschema.Draft202012Validator(spec).is_valid(poll) is loads


FORMAT_SAMPLES = [
    "2021-12-24T03:00:38.89Z",
    "2021-02-29T03:00:38Z",  # no such day
    "2024-02-29T03:00:38+08:00",
    "2021-12-24T03:00:38Z\n",  # a final newline: Python's $ would let it through
    "2022-12-02 16:14:06",
    "oss://media-bucket/video.mp4",
    "oss://a/b",  # a bucket name is 3 to 63 characters
    "oss://bucket//obj",
    "https://example.com/x?y=1",
    "HTTP://EXAMPLE.COM",
    "ftp://example.com/x",
    "0123456789abcdef0123456789abcdef",
    "28278.25",
    "-3",
    "1e5",
    "zh-Hans",
    "english",
    "",
]


@pytest.mark.parametrize("sample", FORMAT_SAMPLES, ids=repr)
def test_the_exported_format_patterns_decide_as_the_engine_does(sample: str) -> None:
    """A validator of `contracts jsonschema` (schemathesis's response check, another team's
    tool) sees the format drift the engine reports, and only that."""
    import re

    from aliconform.contracts.formats import FORMAT_CHECKS, FORMAT_PATTERNS
    from aliconform.contracts.jsonschema import _FORMAT_PATTERNS

    assert set(_FORMAT_PATTERNS) == set(FORMAT_PATTERNS)
    for name, pattern in _FORMAT_PATTERNS.items():
        exported = re.search(pattern, sample) is not None
        assert exported == FORMAT_CHECKS[name](sample), (name, sample)
        schema = {"type": "string", "pattern": pattern}
        assert jsonschema.Draft202012Validator(schema).is_valid(sample) == exported


def test_a_field_with_its_own_pattern_keeps_its_format_pattern_too() -> None:
    from aliconform.contracts.jsonschema import _Builder
    from aliconform.contracts.model import FieldSpec

    spec = FieldSpec(type="string", format="oss-uri", pattern="^oss://media-bucket/")
    from aliconform import load_contracts

    contract = load_contracts(CONTRACTS)["GetImageModerationResult"]
    schema = _Builder(contract, closed=False).field(spec)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid("oss://media-bucket/video.mp4")
    assert not validator.is_valid("oss://other-bucket/video.mp4")  # its own pattern
    assert not validator.is_valid("oss://media-bucket//x")  # the format's
