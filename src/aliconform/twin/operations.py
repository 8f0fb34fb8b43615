"""The ten operations the twin answers, and how it checks what each is sent.

Five create/submit operations start work; five query operations report on it. Each create
names the query that reports on what it creates, so the task store and the status sequence
follow from this table. Query parameters are checked against the contract (required, enum,
JSON payloads), create parameters against the official SDK request models (which the
contracts do not cover): the same things the real service rejects before doing any work.
Every rejection is a documented error code of the operation's contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aliconform.contracts import Contract, FieldSpec
from aliconform.contracts.formats import FORMAT_CHECKS
from aliconform.contracts.paths import index_fields
from aliconform.twin.envelope import documented_error

__all__ = [
    "CREATES",
    "OPERATIONS",
    "QUERIES",
    "CreateOperation",
    "QueryOperation",
    "validate_create",
    "validate_query",
]


@dataclass(frozen=True, slots=True)
class QueryOperation:
    """A query operation: which parameter names the task, and how its status moves."""

    name: str
    product: str
    id_param: str  # TaskId or JobId
    status_field: str  # the field a poller watches
    pending: tuple[str, ...]  # intermediate statuses, in order (the last one repeats)
    unfinished_absent: tuple[str, ...]  # fields a task that has not finished does not carry
    variant_field: str | None = None  # a JSON payload with a per-variant documented example
    # (object field, key, create parameter): a nested field that repeats what the task was given
    nested_echo: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CreateOperation:
    """A create/submit operation: what it needs and which query reports on its task."""

    name: str
    product: str
    query: str
    task_type: str | None  # IMM: the TaskType, and the prefix of every TaskId
    required: tuple[str, ...]
    media_objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    json_params: tuple[str, ...] = ()  # optional parameters that must carry JSON
    oss_uri_params: tuple[str, ...] = ()  # parameters that must be oss://bucket/object URIs
    response_enums: Mapping[str, str] = field(default_factory=dict)  # param -> response field
    example: Mapping[str, Any] = field(default_factory=dict)  # SDK-shaped sample request


_IMM_RESULT_FIELDS = ("EndTime", "Code", "Message")

QUERIES: Mapping[str, QueryOperation] = MappingProxyType(
    {
        op.name: op
        for op in (
            QueryOperation(
                "GetVideoLabelClassificationResult",
                "imm",
                "TaskId",
                "Status",
                ("Running",),
                (*_IMM_RESULT_FIELDS, "Labels"),
            ),
            QueryOperation(
                "GetImageModerationResult",
                "imm",
                "TaskId",
                "Status",
                ("Running",),
                (*_IMM_RESULT_FIELDS, "ModerationResult"),
                nested_echo=(("ModerationResult", "URI", "SourceURI"),),
            ),
            QueryOperation(
                "GetVideoModerationResult",
                "imm",
                "TaskId",
                "Status",
                ("Running",),
                (*_IMM_RESULT_FIELDS, "ModerationResult"),
                nested_echo=(("ModerationResult", "URI", "SourceURI"),),
            ),
            QueryOperation(
                "QuerySmarttagJob",
                "ice",
                "JobId",
                "JobStatus",
                ("Submitted", "Processing"),
                ("Results", "Usages"),
            ),
            QueryOperation(
                "QueryIProductionJob",
                "ice",
                "JobId",
                "Status",
                ("Queuing", "Analyzing"),
                ("Result", "FinishTime", "OutputFiles", "OutputMediaIds", "OutputUrls"),
                variant_field="Result",
            ),
        )
    }
)

_IMM_JSON = ("CredentialConfig", "Notification", "Tags")
_IMM_REQUIRED = ("ProjectName", "SourceURI")


def _imm_example(source: str) -> Mapping[str, Any]:
    return MappingProxyType(
        {"ProjectName": "test-project", "SourceURI": source, "UserData": '{"id": "test-id"}'}
    )


CREATES: Mapping[str, CreateOperation] = MappingProxyType(
    {
        op.name: op
        for op in (
            CreateOperation(
                "CreateVideoLabelClassificationTask",
                "imm",
                "GetVideoLabelClassificationResult",
                "VideoLabelClassification",
                _IMM_REQUIRED,
                json_params=_IMM_JSON,
                oss_uri_params=("SourceURI",),
                example=_imm_example("oss://test-bucket/test-object.mp4"),
            ),
            CreateOperation(
                "CreateImageModerationTask",
                "imm",
                "GetImageModerationResult",
                "ImageModeration",
                _IMM_REQUIRED,
                json_params=(*_IMM_JSON, "Scenes"),
                oss_uri_params=("SourceURI",),
                example=_imm_example("oss://test-bucket/test-object.jpg"),
            ),
            CreateOperation(
                "CreateVideoModerationTask",
                "imm",
                "GetVideoModerationResult",
                "VideoModeration",
                _IMM_REQUIRED,
                json_params=(*_IMM_JSON, "Scenes"),
                oss_uri_params=("SourceURI",),
                example=_imm_example("oss://test-bucket/test-object.mp4"),
            ),
            CreateOperation(
                "SubmitSmarttagJob",
                "ice",
                "QuerySmarttagJob",
                None,
                ("Input",),
                media_objects=MappingProxyType({"Input": ("OSS", "Media", "URL")}),
                json_params=("Params", "ScheduleConfig", "TemplateConfig"),
                example=MappingProxyType(
                    {
                        "Input": {"Type": "OSS", "Media": "oss://test-bucket/video.mp4"},
                        "UserData": '{"userId":"123432412831"}',
                    }
                ),
            ),
            CreateOperation(
                "SubmitIProductionJob",
                "ice",
                "QueryIProductionJob",
                None,
                ("FunctionName", "Input", "Output"),
                media_objects=MappingProxyType(
                    {"Input": ("OSS", "Media"), "Output": ("OSS", "Media")}
                ),
                json_params=("JobParams", "ScheduleConfig"),
                response_enums=MappingProxyType({"FunctionName": "FunctionName"}),
                example=MappingProxyType(
                    {
                        "FunctionName": "Cover",
                        "Input": {"Type": "OSS", "Media": "oss://test-bucket/object.mp4"},
                        "Output": {"Type": "OSS", "Media": "oss://test-bucket/cover/"},
                        "UserData": '{"test":1}',
                    }
                ),
            ),
        )
    }
)

OPERATIONS: Mapping[str, QueryOperation | CreateOperation] = MappingProxyType(
    {**QUERIES, **CREATES}
)


def validate_query(contract: Contract, params: Mapping[str, str]) -> None:
    """Required parameters present, enum values known, JSON payloads parseable (contract order)."""
    for name, parameter in contract.request.parameters.items():
        value = params.get(name)
        if value is None or value == "":
            if parameter.required:
                raise documented_error(contract, f"Missing{name}", name)
            continue
        if parameter.enum is not None and value not in parameter.enum:
            raise documented_error(contract, "InvalidParameter", name)
        if parameter.json_payload is not None and not _payload_conforms(parameter, value):
            raise documented_error(contract, "InvalidParameter", name)


def validate_create(
    operation: CreateOperation, contract: Contract, params: Mapping[str, str]
) -> dict[str, Any]:
    """The create call's parameters, JSON objects decoded; ApiError for what the service rejects.

    contract is the paired query operation's: its error codes are the product's.
    """
    for name in operation.required:
        if not params.get(name):
            raise documented_error(contract, f"Missing{name}", name)
    decoded: dict[str, Any] = dict(params)
    for name, types in operation.media_objects.items():
        if name in params:
            decoded[name] = _media_object(contract, name, params[name], types)
    for name in operation.json_params:
        if params.get(name) and not _parses(params[name]):
            raise documented_error(contract, "InvalidParameter", name)
    for name in operation.oss_uri_params:
        if name in params and not FORMAT_CHECKS["oss-uri"](params[name]):
            raise documented_error(contract, "InvalidParameter", name)
    for name, response_field in operation.response_enums.items():
        spec = contract.response.fields[response_field]
        if name in params and spec.enum is not None and params[name] not in spec.enum:
            raise documented_error(contract, "InvalidParameter", name)
    return decoded


def _media_object(
    contract: Contract, name: str, text: str, types: tuple[str, ...]
) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise documented_error(contract, "InvalidParameter", name) from None
    if not isinstance(value, dict):
        raise documented_error(contract, "InvalidParameter", name)
    if value.get("Type") not in types:
        raise documented_error(contract, "InvalidParameter", f"{name}.Type")
    media = value.get("Media")
    if not isinstance(media, str) or not media:
        raise documented_error(contract, "InvalidParameter", f"{name}.Media")
    # Echoed in the query's answer, where the contract holds it to a format: the service
    # refuses what it could not read, so the twin does, rather than echo it as drift.
    echoed = index_fields(contract).get(f"{name}.Media")
    fmt = echoed.spec.format if echoed is not None else None
    if fmt is not None and not FORMAT_CHECKS[fmt](media):
        raise documented_error(contract, "InvalidParameter", f"{name}.Media")
    return value


def _payload_conforms(parameter: FieldSpec, text: str) -> bool:
    """A JSON-in-a-string parameter: it parses, and its documented keys have documented values
    (an object with an enum key, such as Params.labelResultType, is refused with another)."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return False
    shape = parameter.json_payload.shape if parameter.json_payload is not None else None
    if shape is None or shape.type != "object":
        return True
    if not isinstance(decoded, dict):
        return False
    for key, spec in (shape.fields or {}).items():
        if key in decoded and spec.enum is not None and decoded[key] not in spec.enum:
            return False
    return True


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
