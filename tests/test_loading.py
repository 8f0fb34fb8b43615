from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aliconform import ContractSet, UnknownOperationError, load_contracts
from aliconform.cli import main
from aliconform.contracts import index_fields, iter_fields
from aliconform.contracts.loader import default_contracts_dir
from aliconform.errors import ContractError

REPO = Path(__file__).resolve().parents[1]

OPERATIONS = {
    "GetVideoLabelClassificationResult",
    "GetImageModerationResult",
    "GetVideoModerationResult",
    "QuerySmarttagJob",
    "QueryIProductionJob",
}


def test_all_five_operations_load(contracts: ContractSet) -> None:
    assert set(contracts) == OPERATIONS
    assert contracts["QuerySmarttagJob"].product == "ice"
    assert contracts["GetImageModerationResult"].api_version == "2020-09-30"


def test_unknown_operation_suggests_the_nearest(contracts: ContractSet) -> None:
    with pytest.raises(UnknownOperationError, match="did you mean 'QuerySmarttagJob'"):
        contracts["QuerySmartTagJob"]


def test_default_directory_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, copy_of_contracts: Path
) -> None:
    monkeypatch.setenv("ALICONFORM_CONTRACTS", str(copy_of_contracts))
    assert default_contracts_dir() == copy_of_contracts
    assert load_contracts().root == copy_of_contracts


def test_a_directory_that_cannot_hold_contracts_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ALICONFORM_CONTRACTS", raising=False)
    own = tmp_path / "contracts"
    shutil.copytree(REPO / "contracts", own)
    (own / "common" / "errors.yaml").unlink()
    monkeypatch.chdir(tmp_path)
    # ./contracts with a product directory is the project's own, even without its catalog
    assert default_contracts_dir() == own
    with pytest.raises(ContractError, match=r"there is no common/errors\.yaml"):
        load_contracts()
    for args, message in (
        ([], "there is no common/errors.yaml"),
        (["--contracts", str(REPO / "cassettes")], "there is no common/errors.yaml"),
        (["--contracts", str(REPO / "README.md")], "not a directory"),
        (["--contracts", str(tmp_path / "nowhere")], "no such contracts directory"),
    ):
        assert main(["contracts", "validate", *args]) == 2, args
        assert message in capsys.readouterr().err
    # a contracts/ of something else (no product directory, no catalog) is not taken for ours
    shutil.rmtree(own)
    (own / "token").mkdir(parents=True)
    (own / "token" / "erc20.yaml").write_text("name: x\n", "utf-8")
    assert default_contracts_dir() != own


def test_field_locations_point_into_the_contract(contracts: ContractSet) -> None:
    contract = contracts["GetImageModerationResult"]
    entry = index_fields(contract)["ModerationResult.Frames.BlockFrames[].Rate"]
    location = contract.location(entry.key_path)
    file, line = location.rsplit(":", 1)
    assert file.endswith("contracts/imm/GetImageModerationResult.yaml")
    assert Path(file).read_text().splitlines()[int(line) - 1].strip() == "Rate:"


def test_payload_paths_name_their_variant(contracts: ContractSet) -> None:
    paths = set(index_fields(contracts["QuerySmarttagJob"]))
    assert "Results.Result[].Data(VideoLabel).persons[].name" in paths
    for variant in (
        "VideoLabel",
        "ImageLabel",
        "TextLabel",
        "CPVLabel",
        "ASR",
        "OCR",
        "Meta",
        "subtitles",
        "NLP",
    ):
        assert f"Results.Result[].Data({variant})" in paths
    iproduction = set(index_fields(contracts["QueryIProductionJob"]))
    for variant in (
        "Cover",
        "VideoClip",
        "MusicSegmentDetect",
        "AudioQualityAssessment",
        "VideoDelogo",
    ):
        assert f"Result({variant})" in iproduction
    assert "JobParams(json)" in iproduction


def test_recursive_definitions_are_listed_once(contracts: ContractSet) -> None:
    recursive = [e.path for e in iter_fields(contracts["QuerySmarttagJob"]) if e.recursive]
    assert recursive, "the mind-map topic refers to itself"
    assert all(path.endswith("topic[].topic[]") for path in recursive)


