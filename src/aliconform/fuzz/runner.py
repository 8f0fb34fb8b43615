"""Property-based conformance: schemathesis generates requests from the OpenAPI export, the
transport sends them signed in the real wire form, and every answer is judged.

For each operation and generation mode (positive: requests the documentation allows; negative:
requests it forbids), hypothesis draws a bounded number of cases from a fixed seed, so a run is
repeatable. Every other case names a task that exists (see known.py), so that
success answers are exercised too, and schemathesis's `positive_data_acceptance` then expects a
2xx; with a generated id, "not found" is the documented answer and that check does not apply.

Each answer goes through schemathesis's own checks (not a server error, documented status,
documented content type, response schema, negative data rejected, positive data accepted) and
one more, `drift_check`, that runs the drift engine. Failures never stop the run: every case is
sent and every failure becomes a Finding, so the drift report can say how often each one
happened. A schema failure that the drift engine already explains at the same place is folded
into the engine's finding, which is the more precise of the two.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from aliconform.cassettes.scrub import scrub_body
from aliconform.contracts import Contract, ContractSet
from aliconform.contracts.openapi import openapi_document, operation_path
from aliconform.drift.engine import check_response
from aliconform.drift.findings import Finding, Kind, excerpt, pointer_join
from aliconform.drift.policy import DEFAULT_SEVERITY
from aliconform.errors import AliconformError
from aliconform.fuzz.known import KnownParameters
from aliconform.fuzz.transport import Credentials, SignedRequest, WireTarget, sign_request
from aliconform.record.retry import (
    RetryPolicy,
    connection_not_opened,
    is_transient,
    refuses_the_caller,
    retry_delay,
)

__all__ = [
    "DriftFailure",
    "FuzzCase",
    "FuzzOptions",
    "FuzzRun",
    "FuzzUnavailableError",
    "Mode",
    "drift_check",
    "run_fuzz",
]

Mode = Literal["positive", "negative"]
MODES: tuple[Mode, ...] = ("positive", "negative")
# The drift engine's findings on a response, keyed by the case, for the schema-failure folding.
_ENGINE_FINDINGS = "aliconform_findings"


@dataclass(frozen=True, slots=True)
class FuzzOptions:
    max_examples: int = 25  # per operation and mode
    seed: int = 20201109
    modes: tuple[Mode, ...] = MODES
    operations: tuple[str, ...] | None = None  # None: every contract
    # Throttled and transient answers (a 5xx) are sent again (new nonce, new signature) after
    # the service's own x-acs-retry-after or a jittered backoff; anything else is judged.
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=4, max_delay=10.0))


@dataclass
class FuzzCase:
    """One generated request and what became of it."""

    id: str  # operation/mode/number: stable for a seed
    operation: str
    mode: Mode
    known_ids: bool  # whether the request names a task that exists
    params: dict[str, str]  # the business parameters as sent (flattened; nothing secret)
    status: int | None = None
    body: bytes = b""
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None  # the request got no answer (connection refused, timeout)
    retries: int = 0  # throttled or transient attempts sent again
    # The error code when the service refused the caller (credentials, signature, clock):
    # such an answer says nothing about the operation, so it is not judged.
    refused: str | None = None


@dataclass
class FuzzRun:
    endpoint: str
    options: FuzzOptions
    known: KnownParameters
    cases: list[FuzzCase] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        return [finding for case in self.cases for finding in case.findings]

    @property
    def refused(self) -> dict[str, list[FuzzCase]]:
        """The cases the service refused for who sent them, by error code."""
        by_code: dict[str, list[FuzzCase]] = {}
        for case in self.cases:
            if case.refused is not None:
                by_code.setdefault(case.refused, []).append(case)
        return by_code

    def statuses(self, operation: str | None = None) -> dict[str, int]:
        """How many cases got each status ("none" when the request got no answer)."""
        counts: dict[str, int] = {}
        for case in self.cases:
            if operation is None or case.operation == operation:
                key = str(case.status) if case.status is not None else "none"
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))


class FuzzUnavailableError(AliconformError):
    """schemathesis (the `fuzz` extra) is not installed."""


class DriftFailure(AssertionError):
    """Raised by drift_check; carries the engine's findings."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
        self.findings = findings


def drift_check(
    contracts: ContractSet, request_of: Callable[[Any], Mapping[str, Any]] | None = None
) -> Callable[[Any, Any, Any], bool | None]:
    """A schemathesis check that runs the drift engine on each response: any finding fails it,
    and the DriftFailure it raises carries the findings. Usable with `case.validate_response`
    (additional_checks=[drift_check(contracts)]) in a suite of one's own. request_of gives the
    parameters really sent (default: the case's query), for the echo invariants.

    schemathesis's failure message includes a curl command with the request's headers: when
    those carry an Authorization header or a security token, keep the message out of logs."""

    def aliconform_drift(ctx: Any, response: Any, case: Any) -> bool | None:
        operation = case.operation.definition.raw["operationId"]
        headers = {
            name: value[0] if isinstance(value, list) else value
            for name, value in response.headers.items()
        }
        findings = check_response(
            operation,
            response.content,
            status=response.status_code,
            headers=headers,
            contracts=contracts,
            request=dict(request_of(case) if request_of else case.query or {}),
        )
        if findings:
            raise DriftFailure(findings)
        return None

    return aliconform_drift


