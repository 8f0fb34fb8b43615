"""The twin as an ASGI application: the gateway's checks, then the operation, over the RPC wire.

A request goes through what the real endpoint does, in order: which action and API version it
asks for, whether its signature verifies (and is fresh, and its nonce unused), then any
injected fault, then the operation itself. Every refusal is an RPC error envelope with a
documented code; every answer carries `x-acs-request-id` equal to its body's RequestId. Each
handled request is logged, so a test or a recorder can see what the twin did.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from aliconform.cassettes.rpc import SIGNING_PARAMETERS
from aliconform.contracts import Contract
from aliconform.sdk import openapi_utils
from aliconform.twin.bodies import query_body
from aliconform.twin.config import TwinConfig
from aliconform.twin.drift import DriftProfile, drift_profile
from aliconform.twin.envelope import (
    JSON_CONTENT_TYPE,
    ApiError,
    documented_error,
    encode_json,
    error_envelope,
    new_request_id,
)
from aliconform.twin.faults import RETRY_AFTER_MS, FaultRule
from aliconform.twin.lifecycle import ClientTokens, Task, TaskStore, new_event_id, new_task_id
from aliconform.twin.operations import (
    OPERATIONS,
    QUERIES,
    CreateOperation,
    QueryOperation,
    validate_create,
    validate_query,
)
from aliconform.twin.signing import (
    NonceLedger,
    SignatureRejected,
    WireRequest,
    authenticate,
    check_timestamp,
    signature_version,
)

__all__ = ["LOG_LIMIT", "HandledRequest", "Twin", "create_app"]

#: How many handled requests a twin remembers (the oldest are forgotten first).
LOG_LIMIT = 10_000
_ERROR_FAULTS = {
    "throttle": ("Throttling.User", 429),
    "unavailable": ("ServiceUnavailable", 503),
    "server-error": ("InternalError", 500),
}
_MALFORMED = (
    b"<html><head><title>Service notice</title></head>"
    b"<body><h1>The service is being upgraded.</h1></body></html>"
)


@dataclass(frozen=True, slots=True)
class HandledRequest:
    """One request as the twin handled it."""

    action: str | None
    signature: Literal["v3", "v2"] | None
    status: int | None  # None: the connection was dropped without a response
    fault: str | None  # the kind of fault applied (throttle, drop, ...), if any
    params: Mapping[str, str]  # business parameters (signing parameters left out)
    request_id: str | None = None
    body: bytes = b""


@dataclass
class _Call:
    """What the twin has learned about a request so far."""

    wire: WireRequest
    signature: Literal["v3", "v2"] | None = None
    action: str | None = None
    contract: Contract | None = None
    fault: FaultRule | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    request_id: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


class _Dropped(Exception):
    """The injected fault: close the connection without answering."""


class _DropConnection(Response):
    """Closes the client's connection and sends nothing (uvicorn's transport, closed)."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("the twin dropped the connection")
        transport.close()
        for _ in range(10):  # let the server see the connection gone, so it sends nothing
            if getattr(cycle, "disconnected", True):
                return
            await asyncio.sleep(0)