def test_sources_are_inherited(contracts: ContractSet) -> None:
    fields = index_fields(contracts["GetVideoLabelClassificationResult"])
    assert [s.value for s in fields["Labels[].Language"].sources] == ["doc-example", "sdk"]
    assert [s.value for s in fields["Labels[].Clips[].TimeRange"].sources] == ["sdk"]


def test_error_codes_merge_shared_groups(contracts: ContractSet) -> None:
    codes = contracts["QueryIProductionJob"].error_codes()
    assert codes["IdempotentParameterMismatch"].http_status == 400
    assert {
        "MissingParameter",
        "InvalidParameter",
        "SignatureDoesNotMatch",
        "Throttling.User",
    } <= set(codes)
    imm = contracts["GetImageModerationResult"].error_codes()
    assert imm["ResourceNotFound"].http_status == 400
    assert "IdempotentParameterMismatch" not in imm
    assert set(contracts["QuerySmarttagJob"].envelope().fields) >= {
        "RequestId",
        "HostId",
        "Code",
        "Message",
        "Recommend",
    }


def test_examples_are_kept_verbatim(contracts: ContractSet) -> None:
    seeds = Path(__file__).resolve().parents[1] / "docs" / "sources"
    for contract in contracts.values():
        page = (seeds / contract.sources.documentation.file).read_text(encoding="utf-8")
        for example in contract.examples:
            assert example.body.strip() in page, f"{contract.operation} example {example.name}"


@pytest.mark.parametrize("policy_shipped", [True, False])
def test_the_packaged_contracts_come_with_the_packaged_policy(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    policy_shipped: bool,
) -> None:
    """An installed package (no checkout, no ./drift-policy.yaml) reads its own copy of the
    contracts; the documentation's recorded self-contradictions stay waived there too."""
    import shutil

    from aliconform.cli import main
    from aliconform.contracts import loader
    from aliconform.drift import waivers

    repo = Path(__file__).resolve().parents[1]
    package = tmp_path / "site-packages" / "aliconform"
    shutil.copytree(repo / "contracts", package / "_contracts")
    if policy_shipped:
        shutil.copy(repo / "drift-policy.yaml", package / "_drift-policy.yaml")
    monkeypatch.setattr(loader, "PACKAGED_CONTRACTS_DIR", package / "_contracts")
    monkeypatch.setattr(waivers, "PACKAGED_POLICY_FILE", package / "_drift-policy.yaml")
    monkeypatch.delenv("ALICONFORM_CONTRACTS", raising=False)
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert default_contracts_dir() == package / "_contracts"
    code = main(["lint-docs"])
    out = capsys.readouterr().out
    if policy_shipped:
        assert (code, out.splitlines()[-1]) == (0, "0 new breaking finding(s)")
    else:  # what an installed package did before its policy shipped with it
        assert (code, out.splitlines()[-1]) == (1, "3 new breaking finding(s)")


def test_the_wheel_ships_the_policy_beside_the_contracts() -> None:
    import tomllib

    repo = Path(__file__).resolve().parents[1]
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text("utf-8"))
    shipped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert shipped["contracts"] == "aliconform/_contracts"
    assert shipped["drift-policy.yaml"] == "aliconform/_drift-policy.yaml"
    assert shipped["scenarios.yaml"] == "aliconform/_scenarios.yaml"
    assert shipped["docs/sources"] == "aliconform/_sources"


