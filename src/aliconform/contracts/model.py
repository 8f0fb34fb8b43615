"""The contract format: pydantic models for one operation's documented promises.

A contract says, for one API operation, what the documentation (and the official SDK model)
promise about the request, the success response, the errors, and the relations between fields.
It is data only: the drift engine, the JSON Schema export and every later consumer read it, and
nothing here decides how a response is judged.

The models are strict (unknown keys are errors) so a typo in a contract never goes unnoticed.
Their JSON Schema is exported to contracts/schema.json for editors.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from aliconform.contracts.formats import FORMAT_CHECKS
from aliconform.contracts.yamlsource import nearest_position

__all__ = [
    "FIELD_TYPES",
    "FORMATS",
    "Assumption",
    "Claim",
    "ConditionalInvariant",
    "Contract",
    "CountInvariant",
    "Divergence",
    "DocumentRef",
    "EchoInvariant",
    "Endpoint",
    "EnumValue",
    "ErrorCatalog",
    "ErrorCode",
    "ErrorEnvelope",
    "ErrorGroup",
    "ErrorsSpec",
    "Example",
    "FieldSpec",
    "FieldType",
    "Invariant",
    "OmittedSdkField",
    "OrderInvariant",
    "Parameter",
    "Payload",
    "PrefixInvariant",
    "Product",
    "RequestSpec",
    "ResponseSpec",
    "SdkRef",
    "Source",
    "SourceRefs",
    "When",
    "code_pattern",
    "enum_key",
]

FieldType = Literal["string", "integer", "number", "boolean", "object", "array"]
Product = Literal["imm", "ice"]
FIELD_TYPES: tuple[str, ...] = ("string", "integer", "number", "boolean", "object", "array")

#: String formats a contract can name. Each is checked by the drift engine; the meaning of each
#: is written here once so that contract authors and the engine agree.
FORMATS: dict[str, str] = {
    "date-time": "RFC 3339 timestamp with zone, up to nine fraction digits (2021-12-24T03:00:38.89Z)",
    "local-date-time": "date and time without zone, space separated (2022-12-02 16:14:06)",
    "oss-uri": "Object Storage Service URI: oss://bucket/object",
    "url": "absolute http or https URL",
    "media-location": "oss://bucket/object, an http(s) OSS URL, or a media asset ID",
    "decimal-string": 'a decimal number written as a string ("28278.25")',
    "language-tag": "BCP 47 language tag (zh-Hans, en)",
    "json": "a string that must parse as JSON, shape not documented",
}
FormatName = Literal[
    "date-time",
    "local-date-time",
    "oss-uri",
    "url",
    "media-location",
    "decimal-string",
    "language-tag",
    "json",
]


class Source(StrEnum):
    """Where a fact in a contract comes from."""

    DOC_TABLE = "doc-table"  # a parameter table of the documentation page
    DOC_EXAMPLE = "doc-example"  # only the page's example response shows it
    DOC_TEXT = "doc-text"  # the page's prose or a result-structure section outside the tables
    SDK = "sdk"  # the official SDK's model for the operation
    # No source states it: the contract's own reading of what the sources say (a rule that
    # follows from the fields' meanings), with its reason beside it.
    INFERRED = "inferred"
    # A published page of error codes shared by many operations, named by the url of its group
    # in the shared error catalog (contracts/common/errors.yaml): not the operation's own page,
    # which only points to such a list.
    CATALOG = "catalog"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EnumValue(_Strict):
    """An enum value with its meaning and, where it differs from the field's, its own source."""

    meaning: str | None = None
    sources: list[Source] | None = None


class Claim(_Strict):
    """What one source says about one aspect of a field."""

    source: Source
    where: str | None = Field(default=None, description="The table, section or model that says it")
    says: JsonValue


class Divergence(_Strict):
    """A place where the sources disagree, stated rather than silently resolved."""

    aspect: Literal["type", "enum", "format", "presence", "shape", "value", "status", "description"]
    claims: list[Claim] = Field(min_length=2, description="What each side says")
    kept: JsonValue = Field(
        description="What the contract keeps, and so what responses are held to"
    )
    reason: str = Field(min_length=1)


