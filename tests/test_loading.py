from __future__ import annotations

from pathlib import Path

import pytest

from aliconform import ContractSet, UnknownOperationError, load_contracts
from aliconform.contracts import index_fields, iter_fields
from aliconform.contracts.loader import default_contracts_dir

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
    seeds = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not seeds.is_dir():
        pytest.skip("the seed documents are not beside this checkout")
    for contract in contracts.values():
        page = (seeds / contract.sources.documentation.file).read_text(encoding="utf-8")
        for example in contract.examples:
            assert example.body.strip() in page, f"{contract.operation} example {example.name}"
