"""The SDK cross-check fails when a contract loses or mistypes a field the SDK knows."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("alibabacloud_imm20200930")

from aliconform import load_contracts
from aliconform.contracts.sdkcheck import compare_with_sdk, sdk_model, walk_sdk_model


def _edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_walker_finds_nested_models_and_wire_names(copy_of_contracts: Path) -> None:
    contract = load_contracts(copy_of_contracts)["GetVideoLabelClassificationResult"]
    fields = {f.path: f.type for f in walk_sdk_model(sdk_model(contract, "response"))}
    assert fields["Labels[].Clips[].TimeRange[]"] == "integer"
    assert fields["Labels[].LabelConfidence"] == "number"
    assert fields["RequestId"] == "string"


def test_removed_field_is_reported(copy_of_contracts: Path) -> None:
    assert compare_with_sdk(load_contracts(copy_of_contracts)["GetImageModerationResult"]) == []
    _edit(
        copy_of_contracts,
        "imm/GetImageModerationResult.yaml",
        "                  Offset:\n                    type: integer\n                    description: The offset of the frame.\n                    example: 2\n",
        "",
    )
    mismatches = compare_with_sdk(load_contracts(copy_of_contracts)["GetImageModerationResult"])
    assert [(m.kind, m.path) for m in mismatches] == [
        ("missing-in-contract", "ModerationResult.Frames.BlockFrames[].Offset")
    ]


def test_removed_field_is_accepted_when_the_omission_is_recorded(copy_of_contracts: Path) -> None:
    _edit(
        copy_of_contracts,
        "ice/QueryIProductionJob.yaml",
        "    OutputMediaIds:\n      type: array\n      description: The output media asset IDs.\n      sources: [sdk]\n      items:\n        type: string\n",
        "",
    )
    assert [
        m.path for m in compare_with_sdk(load_contracts(copy_of_contracts)["QueryIProductionJob"])
    ] == [
        "OutputMediaIds",
        "OutputMediaIds[]",
    ]
    _edit(
        copy_of_contracts,
        "ice/QueryIProductionJob.yaml",
        "errors:\n  envelope: rpc",
        "omitted_sdk_fields:\n  - {path: OutputMediaIds, reason: test}\n  - {path: 'OutputMediaIds[]', reason: test}\nerrors:\n  envelope: rpc",
    )
    assert compare_with_sdk(load_contracts(copy_of_contracts)["QueryIProductionJob"]) == []


def test_incompatible_type_needs_a_recorded_divergence(copy_of_contracts: Path) -> None:
    relative = "ice/QuerySmarttagJob.yaml"
    text = (copy_of_contracts / relative).read_text()
    assert "    RequestId:\n      type: string\n" in text
    _edit(
        copy_of_contracts,
        relative,
        "    RequestId:\n      type: string\n",
        "    RequestId:\n      type: integer\n",
    )
    # its example, a text, would now contradict its own type: the change takes it out too
    _edit(
        copy_of_contracts,
        relative,
        '      example: "******11-DB8D-4A9A-875B-275798******"\n',
        "",
    )
    kinds = {
        (m.kind, m.path)
        for m in compare_with_sdk(load_contracts(copy_of_contracts)["QuerySmarttagJob"])
    }
    assert kinds == {("type-mismatch", "RequestId")}
    _edit(
        copy_of_contracts,
        relative,
        "    RequestId:\n      type: integer\n",
        "    RequestId:\n      type: integer\n      divergences:\n        - aspect: type\n          claims:\n"
        "            - {source: doc-table, says: integer}\n            - {source: sdk, says: string}\n"
        "          kept: integer\n          reason: test\n",
    )
    assert compare_with_sdk(load_contracts(copy_of_contracts)["QuerySmarttagJob"]) == []


def test_a_field_claimed_from_the_sdk_must_exist_there(copy_of_contracts: Path) -> None:
    _edit(
        copy_of_contracts,
        "ice/QueryIProductionJob.yaml",
        "    OutputMediaIds:\n",
        "    Invented:\n      type: string\n      sources: [sdk]\n    OutputMediaIds:\n",
    )
    mismatches = compare_with_sdk(load_contracts(copy_of_contracts)["QueryIProductionJob"])
    assert [(m.kind, m.path) for m in mismatches] == [("not-in-sdk", "Invented")]
    assert mismatches[0].contract_location
    assert "QueryIProductionJob.yaml:" in mismatches[0].contract_location