class Assumption(_Strict):
    """Something the contract holds responses to that no source states, and why.

    The pages' response tables have no Required column, so a field that every response must
    carry is an assumption; so is an enum taken from a sibling page, or JSON inside a string that
    only an example shows (aspect "payload"). Each is written down, so a finding that rests on
    one can be told from a finding that rests on the documentation."""

    aspect: Literal["presence", "enum", "type", "bounds", "payload"]
    reason: str = Field(min_length=1)


class Payload(_Strict):
    """The JSON document carried inside a string field.

    Either one fixed shape, or a shape chosen by the value of a sibling field (the
    discriminator), such as QuerySmarttagJob's Data chosen by Type.
    """

    description: str | None = None
    shape: FieldSpec | None = None
    discriminator: str | None = Field(
        default=None, description="Name of the sibling field whose value picks the variant"
    )
    variants: dict[str, FieldSpec] | None = None
    unlisted_variants: Literal["finding", "accept"] = Field(
        default="finding",
        description="What a discriminator value with no variant here means: a finding, or accept "
        "any JSON (for values whose payload the documentation does not describe)",
    )

    def selectable(self, chooser: FieldSpec | None) -> list[str]:
        """The variants a conformant response can carry: those whose name the discriminator
        field (chooser) accepts. A variant keyed by a name its enum does not list documents a
        payload whose Type value the page never names; only a drifted response selects it."""
        names = sorted(self.variants or {})
        if chooser is None or chooser.enum is None:
            return names
        return [name for name in names if name in chooser.enum]

    @model_validator(mode="after")
    def _one_form(self) -> Payload:
        if self.shape is not None and (self.discriminator or self.variants):
            raise ValueError("give either 'shape' or 'discriminator' with 'variants', not both")
        if self.shape is None and not (self.discriminator and self.variants):
            raise ValueError("give 'shape', or 'discriminator' together with 'variants'")
        return self


