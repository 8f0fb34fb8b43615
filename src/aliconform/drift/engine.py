"""check_response: the one place a response is judged against its contract.

A success status is checked against the response tree and the invariants; an error status
against the error envelope and the documented error codes. Any body becomes findings, never an
exception: empty, not JSON, an HTML error page, truncated, nested past any parser's limit.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aliconform.contracts import Contract, ContractSet, FieldEntry, index_fields, load_contracts
from aliconform.contracts.model import SIGNING_PARAMETERS, ErrorCode, code_pattern
from aliconform.drift.checker import Place, Walker, json_type
from aliconform.drift.fastpath import FastPath, Rejected, compile_fast_path
from aliconform.drift.findings import Finding, Kind, excerpt
from aliconform.drift.invariants import evaluate_invariants
from aliconform.drift.policy import DEFAULT_SEVERITY
from aliconform.errors import did_you_mean

__all__ = [
    "CompiledContract",
    "check_body",
    "check_response",
    "compiled",
    "parse_body",
    "sent_parameters",
]

Body = bytes | bytearray | memoryview | str | dict[str, Any] | list[Any] | int | float | bool | None
_NOT_JSON = object()


@dataclass
class CompiledContract:
    """What a contract needs at check time, worked out once per contract."""

    contract: Contract
    fields: Mapping[str, FieldEntry]
    codes: dict[str, ErrorCode]
    templates: list[tuple[re.Pattern[str], str]]
    statuses: set[int]
    fast: FastPath | None = field(default=None)  # None: the contract has no fast path

    @classmethod
    def build(cls, contract: Contract) -> CompiledContract:
        codes = contract.error_codes()
        values = contract.placeholder_values()
        templates = [
            (re.compile(pattern), code)
            for code in codes
            if (pattern := code_pattern(code, values)) is not None
        ]
        statuses = {200}
        for code in codes.values():
            statuses.update(code.statuses())
        fast = compile_fast_path(contract)
        return cls(contract, index_fields(contract), codes, templates, statuses, fast)

    def lookup_code(self, code: str) -> tuple[str, ErrorCode] | None:
        if code in self.codes:
            return code, self.codes[code]
        for pattern, name in self.templates:
            if pattern.match(code):
                return name, self.codes[name]
        return None


_COMPILED: dict[int, CompiledContract] = {}


def compiled(contract: Contract) -> CompiledContract:
    """The compiled form of a contract, built on first use and kept for the process."""
    entry = _COMPILED.get(id(contract))
    if entry is None or entry.contract is not contract:
        entry = _COMPILED[id(contract)] = CompiledContract.build(contract)
    return entry


@functools.cache
def _default_contracts() -> ContractSet:
    return load_contracts()


_BYTE_ORDER_MARK = (
    "the body starts with a byte order mark (U+FEFF), which RFC 8259 forbids a sender to add; "
    "the official Python SDK's JSON parsing, JavaScript's JSON.parse and Go's encoding/json "
    "refuse it"
)


def parse_body(body: Body) -> tuple[Any, Finding | None]:
    """(parsed JSON, None) or (_NOT_JSON, a description of why it is not JSON)."""
    if isinstance(body, memoryview | bytearray):
        body = bytes(body)
    if not isinstance(body, bytes | str):
        return body, None
    if not body.strip():
        return _NOT_JSON, _unparseable("the body is empty", body)
    try:
        # Read as the official SDK reads it: UTF-8, then JSON. json.loads alone would guess
        # UTF-16 or UTF-32 from bytes and skip a byte order mark, which the SDK refuses.
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        looks = "an HTML page" if _looks_like_html(body) else "not JSON"
        return _NOT_JSON, _unparseable(
            f"the body is {looks}: it is not UTF-8, which RFC 8259 requires: {exc}", body
        )
    if text.startswith("\ufeff"):
        return _NOT_JSON, _unparseable(_BYTE_ORDER_MARK, body)
    try:
        return json.loads(text), None
    except RecursionError:
        return _NOT_JSON, _unparseable("the body nests deeper than any JSON parser accepts", body)
    except ValueError as exc:
        looks = "an HTML page" if _looks_like_html(body) else "not JSON"
        return _NOT_JSON, _unparseable(f"the body is {looks}: {exc}", body)


def _looks_like_html(body: bytes | str) -> bool:
    head = body[:200].lstrip()
    return head.startswith(b"<") if isinstance(head, bytes) else head.startswith("<")


def _unparseable(message: str, body: bytes | str) -> Finding:
    text = body[:120].decode("utf-8", "replace") if isinstance(body, bytes) else body[:120]
    return Finding(
        operation="",
        kind=Kind.UNPARSEABLE_BODY,
        severity=DEFAULT_SEVERITY[Kind.UNPARSEABLE_BODY],
        path="",
        message=message,
        expected="a JSON object",
        observed=excerpt(text),
    )


def check_response(
    operation: str,
    body: Body,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    contracts: ContractSet | None = None,
    request: Mapping[str, Any] | object | None = None,
    source: str | None = None,
) -> list[Finding]:
    """Every divergence between one response and the operation's contract.

    body may be bytes, str or already-parsed JSON. request (the parameters sent, by name, or the
    official SDK's request model) lets the echo invariants run. Raises UnknownOperationError for
    an operation with no contract; a caller's mistake, not the response's, is a TypeError (a
    status that is not an int, a request that is no mapping) or a ValueError (a parameter the
    operation does not take, see sent_parameters).
    """
    contract = (contracts if contracts is not None else _default_contracts())[operation]
    if request is not None:
        request = sent_parameters(contract, request)
    return check_body(compiled(contract), body, status, headers, request=request, source=source)


def sent_parameters(contract: Contract, request: object) -> Mapping[str, Any]:
    """The request as the echo invariants read it: the parameters sent, by the API's names. An
    official SDK request model is read through its to_map(), which gives those names. Raises
    TypeError for what is not a mapping, and ValueError naming each parameter the operation
    does not take: an echo check looking for TaskId under `task_id` would quietly not run."""
    to_map = getattr(request, "to_map", None)
    if callable(to_map):
        request = to_map()
    if not isinstance(request, Mapping):
        raise TypeError(
            "request: the parameters sent, by name (a mapping, or the SDK's request model), "
            f"not {type(request).__name__} {excerpt(request)}"
        )
    known = contract.request.parameters
    unknown = [
        f"'{name}' is not a parameter of {contract.operation}{_parameter_hint(str(name), known)}"
        for name in request
        if name not in known and name not in SIGNING_PARAMETERS
    ]
    if unknown:
        raise ValueError(f"request: {'; '.join(unknown)}; it takes {', '.join(known)}")
    return request


def _parameter_hint(name: str, known: Iterable[str]) -> str:
    """did-you-mean, also for the SDK's spelling of a name (task_id for TaskId)."""
    flat = {parameter.lower(): parameter for parameter in known}
    same = flat.get(name.replace("_", "").replace("-", "").lower())
    return f" (did you mean '{same}'?)" if same else did_you_mean(name, known)


def check_body(
    entry: CompiledContract,
    body: Body,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    request: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> list[Finding]:
    contract = entry.contract
    if not isinstance(status, int) or isinstance(status, bool):
        raise TypeError(f"status must be an int HTTP status, not {status!r}")
    status = int(status)  # an HTTPStatus, say, as the number it is
    if isinstance(body, memoryview | bytearray):
        body = bytes(body)
    if 200 <= status < 300 and entry.fast is not None and isinstance(body, bytes | str):
        conforming = _fast(entry.fast, body)
        if conforming is not _NOT_JSON:
            found = (
                evaluate_invariants(
                    contract,
                    entry.fields,
                    entry.fast.invariant_data(conforming, body),
                    request=request,
                    skip=entry.fast.invariants,
                )
                if entry.fast.python_invariants or request
                else []
            )
            return [f.with_source(source) for f in found] if source else found
    findings: list[Finding] = []
    if status not in entry.statuses and not 200 <= status < 300:
        findings.append(
            Finding(
                operation=contract.operation,
                kind=Kind.UNDOCUMENTED_HTTP_STATUS,
                severity=DEFAULT_SEVERITY[Kind.UNDOCUMENTED_HTTP_STATUS],
                path="",
                message=f"HTTP {status} is not a status the operation documents",
                expected=sorted(entry.statuses),
                observed=str(status),
                contract_location=contract.location(("errors",)),
            )
        )
    data, problem = parse_body(body)
    if problem is not None:
        content_type = _header(headers, "content-type")
        suffix = f" (Content-Type: {content_type})" if content_type else ""
        findings.append(_with(problem, contract.operation, problem.message + suffix))
    else:
        try:
            if 200 <= status < 300:
                parsed_here = isinstance(body, bytes | str)
                findings += _check_success(entry, data, request, parsed_here=parsed_here)
            elif status >= 400:
                error = _check_error(entry, data, status)
                if any(f.kind is Kind.UNDOCUMENTED_HTTP_STATUS for f in error):
                    # The success response under it says more of the status than its absence
                    # from the documented ones: one finding, not two.
                    findings = [f for f in findings if f.kind is not Kind.UNDOCUMENTED_HTTP_STATUS]
                findings += error
        except RecursionError:
            findings.append(
                _with(_unparseable("the body nests too deeply to check", ""), contract.operation)
            )
    return [f.with_source(source) for f in findings] if source else findings


def _fast(fast: FastPath, body: bytes | str) -> Any:
    """The decoded body if it conforms in shape; _NOT_JSON if the precise path must look.

    Only text goes this way: data already parsed is judged by the precise path, which tells a
    tuple from a list and a dict subclass from a dict, as JSON would.
    """
    try:
        return fast.decode(body)
    except Rejected:
        return _NOT_JSON


def _with(finding: Finding, operation: str, message: str | None = None) -> Finding:
    from dataclasses import replace

    return replace(finding, operation=operation, message=message or finding.message)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _check_success(
    entry: CompiledContract, data: Any, request: Mapping[str, Any] | None, *, parsed_here: bool
) -> list[Finding]:
    """parsed_here: whether data came from json.loads here (so the walk may use the compiled
    checks, which read a tuple as an array; data handed in parsed is walked in full)."""
    contract = entry.contract
    fast = entry.fast if parsed_here else None
    walker = Walker(contract, fast=fast)
    root = Place("", "", ("response",))
    if not isinstance(data, dict):
        message = f"the body is a JSON {json_type(data)}, not an object"
        walker.add(Kind.TYPE_MISMATCH, root, message, expected="object", observed=data)
        return walker.findings
    walker.object_fields(data, contract.response.fields, root)
    held = (fast.invariants, walker.clean) if fast is not None else (frozenset(), ())
    walker.findings += evaluate_invariants(
        contract, entry.fields, data, decoded=walker.decoded, request=request, held=held
    )
    return walker.findings


def _success_under_error_status(entry: CompiledContract, data: dict[str, Any]) -> bool:
    """Whether an error status's body is, member for member, the success response. A member
    of the error envelope that the success response has too (IMM's task Code and Message) does
    not make it an error body."""
    envelope = entry.contract.envelope().fields
    success = entry.contract.response.fields
    if any(name in data for name in envelope if name != "RequestId" and name not in success):
        return False
    walker = Walker(entry.contract)
    walker.object_fields(data, entry.contract.response.fields, Place("", "", ("response",)))
    return not walker.findings


def _check_error(entry: CompiledContract, data: Any, status: int) -> list[Finding]:
    contract = entry.contract
    envelope = contract.envelope()
    catalog = contract.catalog
    walker = Walker(contract, locate=catalog.location)
    root = Place("", "", ("envelopes", contract.errors.envelope))
    if not isinstance(data, dict):
        message = f"the error body is a JSON {json_type(data)}, not an object"
        walker.add(Kind.TYPE_MISMATCH, root, message, expected="object", observed=data)
        return walker.findings
    if _success_under_error_status(entry, data):
        # One thing happened (an answer under the wrong status), so one finding: not a missing
        # Code and Message plus an undocumented field per member of the success response. The
        # status is what is wrong: the body is the one documented with 200. (Where the success
        # response has a Code of its own, it is the task's, not the request's error.)
        walker.add(
            Kind.UNDOCUMENTED_HTTP_STATUS,
            Place("", "", ("response",)),
            f"HTTP {status} over the operation's success response, which is documented with "
            "HTTP 200: no error envelope says what failed",
            location=contract.location(("response",)),
            expected=[200],
            observed=status,
        )
        return walker.findings
    walker.object_fields(data, envelope.fields, root)
    code = data.get("Code")
    if not isinstance(code, str):
        return walker.findings
    found = entry.lookup_code(code)
    if found is None:
        walker.add(
            Kind.UNDOCUMENTED_ERROR_CODE,
            Place("/Code", "", ()),
            f"error code {excerpt(code)} is not documented for {contract.operation}",
            location=contract.location(("errors",)),
            observed=code,
        )
        return walker.findings
    name, spec = found
    allowed = spec.statuses()
    if status not in allowed:
        walker.add(
            Kind.ERROR_STATUS_MISMATCH,
            Place("/Code", "", ()),
            f"{name} is documented with HTTP {spec.http_status}, not {status}"
            + _shared_list(contract, name),
            location=contract.error_code_location(name),
            expected=sorted(allowed),
            observed=status,
            rule=name,
        )
    return walker.findings


def _shared_list(contract: Contract, code: str) -> str:
    """Where a code the operation's page does not list is documented: the published list of
    shared codes the catalog took it from (said, so that a reader looks there, not on the page)."""
    group = contract.error_code_group(code)
    if group is None:
        return ""
    url = contract.catalog.groups[group].url
    return f" (by the shared error codes{f' of {url}' if url else ''}, not the operation's page)"