def test_a_contract_names_the_copy_of_the_page_it_cites(
    contracts: ContractSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from aliconform.contracts import loader

    repo = Path(__file__).resolve().parents[1]
    for contract in contracts.values():
        page = loader.documentation_page(contract)
        assert page == repo / "docs" / "sources" / contract.sources.documentation.file
    # Installed: the contracts and the pages are inside the package.
    package = tmp_path / "aliconform"
    shutil.copytree(repo / "contracts", package / "_contracts")
    shutil.copytree(repo / "docs" / "sources", package / "_sources")
    monkeypatch.setattr(loader, "PACKAGED_SOURCES_DIR", package / "_sources")
    installed = loader.load_contracts(package / "_contracts")
    page = loader.documentation_page(installed["QuerySmarttagJob"])
    assert page == package / "_sources" / "003_ed970b5d0b7e1edd.txt"
    (package / "_sources" / "003_ed970b5d0b7e1edd.txt").unlink()
    assert loader.documentation_page(installed["QuerySmarttagJob"]) is None


def test_an_installed_package_records_with_its_shipped_scenarios_and_copies_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a project with no scenarios.yaml of its own, record and scenarios check use the
    shipped ones; scenarios init copies them (and their schema) to edit."""
    import shutil

    from aliconform.cli import main
    from aliconform.record import scenarios

    repo = Path(__file__).resolve().parents[1]
    package = tmp_path / "site-packages" / "aliconform"
    package.mkdir(parents=True)
    shutil.copy(repo / "scenarios.yaml", package / "_scenarios.yaml")
    monkeypatch.setattr(scenarios, "PACKAGED_SCENARIOS_FILE", package / "_scenarios.yaml")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert scenarios.default_scenarios_file() == package / "_scenarios.yaml"
    contracts = ["-c", str(repo / "contracts")]
    assert main(["scenarios", "check", *contracts]) == 0
    assert f"{package / '_scenarios.yaml'}: 20 scenarios valid" in capsys.readouterr().out
    assert main(["record", "--dry-run", *contracts]) == 0
    assert "CreateImageModerationTask" in capsys.readouterr().out
    assert main(["scenarios", "init"]) == 0
    assert (project / "scenarios.yaml").read_bytes() == (repo / "scenarios.yaml").read_bytes()
    assert (project / "scenarios.schema.json").read_bytes() == (
        repo / "scenarios.schema.json"
    ).read_bytes()
    assert scenarios.default_scenarios_file() == Path("scenarios.yaml")  # now the project's own
    assert main(["scenarios", "init"]) == 2
    assert "already there; --force overwrites" in capsys.readouterr().err
    assert main(["scenarios", "init", "--force"]) == 0


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (
            'version: 1\ninteractions: !!python/object/apply:os.system ["true"]\n',
            2,
            "YAML tag tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        ),
        ("a: 1\nb:\n  c: !custom {d: 1}\n", 3, "YAML tag !custom is not allowed"),
        ("a: 1\nb: !env HOME\n", 2, "YAML tag !env is not allowed"),
    ],
)
def test_a_yaml_tag_the_format_does_not_know_is_named_at_its_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    from aliconform.contracts.yamlsource import read_yaml
    from aliconform.errors import ContractIssue

    path = tmp_path / "c.yaml"
    path.write_text(text)
    issue = read_yaml(path)
    assert isinstance(issue, ContractIssue)
    assert issue.line == line
    assert says in issue.message


def test_core_tags_and_binary_values_still_read(tmp_path: Path) -> None:
    from aliconform.contracts.yamlsource import YamlDocument, read_yaml

    path = tmp_path / "c.yaml"
    path.write_text("a: !!str 5\nb: !!binary aGk=\nc: !!int '7'\n")
    document = read_yaml(path)
    assert isinstance(document, YamlDocument)
    assert document.data == {"a": "5", "b": b"hi", "c": 7}


def test_aliases_that_expand_past_any_real_file_are_refused_quickly(tmp_path: Path) -> None:
    """A few hundred bytes of nested aliases expand to billions of values."""
    from aliconform.contracts.yamlsource import read_yaml
    from aliconform.errors import ContractIssue

    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        below = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([below] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    issue = read_yaml(path)
    assert isinstance(issue, ContractIssue)
    assert "aliases" in issue.message


def test_the_shared_error_codes_say_they_come_from_the_catalog_s_pages(
    contracts: ContractSet,
) -> None:
    """The operation pages only point to lists of common error codes: what the catalog takes
    from those lists is credited to them (catalog), never to the operation's own table."""
    catalog = next(iter(contracts.values())).catalog
    sources = {
        (group, code): {str(source) for source in error.sources}
        for group, entry in catalog.groups.items()
        for code, error in entry.codes.items()
    }
    assert sources
    assert {code for code, found in sources.items() if found != {"catalog"}} == set()
    claims = {
        str(claim.source)
        for entry in catalog.groups.values()
        for error in entry.codes.values()
        for divergence in error.divergences
        for claim in divergence.claims
    }
    assert claims == {"catalog"}
    envelope_sources = {
        str(source)
        for envelope in catalog.envelopes.values()
        for spec in envelope.fields.values()
        for source in spec.sources or []
    }
    assert envelope_sources == {"catalog"}