class FieldSpec(_Strict):
    """One field of a response (or of a JSON payload): its type, constraints and provenance."""

    type: FieldType | None = None
    ref: str | None = Field(
        default=None, description="Name of a shape in 'definitions' to use instead of 'type'"
    )
    description: str | None = None
    required: bool = False
    nullable: bool = False
    enum: dict[str, str | EnumValue | None] | None = None
    format: FormatName | None = None
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    example: JsonValue = None
    sources: list[Source] | None = Field(
        default=None,
        min_length=1,
        description="Where the field is documented, first the one its type is taken from; "
        "inherited from the enclosing field when omitted",
    )
    fields: dict[str, FieldSpec] | None = None
    open: bool = Field(
        default=False,
        description="Object whose keys are free-form (user data): keys beyond 'fields' are not drift",
    )
    items: FieldSpec | None = None
    json_payload: Payload | None = Field(default=None, alias="json")
    divergences: list[Divergence] = Field(default_factory=list)
    assumptions: list[Assumption] = Field(
        default_factory=list,
        description="What the contract holds this field to that no source states, and why",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if (self.type is None) == (self.ref is None):
            raise ValueError("give exactly one of 'type' or 'ref'")
        if self.ref is not None:
            shaping = (
                "fields",
                "items",
                "json_payload",
                "enum",
                "format",
                "pattern",
                "minimum",
                "maximum",
            )
            given = [name for name in shaping if getattr(self, name) is not None] + (
                ["open"] if self.open else []
            )
            if given:
                keys = ", ".join("json" if name == "json_payload" else name for name in given)
                raise ValueError(
                    f"a 'ref' field takes its shape from the definition; remove {keys}"
                )
            return self
        problems = []
        if self.fields is not None and self.type != "object":
            problems.append(f"'fields' needs type object, not {self.type}")
        if self.open and self.type != "object":
            problems.append(f"'open' needs type object, not {self.type}")
        if self.type == "array" and self.items is None:
            problems.append("type array needs 'items'")
        if self.items is not None and self.type != "array":
            problems.append(f"'items' needs type array, not {self.type}")
        if self.json_payload is not None and self.type != "string":
            problems.append(f"'json' needs type string, not {self.type}")
        if (self.format is not None or self.pattern is not None) and self.type != "string":
            problems.append(f"'format' and 'pattern' need type string, not {self.type}")
        if (self.minimum is not None or self.maximum is not None) and self.type not in (
            "integer",
            "number",
        ):
            problems.append(f"'minimum' and 'maximum' need a numeric type, not {self.type}")
        problems += self._example_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _example_problems(self) -> list[str]:
        """An example that contradicts its own field would be published as it is (OpenAPI,
        JSON Schema) and sent by derived cassettes: its type, enum, format, pattern and bounds,
        and, for a JSON-string field, that it is JSON."""
        example = self.example
        if example is None or self.type is None:
            return []
        if not _is_json_type(example, self.type):
            return [f"example {example!r} is not of type {self.type}"]
        problems = []
        if self.enum is not None and enum_key(example) not in self.enum:
            problems.append(f"example {example!r} is none of the enum's values")
        if isinstance(example, str):
            if self.format is not None and not FORMAT_CHECKS[self.format](example):
                problems.append(f"example {example!r} is not of the format {self.format}")
            if self.json_payload is not None and not FORMAT_CHECKS["json"](example):
                problems.append(f"example {example!r} is not JSON, which the field holds")
        pattern = self.pattern
        if isinstance(example, str) and pattern is not None and not _matches(pattern, example):
            problems.append(f"example {example!r} does not match the pattern {pattern}")
        if isinstance(example, int | float) and not isinstance(example, bool):
            if self.minimum is not None and example < self.minimum:
                problems.append(f"example {example!r} is below the minimum {self.minimum:g}")
            if self.maximum is not None and example > self.maximum:
                problems.append(f"example {example!r} is above the maximum {self.maximum:g}")
        return problems

    def enum_values(self) -> list[str] | None:
        return list(self.enum) if self.enum is not None else None


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def enum_key(value: object) -> str:
    """The text a JSON value is written as in an `enum` or a conditional's `in`: a string as
    itself, true and false, a number as JSON writes it ("2", "0.5")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _matches(pattern: str, text: str) -> bool:
    """As the engine reads a pattern (a search); one that does not compile is its own issue."""
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True


def _is_json_type(value: object, name: str) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never to JSON
        return name == "boolean"
    return isinstance(value, _JSON_TYPES[name])


class Parameter(FieldSpec):
    """A request parameter: a field plus where it travels."""

    location: Literal["query", "body", "header"] = Field(default="query", alias="in")


class DocumentRef(_Strict):
    """The documentation page a contract is transcribed from."""

    file: str = Field(description="The page's file name under docs/sources/")
    title: str
    last_updated: dt.date | None = Field(
        default=None, description="The page's 'Last Updated' date; null when the page shows none"
    )
    url: str | None = None
    notes: str | None = None


class SdkRef(_Strict):
    """The official SDK model that is the contract's second source."""

    package: str
    version: str
    module: str
    request_model: str
    response_model: str


class SourceRefs(_Strict):
    documentation: DocumentRef
    sdk: SdkRef


class Endpoint(_Strict):
    pattern: str = Field(description="Host name with {region}, e.g. imm.{region}.aliyuncs.com")
    regions: list[str] = Field(min_length=1)


#: Parameters every V2 (RPC) call carries besides the operation's own: they sign or frame the
#: call rather than say what it asks for.
SIGNING_PARAMETERS = frozenset(
    {
        "AccessKeyId",
        "Action",
        "Format",
        "RegionId",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "Timestamp",
        "Version",
    }
)


class RequestSpec(_Strict):
    parameters: dict[str, Parameter]


class ResponseSpec(_Strict):
    description: str | None = None
    fields: dict[str, FieldSpec]


class OmittedSdkField(_Strict):
    """A field of the SDK model the contract deliberately leaves out, and why."""

    path: str
    reason: str = Field(min_length=1)


class _InvariantBase(_Strict):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", description="Stable slug")
    description: str
    sources: list[Source] = Field(min_length=1)
    scope: str = Field(
        default="",
        description="Field path the rule applies within, once per element (e.g. persons[]); "
        "empty for the response root",
    )


class OrderInvariant(_InvariantBase):
    """The named fields, where present, are in non-decreasing (or increasing) order."""

    kind: Literal["order"]
    fields: list[str] = Field(min_length=2)
    compare: Literal["number", "date-time", "decimal-string"]
    strict: bool = False


class PrefixInvariant(_InvariantBase):
    """A field starts with the value of another field plus a separator (TaskId and TaskType)."""

    kind: Literal["prefix"]
    field: str
    prefix_field: str
    separator: str = "-"


def _as_enum_keys(values: object) -> object:
    """`in: [2, 3]` or `in: [true]` as YAML reads them: numbers and booleans as their JSON
    text, the form enums list them in and the engine compares by."""
    if not isinstance(values, list):
        return values
    return [enum_key(value) if isinstance(value, bool | int | float) else value for value in values]


class When(_Strict):
    field: str
    values: Annotated[
        list[str],
        BeforeValidator(_as_enum_keys),
        WithJsonSchema(
            {"type": "array", "items": {"type": ["string", "number", "boolean"]}, "minItems": 1}
        ),
    ] = Field(
        min_length=1,
        alias="in",
        description="The values that choose the rule, as the field's enum lists them: text as "
        "itself, numbers and booleans as JSON writes them",
    )


class ConditionalInvariant(_InvariantBase):
    """When a field has one of some values, other fields must be present or absent."""

    kind: Literal["conditional"]
    when: When
    present: list[str] = Field(default_factory=list)
    absent: list[str] = Field(
        default_factory=list,
        description="Fields that must be missing, null or empty strings (what a consumer's "
        "'if not value' treats as absent)",
    )

    @model_validator(mode="after")
    def _says_something(self) -> ConditionalInvariant:
        if not (self.present or self.absent):
            raise ValueError("a conditional invariant needs 'present' or 'absent'")
        return self


class CountInvariant(_InvariantBase):
    """An array has no more elements than a count field says (BlockFrames and TotalCount)."""

    kind: Literal["count"]
    array: str
    at_most: str


class EchoInvariant(_InvariantBase):
    """A response field repeats a request parameter (checkable when the request is known)."""

    kind: Literal["echo"]
    field: str
    parameter: str


Invariant = Annotated[
    OrderInvariant | PrefixInvariant | ConditionalInvariant | CountInvariant | EchoInvariant,
    Field(discriminator="kind"),
]


class ErrorCode(_Strict):
    """One documented error code. A code may contain {Placeholder} parts (Missing{ParameterName})
    that stand for a name: {ParameterName} for one of the operation's own parameters or a signing
    one (an answer about a parameter the operation does not take is not documented for it), any
    other placeholder for any name made of letters and digits."""

    http_status: int = Field(ge=400, le=599)
    message: str | None = None
    description: str | None = None
    when: str | None = Field(default=None, description="The situation that produces the code")
    sources: list[Source] = Field(min_length=1)
    divergences: list[Divergence] = Field(default_factory=list)

    def statuses(self) -> set[int]:
        """Every HTTP status the sources give the code: its own and any a divergence claims."""
        claimed = {
            claim.says
            for divergence in self.divergences
            if divergence.aspect == "status"
            for claim in divergence.claims
            if isinstance(claim.says, int)
        }
        return {self.http_status, *claimed}


def code_pattern(code: str, values: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """The regular expression of the codes a templated code stands for
    (`Missing{ParameterName}` matches MissingTaskId); None for a literal code. A placeholder
    whose values are given stands for those alone (an operation's own parameter names: its
    MissingJobId is not documented where it takes no JobId); else for any name."""

    def stand_in(match: re.Match[str]) -> str:
        names = sorted((values or {}).get(match[1], ()))
        return f"(?:{'|'.join(map(re.escape, names))})" if names else "[A-Za-z0-9]+"

    if "{" not in code:
        return None
    return "^" + re.sub(r"\\\{([A-Za-z]+)\\\}", stand_in, re.escape(code)) + "$"


class ErrorsSpec(_Strict):
    """The errors an operation documents, plus the shared groups it inherits."""

    envelope: str = Field(default="rpc", description="Name of an envelope in the error catalog")
    include: list[str] = Field(
        default_factory=list, description="Error groups of the catalog this operation can return"
    )
    codes: dict[str, ErrorCode] = Field(default_factory=dict)


class Example(_Strict):
    """An example response exactly as the documentation prints it."""

    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    status: int = 200
    of: str | None = Field(
        default=None,
        description="Field path of the part the example shows (e.g. Result(Cover)); "
        "null for a whole response",
    )
    location: str = Field(description="Where on the page the example stands")
    body: str = Field(description="The example verbatim, as text; parsed only when checked")


class Contract(_Strict):
    """Everything the documentation and the SDK promise about one operation."""

    format_version: Literal[1]
    operation: str = Field(pattern=r"^[A-Z][A-Za-z]+$")
    product: Product
    product_name: str
    api_version: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    style: Literal["RPC", "ROA"]
    methods: list[Literal["GET", "POST"]] = Field(min_length=1)
    endpoint: Endpoint
    summary: str
    sources: SourceRefs
    request: RequestSpec
    response: ResponseSpec
    definitions: dict[str, FieldSpec] = Field(default_factory=dict)
    invariants: list[Invariant] = Field(default_factory=list)
    errors: ErrorsSpec
    examples: list[Example] = Field(default_factory=list)
    omitted_sdk_fields: list[OmittedSdkField] = Field(default_factory=list)

    # Filled by the loader: where the contract came from and where each key stands in it.
    _path: str = PrivateAttr(default="<memory>")
    _positions: dict[tuple[str | int, ...], tuple[int, int]] = PrivateAttr(default_factory=dict)
    _catalog: ErrorCatalog | None = PrivateAttr(default=None)

    @property
    def path(self) -> str:
        """The contract file, as given to the loader."""
        return self._path

    @property
    def catalog(self) -> ErrorCatalog:
        if self._catalog is None:
            raise RuntimeError(f"{self.operation}: contract was not loaded with an error catalog")
        return self._catalog

    def location(self, key_path: tuple[str | int, ...]) -> str:
        """'file:line' of a key in the contract file (the nearest enclosing key if not found)."""
        return _location(self._path, self._positions, key_path)

    def placeholder_values(self) -> dict[str, list[str]]:
        """What each placeholder of a templated error code can stand for in this operation's
        answers: {ParameterName}, a parameter it takes (its own or a signing one)."""
        return {"ParameterName": sorted({*self.request.parameters, *SIGNING_PARAMETERS})}

    def error_codes(self) -> dict[str, ErrorCode]:
        """Every error code the operation can return: included groups, then its own."""
        codes: dict[str, ErrorCode] = {}
        for group in self.errors.include:
            codes.update(self.catalog.groups[group].codes)
        codes.update(self.errors.codes)
        return codes

    def error_code_location(self, name: str) -> str:
        """'file:line' of the entry that documents an error code for this operation: its own,
        else the last included catalog group that has it (the one error_codes keeps)."""
        if name in self.errors.codes:
            return self.location(("errors", "codes", name))
        group = self.error_code_group(name)
        if group is not None:
            return self.catalog.location(("groups", group, "codes", name))
        return self.location(("errors",))

    def error_code_group(self, name: str) -> str | None:
        """The catalog group whose entry documents an error code for this operation (the last
        included that has it, the one error_codes keeps); None for its own codes and unknown
        ones."""
        if name in self.errors.codes:
            return None
        for group in reversed(self.errors.include):
            if name in self.catalog.groups[group].codes:
                return group
        return None

    def envelope(self) -> ErrorEnvelope:
        return self.catalog.envelopes[self.errors.envelope]


class ErrorEnvelope(_Strict):
    description: str
    url: str | None = None
    fields: dict[str, FieldSpec]


class ErrorGroup(_Strict):
    description: str
    url: str | None = None
    codes: dict[str, ErrorCode]


class ErrorCatalog(_Strict):
    """Error envelopes and error codes shared by several operations, written once."""

    format_version: Literal[1]
    envelopes: dict[str, ErrorEnvelope]
    groups: dict[str, ErrorGroup]

    _path: str = PrivateAttr(default="<memory>")
    _positions: dict[tuple[str | int, ...], tuple[int, int]] = PrivateAttr(default_factory=dict)

    def location(self, key_path: tuple[str | int, ...]) -> str:
        """'file:line' of a key in the catalog file (the nearest enclosing key if not found)."""
        return _location(self._path, self._positions, key_path)


def _location(
    path: str,
    positions: dict[tuple[str | int, ...], tuple[int, int]],
    key_path: tuple[str | int, ...],
) -> str:
    found = nearest_position(positions, key_path)
    return f"{path}:{found[0]}" if found else path


Payload.model_rebuild()
FieldSpec.model_rebuild()
Parameter.model_rebuild()