class Twin:
    """The twin's state (tasks, nonces, faults, log) and its ASGI app."""

    def __init__(self, config: TwinConfig) -> None:
        openapi_utils()  # signatures are verified with the SDK: say so now, not per request
        self.config = config
        self.store = TaskStore(config.polls_before_done)
        self.tokens = ClientTokens()
        self.nonces = NonceLedger()
        self.faults = config.faults.schedule() if config.faults is not None else None
        self.drift: DriftProfile | None = (
            drift_profile(config.drift) if config.drift is not None else None
        )
        self._log: deque[HandledRequest] = deque(maxlen=LOG_LIMIT)
        self._log_lock = threading.Lock()
        # For errors raised before the operation is known: every contract includes the
        # gateway's error codes, so any of them documents those.
        self._gateway = config.contracts[next(iter(QUERIES))]
        self.app = Starlette(
            routes=[
                Route("/", self.handle, methods=["GET", "POST"]),
                Route("/{path:path}", self.unknown_path, methods=["GET", "POST"]),
            ]
        )

    @property
    def log(self) -> list[HandledRequest]:
        with self._log_lock:
            return list(self._log)

    def _record(self, call: _Call, answer: _Answer | None) -> None:
        entry = HandledRequest(
            action=call.action,
            signature=call.signature,
            status=answer.status if answer else None,
            fault=call.fault.kind if call.fault else None,
            params=dict(call.params),
            request_id=answer.request_id if answer else None,
            body=answer.body if answer else b"",
        )
        with self._log_lock:
            self._log.append(entry)

    # --- the routes ------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        call = _Call(await _read(request))
        try:
            answer = await self._answer(call)
        except ApiError as error:
            answer = self._error(call, error)
        except _Dropped:
            self._record(call, None)
            return _DropConnection()
        return self._respond(call, _deformed(answer, call.fault))

    async def unknown_path(self, request: Request) -> Response:
        """RPC operations are served at / only."""
        call = _Call(await _read(request))
        return self._respond(
            call, self._error(call, documented_error(self._gateway, "InvalidApi.NotFound"))
        )

    def _respond(self, call: _Call, answer: _Answer) -> Response:
        self._record(call, answer)
        headers = {"content-type": answer.content_type, **answer.headers}
        if answer.request_id:
            headers["x-acs-request-id"] = answer.request_id
        return Response(answer.body, status_code=answer.status, headers=headers)

    # --- the gateway -----------------------------------------------------------------------

    async def _answer(self, call: _Call) -> _Answer:
        operation, contract = self._resolve(call)
        self._authenticate(call, contract)
        await self._fault(call, contract)
        request_id = new_request_id()
        if isinstance(operation, CreateOperation):
            body = self._create(operation, contract, call, request_id)
        else:
            body = self._query(operation, contract, call, request_id)
        return _Answer(200, encode_json(body), request_id)

    def _resolve(self, call: _Call) -> tuple[QueryOperation | CreateOperation, Contract]:
        wire = call.wire
        call.signature = signature_version(wire)
        params = wire.params
        if call.signature == "v2":  # the signed parameters say what is asked
            action, version = params.get("Action"), params.get("Version")
        else:
            action = wire.headers.get("x-acs-action") or params.get("Action")
            version = wire.headers.get("x-acs-version") or params.get("Version")
        call.action = action
        call.params = {k: v for k, v in params.items() if k not in SIGNING_PARAMETERS}
        if not action:
            raise documented_error(self._gateway, "MissingAction", "Action")
        operation = OPERATIONS.get(action)
        if operation is None:
            raise ApiError(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            )
        contract = self.config.contracts[
            operation.query if isinstance(operation, CreateOperation) else operation.name
        ]
        call.contract = contract
        if not version:
            raise documented_error(contract, "MissingVersion", "Version")
        if version != contract.api_version:
            raise documented_error(contract, "InvalidVersion", "Version")
        return operation, contract

    def _authenticate(self, call: _Call, contract: Contract) -> None:
        now = dt.datetime.now(dt.UTC)
        try:
            signed = authenticate(call.wire, self.config.credentials)
            check_timestamp(signed.timestamp, now)
            self.nonces.use(signed.nonce, now)
        except SignatureRejected as rejected:
            detail = (
                f" server string to sign is:{rejected.server_string}"
                if rejected.server_string is not None
                else ""
            )
            raise documented_error(
                contract, rejected.code, rejected.parameter, detail=detail
            ) from None

    async def _fault(self, call: _Call, contract: Contract) -> None:
        """Wait out any latency; refuse or drop the request if its fault says so."""
        if self.faults is None or call.action is None:
            return
        delay = self.faults.delay_for(call.action)
        if delay:
            await asyncio.sleep(delay)
        fault = call.fault = self.faults.take(call.action)
        if fault is None:
            return
        if fault.kind == "drop":
            raise _Dropped
        if fault.kind in _ERROR_FAULTS:
            code, status = _ERROR_FAULTS[fault.kind]
            error = documented_error(contract, code)
            headers = {"x-acs-retry-after": str(RETRY_AFTER_MS)} if fault.kind == "throttle" else {}
            raise ApiError(status, error.code, error.message, headers)

    def _error(self, call: _Call, error: ApiError) -> _Answer:
        request_id = new_request_id()
        if call.contract is not None:
            host = call.contract.endpoint.pattern.format(region=self.config.region)
            product: str | None = call.contract.product
        else:
            host, product = call.wire.headers.get("host", ""), None
        body = error_envelope(request_id, host, error.code, error.message, product)
        return _Answer(error.status, encode_json(body), request_id, error.headers)

    # --- the operations --------------------------------------------------------------------

    def _create(
        self, operation: CreateOperation, contract: Contract, call: _Call, request_id: str
    ) -> dict[str, Any]:
        params = validate_create(operation, contract, call.params)
        task = Task(
            id=new_task_id(operation),
            create_operation=operation.name,
            query_operation=operation.query,
            params=params,
            task_type=operation.task_type,
            event_id=new_event_id() if operation.product == "imm" else None,
        )
        self.store.add(task)
        if operation.product == "imm":
            return {"RequestId": request_id, "TaskId": task.id, "EventId": task.event_id}
        return {"RequestId": request_id, "JobId": task.id}

    def _query(
        self, operation: QueryOperation, contract: Contract, call: _Call, request_id: str
    ) -> dict[str, Any]:
        params = call.params
        lenient = call.fault is not None and call.fault.kind == "lenient"
        if not lenient:  # the misbehaviour: parameters are not checked at all
            validate_query(contract, params)
        token = params.get("ClientToken") if "ClientToken" in contract.request.parameters else None
        if token and not self.tokens.same_request(operation.name, token, params):
            raise documented_error(contract, "IdempotentParameterMismatch")
        task_id = params.get(operation.id_param, "")
        task = self.store.get(task_id)
        project = params.get("ProjectName")
        if task is not None and project is not None and task.params.get("ProjectName") != project:
            task = None
        poll = self.store.poll(operation.name, task_id) if task is not None else None
        if poll is None:
            raise _not_found(contract, operation)
        body = query_body(contract, operation, poll, request_id)
        if poll.done and self.drift is not None:
            body = self.drift.apply(operation.name, body)
        return body


def _deformed(answer: _Answer, fault: FaultRule | None) -> _Answer:
    """The answer as a malformed fault (200, not JSON) or a truncated one (cut in half) has it."""
    if fault is None:
        return answer
    if fault.kind == "malformed":
        return _Answer(200, _MALFORMED, None, content_type="text/html;charset=utf-8")
    if fault.kind == "truncated":
        half = answer.body[: len(answer.body) // 2]
        return _Answer(answer.status, half, answer.request_id, answer.headers)
    return answer


def _not_found(contract: Contract, operation: QueryOperation) -> ApiError:
    """ResourceNotFound where the contract documents it (IMM); else InvalidParameter (ICE)."""
    code = (
        "ResourceNotFound" if "ResourceNotFound" in contract.error_codes() else "InvalidParameter"
    )
    return documented_error(contract, code, operation.id_param)


async def _read(request: Request) -> WireRequest:
    body = await request.body()
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    form: dict[str, str] = {}
    if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return WireRequest(request.method, request.url.path, query, headers, body, form)


def create_app(config: TwinConfig | None = None) -> Starlette:
    """The twin's ASGI app (serve it with uvicorn, or use TwinServer/run_twin)."""
    return Twin(config if config is not None else TwinConfig()).app
