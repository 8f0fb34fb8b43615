"""Replay: every recorded interaction played back through vcrpy, offline, and checked.

Each interaction's request is sent again (through `requests`, which vcrpy intercepts) with the
network blocked and the RPC matchers on, so a replay proves the cassette loads in plain vcrpy
and matches the way users' tests will match it. The response vcrpy plays back is then checked
against the operation's contract by the drift engine.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

from aliconform.cassettes.matching import rpc_vcr
from aliconform.cassettes.network import block_network
from aliconform.cassettes.rpc import RpcCall, read_rpc_call
from aliconform.cassettes.scrub import (
    is_credential_exchange,
    scrub_replay_miss,
    scrub_text,
    scrub_uri,
)
from aliconform.cassettes.store import (
    CassetteFile,
    CassetteRef,
    Interaction,
    Provenance,
    load_cassette,
    load_provenance,
    provenance_is_current,
    survey_cassettes,
)
from aliconform.contracts import ContractSet
from aliconform.drift.engine import check_body, compiled
from aliconform.drift.findings import Finding
from aliconform.errors import (
    AliconformError,
    CassetteError,
    ContractIssue,
    ReplayMissError,
    UnknownOperationError,
)

__all__ = [
    "CassetteProblem",
    "ReplayRun",
    "ReplayedInteraction",
    "filing_problem",
    "iter_replay",
    "replay_all",
    "replay_cassette",
]


@dataclass
class ReplayedInteraction:
    ref: CassetteRef
    index: int
    operation: str
    provenance: Provenance | None
    call: RpcCall
    status: int
    headers: dict[str, str]
    body: bytes
    findings: list[Finding]

    @property
    def source(self) -> str:
        """What the findings say they came from; documentation-derived cassettes say so first."""
        where = f"cassette {self.ref.display}#{self.index}"
        origin = self.provenance.documentation if self.provenance else None
        if origin is not None:
            return f"documentation {origin.file} > {origin.location} ({where})"
        return where


@dataclass(frozen=True)
class CassetteProblem:
    """A cassette that could not be replayed at all, and why."""

    path: str
    message: str


@dataclass
class ReplayRun:
    interactions: list[ReplayedInteraction] = field(default_factory=list)
    problems: list[CassetteProblem] = field(default_factory=list)
    stale_provenance: list[str] = field(default_factory=list)  # cassettes changed behind it

    @property
    def findings(self) -> list[Finding]:
        return [finding for item in self.interactions for finding in item.findings]


def replay_all(
    directory: Path,
    contracts: ContractSet,
    *,
    progress: Callable[[CassetteRef], None] | None = None,
) -> ReplayRun:
    run = ReplayRun()
    refs, misplaced = survey_cassettes(directory)
    run.problems += [CassetteProblem(item.display, item.reason) for item in misplaced]
    for ref in refs:
        if progress is not None:
            progress(ref)
        try:
            contracts[ref.operation]  # a directory no contract is named for: said first
            cassette = load_cassette(ref.path)
            provenance = load_provenance(ref)
            if provenance is not None and not provenance_is_current(provenance, cassette):
                run.stale_provenance.append(ref.display)
            # appended one by one: those played before a failure keep their findings
            run.interactions.extend(iter_replay(ref, cassette, contracts, provenance))
        except AliconformError as exc:
            names = {ref.display, ref.shown}
            run.problems.append(CassetteProblem(ref.display, _within(exc, names)))
    return run


def _within(error: AliconformError, names: set[str]) -> str:
    """An error about a cassette, its own file's name left out of each line (the problem names
    it once): "interactions[0]: ...", "line 12: ..."; other files (its provenance) stay named."""
    if not isinstance(error, CassetteError):
        return str(error)
    lines = []
    for issue in error.issues:
        if issue.file not in names:
            lines.append(str(issue))
            continue
        if issue.line is None:
            where = []
        elif issue.column is None:
            where = [f"line {issue.line}"]
        else:
            where = [f"line {issue.line}, column {issue.column}"]
        where += [issue.key_path] if issue.key_path else []
        lines.append(": ".join([*where, issue.message]))
    return "\n".join(lines)


def filing_problem(ref: CassetteRef, cassette: CassetteFile, contracts: ContractSet) -> str | None:
    """Why the cassette is not where its operation's cassettes belong, or None: no contract for
    its directory's operation, another product's directory, or requests to another operation."""
    try:
        contract = contracts[ref.operation]
    except UnknownOperationError as exc:
        return str(exc)
    if contract.product != ref.product:
        return (
            f"{ref.operation} is an {contract.product} operation; file it under {contract.product}/"
        )
    for index, interaction in enumerate(cassette.interactions):
        request = interaction.request
        if is_credential_exchange(Request(request.method, request.uri, None, request.headers)):
            return (
                f"interactions[{index}]: {request.method} {scrub_uri(request.uri)} is the "
                "credential chain fetching credentials, not a call: the cassette was recorded "
                "without aliconform's hooks (re-record it with `aliconform record` or rpc_vcr)"
            )
        action = _call(interaction).action
        if action is not None and action != ref.operation:
            return (
                f"interactions[{index}]: the request calls {action}, but the cassette is filed "
                f"under {ref.operation}"
            )
    return None


def replay_cassette(
    ref: CassetteRef,
    cassette: CassetteFile,
    contracts: ContractSet,
    provenance: Provenance | None = None,
) -> list[ReplayedInteraction]:
    """Play back every interaction of one cassette and check each response; an
    `AliconformError` if one of them cannot be played back."""
    return list(iter_replay(ref, cassette, contracts, provenance))


def iter_replay(
    ref: CassetteRef,
    cassette: CassetteFile,
    contracts: ContractSet,
    provenance: Provenance | None = None,
) -> Iterator[ReplayedInteraction]:
    """Each interaction of one cassette played back and checked, in order; at the first that
    cannot be played back, an `AliconformError` naming it (those before it were yielded)."""
    problem = filing_problem(ref, cassette, contracts)
    if problem is not None:
        raise CassetteError([ContractIssue(ref.display, None, None, "", problem)])
    entry = compiled(contracts[ref.operation])
    for index, (interaction, response) in enumerate(_play(ref, cassette)):
        call = _call(interaction)
        item = ReplayedInteraction(
            ref=ref,
            index=index,
            operation=ref.operation,
            provenance=provenance,
            call=call,
            status=response.status_code,
            headers=dict(response.headers),
            body=response.content,
            findings=[],
        )
        item.findings = check_body(
            entry,
            item.body,
            item.status,
            item.headers,
            request=dict(call.params),
            source=item.source,
        )
        yield item


def _call(interaction: Interaction) -> RpcCall:
    request = interaction.request
    return read_rpc_call(request.uri, request.headers, request.body)


def _play(
    ref: CassetteRef, cassette: CassetteFile
) -> Iterator[tuple[Interaction, requests.Response]]:
    recorder = rpc_vcr(record_mode="none")
    with (
        _playable_copy(ref.path) as path,
        recorder.use_cassette(path),
        block_network(),
        requests.Session() as session,
    ):
        session.trust_env = False  # offline: no proxy, CA bundle or .netrc of the environment's
        for index, interaction in enumerate(cassette.interactions):
            request = interaction.request
            headers = {name: values[0] for name, values in request.headers.items() if values}
            try:
                response = session.request(
                    request.method, request.uri, headers=headers, data=request.body, timeout=5
                )
            except CannotOverwriteExistingCassetteException as exc:
                raise ReplayMissError(f"interactions[{index}]: {_unplayable(exc)}") from exc
            except Exception as exc:
                what = f"{type(exc).__name__}: {scrub_text(str(exc))}"
                raise ReplayMissError(
                    f"interactions[{index}]: cannot be played back: {what}"
                ) from exc
            yield interaction, response


@contextlib.contextmanager
def _playable_copy(path: Path) -> Iterator[str]:
    """The cassette's path as vcrpy can take it: a name with bytes that are not UTF-8 (which
    vcrpy puts in a class name, and Python cannot) is played from a copy."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with tempfile.TemporaryDirectory(prefix="aliconform-replay-") as scratch:
            copy = Path(scratch) / "cassette.yaml"
            shutil.copyfile(path, copy)
            yield str(copy)
        return
    yield str(path)


_NOT_ITSELF = (
    "Replay sends each recorded request as it is recorded, and this one is not answered by its "
    "own recording (the HTTP library sends its URL or body otherwise than it was recorded), so "
    "the cassette cannot be replayed as it is: record it again (`aliconform record`)."
)


def _unplayable(miss: CannotOverwriteExistingCassetteException) -> str:
    """vcrpy's refusal, scrubbed (it quotes the request as sent, signed-URL secrets and all),
    without its cassette block (the problem names the file) or its advice, which is about
    record modes a replay does not take; with what a replay's miss means instead."""
    scrub_replay_miss(miss)
    text = str(miss).split("\n\nHow to fix:", 1)[0]
    text = re.sub(r"\n\nCassette: .*?(?=\n\n|\Z)", "", text, flags=re.DOTALL)
    return f"{text}\n{_NOT_ITSELF}"
