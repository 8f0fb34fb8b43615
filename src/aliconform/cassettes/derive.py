"""Cassettes derived from the documentation: each example response, and the documented errors.

The request of each interaction is the one the official SDK really sends (V3 signature headers,
`x-acs-action`, `x-acs-version`, query parameters): the SDK is pointed at a loopback server that
answers with the documentation's example, vcrpy records the exchange, and the recording is
rewritten to the public endpoint and scrubbed. The response body is the page's example verbatim;
error bodies are built from the documented error envelope and error tables, and every value the
page does not give (a request id, say) is listed in the provenance under `synthesized`. No field
is ever added that the documentation does not have.

Deriving again rewrites only the cassettes whose content changed: a cassette that differs from
the one on disk only in the request's clock (`x-acs-date`, `Date`, `user-agent`) and its
provenance's date is left as it is, so a re-derivation's diff shows what the contract changed.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vcr.request import Request

from aliconform.cassettes.envelope import error_envelope, fill_message
from aliconform.cassettes.matching import rpc_vcr
from aliconform.cassettes.scrub import scrub_request, scrub_response
from aliconform.cassettes.store import (
    PROVENANCE_SUFFIX,
    CassetteFile,
    CassetteRef,
    DocumentationOrigin,
    Provenance,
    load_cassette,
    load_provenance,
    provenance_is_current,
    write_cassette,
)
from aliconform.contracts import Contract, ContractSet
from aliconform.contracts.model import ErrorCode
from aliconform.drift.engine import compiled
from aliconform.errors import AliconformError, SdkUnavailableError
from aliconform.sdk import SdkCallOptions, sdk_call, sdk_versions

__all__ = [
    "DEFAULT_REGION",
    "DerivedCassettes",
    "DocScenario",
    "derive_documentation_cassettes",
    "documentation_scenarios",
]

DEFAULT_REGION = "cn-shanghai"
# Not credentials: the loopback server never checks them, and the recording scrubs them.
_DERIVE_KEY_ID = "aliconform-documentation"
_DERIVE_KEY_SECRET = "aliconform-documentation-secret"


@dataclass
class DerivedCassettes:
    """The cassettes a derivation wrote, and those it left as they were (nothing but the
    request's clock and the derivation date would have changed)."""

    written: list[CassetteRef] = field(default_factory=list)
    unchanged: list[CassetteRef] = field(default_factory=list)
    removed: list[CassetteRef] = field(default_factory=list)  # of examples the contract lost


@dataclass(frozen=True)
class DocScenario:
    name: str
    description: str
    params: dict[str, str]
    status: int
    body: str
    location: str
    synthesized: list[str] = field(default_factory=list)


def documentation_scenarios(contract: Contract, region: str = DEFAULT_REGION) -> list[DocScenario]:
    """What the documentation shows of the operation: example responses, then documented errors."""
    return _example_scenarios(contract) + _error_scenarios(contract, region)


def _example_scenarios(contract: Contract) -> list[DocScenario]:
    scenarios = []
    for example in contract.examples:
        if example.of is not None:
            continue  # a part of a response (one payload variant), not a response
        params, synthesized = _request_for(contract, example.body)
        scenarios.append(
            DocScenario(
                name=f"doc-example-{example.name}",
                description=f"The documentation's example response ({example.location}), verbatim.",
                params=params,
                status=example.status,
                body=example.body,
                location=example.location,
                synthesized=synthesized,
            )
        )
    return scenarios


def _request_for(contract: Contract, body: str | None) -> tuple[dict[str, str], list[str]]:
    """Required parameters: the value the example response echoes, else the table's example."""
    echoed: dict[str, Any] = {}
    if body is not None:
        try:
            parsed = json.loads(body)
            echoed = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            echoed = {}
    params: dict[str, str] = {}
    synthesized: list[str] = []
    for name, parameter in contract.request.parameters.items():
        if not parameter.required:
            continue
        value = echoed.get(name)
        if isinstance(value, str) and value:
            params[name] = value
        elif parameter.example is not None:
            params[name] = str(parameter.example)
        else:
            params[name] = f"example-{name.lower()}"
            synthesized.append(f"request parameter {name}: the page gives no example value")
    return params, synthesized


def _error_body(contract: Contract, region: str, name: str, code: str, message: str) -> str:
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{contract.operation}/{name}")).upper()
    host = contract.endpoint.pattern.format(region=region)
    body = error_envelope(request_id, host, code, message, contract.product)
    return json.dumps(body, indent=2) + "\n"


_ERROR_VALUES = [
    "RequestId: a fixed UUID derived from the operation and scenario",
    "HostId: the endpoint of the recorded region",
    "Recommend: the troubleshooting link in the envelope's documented form",
]


def _error_scenarios(contract: Contract, region: str) -> list[DocScenario]:
    codes = contract.error_codes()
    base, synthesized = _request_for(contract, None)
    id_name = "TaskId" if "TaskId" in base else "JobId"
    scenarios: list[DocScenario] = []

    def add(name: str, description: str, params: dict[str, str], code: str, message: str) -> None:
        documented_as, spec = _documented(contract, code)
        table = _code_origin(contract, documented_as)
        scenarios.append(
            DocScenario(
                name=name,
                description=description,
                params=params,
                status=spec.http_status,
                body=_error_body(contract, region, name, code, message),
                location=table,
                synthesized=[*synthesized, *_ERROR_VALUES],
            )
        )

    if "ResourceNotFound" in codes:
        message = fill_message(codes["ResourceNotFound"].message or "", id_name)
        add(
            "doc-error-resource-not-found",
            f"An unknown {id_name}: ResourceNotFound, as the error table documents.",
            base,
            "ResourceNotFound",
            message,
        )
    if "Missing{ParameterName}" in codes:
        without = {k: v for k, v in base.items() if k != id_name}
        add(
            f"doc-error-missing-{id_name.lower()}",
            f"The required parameter {id_name} left out: Missing{id_name}.",
            without,
            f"Missing{id_name}",
            fill_message(codes["Missing{ParameterName}"].message or "", id_name),
        )
    if "TaskType" in base and "InvalidParameter" in codes:
        add(
            "doc-error-invalid-tasktype",
            "A TaskType the operation does not know: InvalidParameter.",
            {**base, "TaskType": "NoSuchTaskType"},
            "InvalidParameter",
            fill_message(codes["InvalidParameter"].message or "", "TaskType"),
        )
    if "IdempotentParameterMismatch" in codes and "ClientToken" in contract.request.parameters:
        add(
            "doc-error-idempotent-parameter-mismatch",
            "A ClientToken reused with different parameters: IdempotentParameterMismatch.",
            {**base, "ClientToken": "aliconform-reused-client-token"},
            "IdempotentParameterMismatch",
            " ".join((codes["IdempotentParameterMismatch"].message or "").split()),
        )
        scenarios[-1].synthesized.append("request parameter ClientToken: a fixed token")
    return scenarios


def _code_origin(contract: Contract, code: str) -> str:
    """Which documented table a code comes from: the page's own, or a shared group's."""
    if code in contract.errors.codes:
        return f"Error codes table: {code}"
    for group in contract.errors.include:
        spec = contract.catalog.groups[group]
        if code in spec.codes:
            return (
                f"{group} error codes ({spec.url}): {code}"
                if spec.url
                else f"{group} error codes: {code}"
            )
    return f"error code {code}"


def _documented(contract: Contract, code: str) -> tuple[str, ErrorCode]:
    """The documented entry a code falls under (MissingTaskId under Missing{ParameterName})."""
    found = compiled(contract).lookup_code(code)
    if found is None:
        raise KeyError(f"{contract.operation}: {code} is not a documented error code")
    return found


class _Canned(BaseHTTPRequestHandler):
    """Answers every request with the response the server holds next."""

    server: _LoopbackServer

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        status, body = self.server.canned
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        request_id = _request_id(body)
        if request_id:
            self.send_header("x-acs-request-id", request_id)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class _LoopbackServer(ThreadingHTTPServer):
    canned: tuple[int, str] = (200, "{}")


def _request_id(body: str) -> str | None:
    try:
        value = json.loads(body).get("RequestId")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


@contextmanager
def _loopback() -> Iterator[_LoopbackServer]:
    server = _LoopbackServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def derive_documentation_cassettes(
    contracts: ContractSet,
    root: Path,
    *,
    region: str = DEFAULT_REGION,
    now: dt.datetime | None = None,
    operations: list[str] | None = None,
) -> DerivedCassettes:
    """Derive the documentation cassettes of the given (default: all) operations; write those
    that changed."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    derived = DerivedCassettes()
    with _loopback() as server:
        for contract in contracts.values():
            if operations is not None and contract.operation not in operations:
                continue
            made = set()
            for scenario in documentation_scenarios(contract, region):
                ref, cassette, provenance = _derive(contract, scenario, server, root, region, now)
                made.add(ref.path)
                if _as_on_disk(ref, cassette, provenance):
                    derived.unchanged.append(ref)
                else:
                    write_cassette(ref.path, cassette, provenance)
                    derived.written.append(ref)
            directory = root / contract.product / contract.operation
            derived.removed += _remove_underived(root, directory, made)
    return derived


def _remove_underived(root: Path, directory: Path, made: set[Path]) -> list[CassetteRef]:
    """The documentation-derived cassettes in directory that this derivation did not make (an
    example renamed or deleted from the contract), removed with their provenance: left, they
    would go on being replayed as the documentation's. Only those whose provenance says they
    were derived; a recording is never touched."""
    removed = []
    for path in sorted(directory.glob("doc-*.yaml")):
        if path in made or path.name.endswith(PROVENANCE_SUFFIX):
            continue
        ref = CassetteRef(path, directory.parent.name, directory.name, path.stem, root=root)
        try:
            provenance = load_provenance(ref)
        except AliconformError:
            continue  # unreadable: not ours to judge
        if provenance is None or provenance.origin != "documentation":
            continue
        path.unlink()
        ref.provenance_path.unlink(missing_ok=True)
        removed.append(ref)
    return removed


# The request's clock and the SDK's self-description: different on every derivation.
_VOLATILE_HEADERS = frozenset({"x-acs-date", "date", "user-agent"})
_VOLATILE_PROVENANCE = {"recorded_at", "interactions_sha256"}


def _as_on_disk(ref: CassetteRef, cassette: CassetteFile, provenance: Provenance) -> bool:
    """Whether the cassette on disk (current, with its provenance) says all this already."""
    try:
        existing, existing_provenance = load_cassette(ref.path), load_provenance(ref)
    except AliconformError:  # missing or unreadable: write it
        return False
    if existing_provenance is None or not provenance_is_current(existing_provenance, existing):
        return False
    if existing_provenance.model_dump(exclude=_VOLATILE_PROVENANCE) != provenance.model_dump(
        exclude=_VOLATILE_PROVENANCE
    ):
        return False
    return _lasting(existing) == _lasting(cassette)


def _lasting(cassette: CassetteFile) -> list[dict[str, Any]]:
    """The interactions without their volatile headers."""
    interactions = []
    for interaction in cassette.interactions:
        data = interaction.model_dump(mode="python")
        for part in ("request", "response"):
            headers = data[part].get("headers") or {}
            data[part]["headers"] = {
                k: v for k, v in headers.items() if k.lower() not in _VOLATILE_HEADERS
            }
        interactions.append(data)
    return interactions


def _derive(
    contract: Contract,
    scenario: DocScenario,
    server: _LoopbackServer,
    root: Path,
    region: str,
    now: dt.datetime,
) -> tuple[CassetteRef, CassetteFile, Provenance]:
    host = contract.endpoint.pattern.format(region=region)
    local = f"http://127.0.0.1:{server.server_address[1]}"

    def to_public(request: Request) -> Request:
        request.uri = request.uri.replace(local, f"https://{host}", 1)
        if "host" in request.headers:
            request.headers["host"] = host
        return scrub_request(request)

    def tidy_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        response["headers"] = {k: v for k, v in headers.items() if k.lower() != "server"}
        return scrub_response(response)

    server.canned = (scenario.status, scenario.body)
    options = SdkCallOptions(
        endpoint=local.removeprefix("http://"),
        region=region,
        access_key_id=_DERIVE_KEY_ID,
        access_key_secret=_DERIVE_KEY_SECRET,
        protocol="http",
    )
    with tempfile.TemporaryDirectory() as scratch:
        recording = Path(scratch) / "cassette.yaml"
        recorder = rpc_vcr(
            record_mode="all", before_record_request=to_public, before_record_response=tidy_response
        )
        with recorder.use_cassette(str(recording)):
            try:
                sdk_call(contract, scenario.params, options)
            except SdkUnavailableError:  # said as it is, not as a bug
                raise
            except Exception as exc:  # the SDK raises on an error status; the exchange is recorded
                if scenario.status < 400:
                    raise RuntimeError(f"{contract.operation} {scenario.name}: {exc}") from exc
        cassette = load_cassette(recording)
    ref = CassetteRef(
        root / contract.product / contract.operation / f"{scenario.name}.yaml",
        contract.product,
        contract.operation,
        scenario.name,
        root,
    )
    document = contract.sources.documentation
    provenance = Provenance(
        origin="documentation",
        operation=contract.operation,
        scenario=scenario.name,
        description=scenario.description,
        recorded_at=now,
        region=region,
        endpoint=host,
        sdk=sdk_versions(contract),
        documentation=DocumentationOrigin(
            file=document.file,
            title=document.title,
            location=scenario.location,
            last_updated=document.last_updated,
        ),
        synthesized=scenario.synthesized,
        interactions_sha256="",
    )
    return ref, cassette, provenance