def run_fuzz(
    contracts: ContractSet,
    target: WireTarget,
    credentials: Credentials,
    options: FuzzOptions,
    known: KnownParameters | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> FuzzRun:
    """Generate, send and judge requests for every chosen operation and mode."""
    try:
        import schemathesis
    except ImportError:
        raise FuzzUnavailableError(
            "property-based runs need schemathesis: pip install 'aliconform[fuzz]'"
        ) from None
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    known = known or KnownParameters()
    names = list(options.operations or contracts)
    chosen = [contracts[name] for name in names]
    document = openapi_document(chosen)
    schema = schemathesis.openapi.from_dict(document, config=_config())
    sent_params: dict[int, dict[str, str]] = {}
    engine_check = drift_check(contracts, lambda case: sent_params.get(id(case), {}))
    endpoint = ", ".join(sorted(set(target.hosts.values())))
    run = FuzzRun(endpoint=endpoint, options=options, known=known)
    started = time.perf_counter()
    session = requests.Session()
    run_token = uuid.uuid4().hex[:12]
    checks = _checks()
    for contract in chosen:
        operation = schema[operation_path(contract)]["POST"]
        for mode in options.modes:
            cases: list[Any] = []
            strategy = operation.as_strategy(generation_mode=_generation_mode(mode))
            substitutes = known.of(contract.operation)

            @fixed_seed(options.seed)
            @settings(
                max_examples=options.max_examples,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def collect(case: Any) -> None:
                cases.append(case)  # noqa: B023 (each loop runs its own test at once)

            collect()
            for number, case in enumerate(cases, 1):
                substitute = _naming(substitutes, number)
                case_id = f"{contract.operation}/{mode}/{number}"
                if progress:
                    progress(case_id)
                sent = _Sent(
                    case_id,
                    mode,
                    substitute,
                    target,
                    credentials,
                    session,
                    sent_params,
                    options.retry,
                    run_token,
                )
                run.cases.append(_exercise(contract, case, sent, checks, engine_check))
    run.seconds = time.perf_counter() - started
    return run


@dataclass(frozen=True, slots=True)
class _Sent:
    """How one case is sent."""

    case_id: str
    mode: Mode
    substitute: dict[str, str] | None
    target: WireTarget
    credentials: Credentials
    session: requests.Session
    params_by_case: dict[int, dict[str, str]]  # what drift_check's echo invariants compare
    policy: RetryPolicy
    run_token: str  # unique to the run: see IDEMPOTENCY_TOKEN


def _exercise(
    contract: Contract,
    case: Any,
    sent: _Sent,
    checks: dict[str, Any],
    engine_check: Callable[[Any, Any, Any], bool | None],
) -> FuzzCase:
    from schemathesis.core.failures import FailureGroup

    case_id, mode = sent.case_id, sent.mode
    substitute = _identity(case, mode, sent.substitute)
    # The signing parameters schemathesis generates for the security schemes are replaced by a
    # real signature. Known ids go on the wire only: editing the case would make schemathesis
    # re-validate it, and it reads a JSON-in-string parameter as not matching its schema.
    query = {k: v for k, v in (case.query or {}).items() if k != "Signature"}
    query.update(substitute or {})
    if mode == "positive" and IDEMPOTENCY_TOKEN in query:
        query[IDEMPOTENCY_TOKEN] = f"aliconform-{sent.run_token}-{case_id}"
    result = FuzzCase(case_id, contract.operation, mode, bool(substitute), {})
    try:
        response, signed = _send(contract, query, sent, result)
    except requests.RequestException as exc:
        unopened = connection_not_opened(exc)
        result.error = (
            f"could not connect: {unopened}" if unopened else f"{type(exc).__name__}: no answer"
        )
        result.findings = [_unanswered(contract, case_id, result)]
        return result
    sent.params_by_case[id(case)] = signed.params
    # What a report may show: a refused signature's answer quotes the string to sign (with V2,
    # the AccessKeyId and any SecurityToken); it is cut before anything judges or keeps it.
    response._content = scrub_body(response.content)  # requests keeps the body here
    result.status = response.status_code
    result.body = response.content
    code = _error_code(response)
    if refuses_the_caller(code):
        result.refused = code
        return result
    chosen = [checks[name] for name in _checks_for(mode, bool(substitute))]
    failures: list[Any] = []
    try:
        case.validate_response(response, checks=chosen, additional_checks=[engine_check])
    except FailureGroup as group:  # schemathesis gathers every failed check into one group
        failures = list(group.exceptions)
    result.findings = _findings(contract, case_id, failures, result, signed)
    return result


def _naming(substitutes: list[dict[str, str]], number: int) -> dict[str, str] | None:
    """Every other case names a task that exists (when one is known), the first one included
    (a run of one example per operation still reaches a success answer), the known ones in
    turn: positive ones reach success answers, negative ones are refused for their bad
    parameter, not "not found". (A drawn boolean would not be half: hypothesis leans to
    False.)"""
    if not substitutes or not number % 2:
        return None
    return substitutes[(number // 2) % len(substitutes)]


def _identity(case: Any, mode: Mode, substitute: dict[str, str] | None) -> dict[str, str] | None:
    """The known identity parameters this case carries: all of them in a positive case; in a
    negative one, those schemathesis did not mutate (when it says which it mutated)."""
    if not substitute or mode == "positive":
        return substitute
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutated = {getattr(m, "parameter", None) for m in getattr(data, "mutations", ())}
    mutated.add(getattr(data, "parameter", None))
    mutated.discard(None)
    if not mutated:
        return None  # cannot tell what makes the case negative: leave it as generated
    kept = {name: value for name, value in substitute.items() if name not in mutated}
    return kept or None


def _send(
    contract: Contract, query: dict[str, Any], sent: _Sent, result: FuzzCase
) -> tuple[requests.Response, SignedRequest]:
    """Sign and send; a throttled or transient answer (429, a 5xx, InternalError,
    ServiceUnavailable) is sent again, newly signed, within the policy: queries change
    nothing, so sending one again is safe, and one passing failure is no finding."""
    policy = sent.policy
    for attempt in range(1, policy.max_attempts + 1):
        signed = sign_request(contract, query, sent.target, sent.credentials)
        result.params = signed.params
        response = signed.send(sent.session, sent.target.timeout)
        refusal = _transient(response)
        if refusal is None or attempt == policy.max_attempts:
            return response, signed
        result.retries += 1
        time.sleep(retry_delay(refusal, attempt, policy))
    raise AssertionError("unreachable: the loop returns")


class _Answered(Exception):
    """An HTTP answer in the shape record.retry reads (status, code, retry hint)."""

    def __init__(self, status_code: int, code: str | None, retry_after: int | None) -> None:
        super().__init__(code or str(status_code))
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after


def _error_code(response: requests.Response) -> str | None:
    """The Code of an error answer's envelope, if it has one."""
    if response.status_code < 400:
        return None
    try:
        code = response.json().get("Code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def _transient(response: requests.Response) -> _Answered | None:
    if response.status_code < 400:
        return None
    hint = response.headers.get("x-acs-retry-after")
    answered = _Answered(
        response.status_code,
        _error_code(response),
        int(hint) if hint and hint.isdigit() else None,
    )
    return answered if is_transient(answered) else None


def _checks() -> dict[str, Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks as openapi_checks

    found = {"not_a_server_error": not_a_server_error}
    for name in (
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
    ):
        found[name] = getattr(openapi_checks, name)
    return found


def _checks_for(mode: Mode, known_ids: bool) -> list[str]:
    names = [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
    if mode == "negative":
        names.append("negative_data_rejection")
    elif known_ids:  # a generated id rightly gets "not found": acceptance is not expected
        names.append("positive_data_acceptance")
    return names


def _config() -> Any:
    from schemathesis import Config

    return Config.from_dict(
        {
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx"]}},
            # Undeclared parameters are no test of the contract (schemathesis does not count them
            # as negative data), and the V3 canonical query does not encode parameter names, so
            # a name with reserved characters would be refused for its signature.
            "generation": {"allow-extra-parameters": False},
        }
    )


def _generation_mode(mode: Mode) -> Any:
    from schemathesis import GenerationMode

    return GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE


# --- failures as findings ------------------------------------------------------------------

# The idempotency token of Alibaba Cloud APIs. A token sent again with other parameters is
# rightly refused (IdempotentParameterMismatch), so a positive request, which must be accepted,
# carries one of its own: unique to the run and the case, never one that a fixed seed draws
# again in the next run or for another case of this one (with another JobId).
IDEMPOTENCY_TOKEN = "ClientToken"

_KIND_OF_FAILURE = {
    "ServerError": Kind.SERVER_ERROR,
    "ContentTypeServerError": Kind.SERVER_ERROR,
    "UndefinedStatusCode": Kind.UNDOCUMENTED_HTTP_STATUS,
    "UndefinedContentType": Kind.UNDOCUMENTED_CONTENT_TYPE,
    "MissingContentType": Kind.UNDOCUMENTED_CONTENT_TYPE,
    "MalformedMediaType": Kind.UNDOCUMENTED_CONTENT_TYPE,
    "JsonSchemaError": Kind.SCHEMA_VIOLATION,
    "MalformedJson": Kind.UNPARSEABLE_BODY,
    "ContentDeserializationError": Kind.UNPARSEABLE_BODY,
    "AcceptedNegativeData": Kind.ACCEPTED_INVALID_REQUEST,
    "RejectedPositiveData": Kind.REJECTED_VALID_REQUEST,
}


def _findings(
    contract: Contract,
    case_id: str,
    failures: Sequence[Any],
    result: FuzzCase,
    signed: SignedRequest,
) -> list[Finding]:
    engine = [f.with_source(case_id) for failure in failures for f in _engine_findings(failure)]
    found = list(engine)
    for failure in failures:
        if _engine_findings(failure):
            continue
        finding = _from_schemathesis(contract, case_id, failure, result, signed)
        if finding.kind is Kind.SCHEMA_VIOLATION and _explained(finding.path, engine):
            continue  # the engine says what is wrong there, and how much it matters
        if finding.kind is Kind.REJECTED_VALID_REQUEST and (result.status or 0) >= 500:
            continue  # the server failed (a server-error finding), it did not refuse the data
        if any(_same(finding, other) for other in found):
            continue
        found.append(finding)
    return found


def _engine_findings(failure: Any) -> list[Finding]:
    """The drift engine's findings, when the failure is drift_check's (schemathesis wraps a
    custom check's exception in a CustomFailure)."""
    if isinstance(failure, DriftFailure):
        return failure.findings
    wrapped = getattr(failure, "exception", None)
    return wrapped.findings if isinstance(wrapped, DriftFailure) else []


def _from_schemathesis(
    contract: Contract, case_id: str, failure: Any, result: FuzzCase, signed: SignedRequest
) -> Finding:
    kind = _KIND_OF_FAILURE.get(type(failure).__name__, Kind.CHECK_FAILED)
    path = ""
    if kind is Kind.SCHEMA_VIOLATION:
        for token in getattr(failure, "instance_path", []) or []:
            path = pointer_join(path, token)
    title = str(getattr(failure, "title", "")) or type(failure).__name__
    sent = ", ".join(f"{k}={excerpt(v, 40)}" for k, v in sorted(signed.params.items()))
    return Finding(
        operation=contract.operation,
        kind=kind,
        severity=DEFAULT_SEVERITY[kind],
        path=path,
        message=f"{title} (HTTP {result.status}; {result.mode} request: {sent or 'no parameters'})",
        expected=_expected(kind, failure),
        observed=_observed(failure, result),
        contract_location=contract.location(()),
        rule=f"schemathesis:{type(failure).__name__}",
        source=case_id,
    )


def _unanswered(contract: Contract, case_id: str, result: FuzzCase) -> Finding:
    return Finding(
        operation=contract.operation,
        kind=Kind.SERVER_ERROR,
        severity=DEFAULT_SEVERITY[Kind.SERVER_ERROR],
        path="",
        # No mode in the message: the finding stands for every unanswered request alike.
        message=f"No answer to a request ({result.error})",
        expected="an answer, or a documented refusal",
        observed="no answer",
        contract_location=contract.location(()),
        rule="no-answer",
        source=case_id,
    )


def _observed(failure: Any, result: FuzzCase) -> str:
    """What the answer held where the check failed: the value at the schema's path, the
    content type (none: the header was missing), else the status."""
    if hasattr(failure, "instance"):
        return excerpt(failure.instance)
    if hasattr(failure, "content_type"):
        return excerpt(failure.content_type)
    if type(failure).__name__ == "MissingContentType":
        return "no Content-Type header"
    return excerpt(result.status)


def _expected(kind: Kind, failure: Any) -> Any:
    if kind is Kind.REJECTED_VALID_REQUEST:
        return "a 2xx answer"
    if kind is Kind.ACCEPTED_INVALID_REQUEST:
        return "a documented 4xx error"
    if kind is Kind.SERVER_ERROR:
        return "an answer, or a documented refusal"
    allowed = getattr(failure, "allowed_statuses", None) or getattr(
        failure, "defined_content_types", None
    )
    return list(allowed) if allowed else None


def _explained(path: str, engine: list[Finding]) -> bool:
    """Whether the engine found something at, inside or around the place (or could not read
    the body at all)."""
    return any(
        f.path == path
        or f.path.startswith(path + "/")
        or (f.path and path.startswith(f.path + "/"))
        or f.kind is Kind.UNPARSEABLE_BODY
        for f in engine
    )


def _same(one: Finding, other: Finding) -> bool:
    return (one.kind, one.path) == (other.kind, other.path)
