"""Running recording scenarios through the official SDK and writing their cassettes safely.

Every scenario is recorded with vcrpy into a scratch directory (scrubbed by the same hooks as
every other cassette, so no credential reaches even a temporary file), trimmed to the
interactions worth keeping, and staged as a complete cassette. The staged cassettes are replayed
and put through the secret scan (`aliconform.secrets`): a suspected secret that scrubbing missed
fails its scenario. Only when all of a scenario's calls have succeeded and its cassette replays
and scans clean is it renamed into place; a scenario that fails, is skipped or runs under
`check` leaves the existing cassette exactly as it was.

Kept: the query operation's answers, one per distinct status seen while polling (Running, then
Succeeded), and error answers. Not kept: the setup call (it is not a query; the provenance
names it) and attempts that were retried (throttled, 5xx, dropped, garbled).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from vcr.request import Request

from aliconform.cassettes.matching import rpc_vcr
from aliconform.cassettes.replay import ReplayRun, replay_all
from aliconform.cassettes.scrub import recordable, scrub_text
from aliconform.cassettes.store import (
    PROVENANCE_SUFFIX,
    CassetteFile,
    CassetteRef,
    Provenance,
    load_cassette,
    load_provenance,
    stops_held,
    write_cassette,
)
from aliconform.contracts import Contract, ContractSet
from aliconform.errors import AliconformError, error_chain
from aliconform.record.behaviour import BehaviourChange, behaviour_diff
from aliconform.record.retry import (
    RetryPolicy,
    connection_not_opened,
    is_refused_before_processing,
    is_transient,
    refuses_the_caller,
    retry_delay,
    status_and_code,
)
from aliconform.record.scenarios import Scenario, placeholders, resolve
from aliconform.record.target import RecordTarget, TargetError, is_loopback
from aliconform.sdk import sdk_invoke, sdk_versions
from aliconform.secrets import scan_secrets

__all__ = ["RecordRun", "ScenarioResult", "record_scenarios"]

Outcome = Literal["recorded", "checked", "skipped", "failed"]
Observer = Callable[[Scenario, str], None]


class RecordingFailed(AliconformError):
    """A scenario could not be recorded completely; its cassette is left untouched."""


@dataclass
class ScenarioResult:
    scenario: Scenario
    cassette: CassetteRef
    outcome: Outcome
    message: str = ""
    attempts: int = 0
    retries: int = 0
    states: list[str] = field(default_factory=list)
    behaviour: list[BehaviourChange] = field(default_factory=list)
    unset: list[str] = field(default_factory=list)  # the variables a skipped scenario lacked


@dataclass
class RecordRun:
    results: list[ScenarioResult]
    replay: ReplayRun  # the new recordings, replayed and checked against the contracts
    check_only: bool
    # What the calls went to, for titles: the endpoint given, or the region's endpoints.
    target: str = ""

    def with_outcome(self, *outcomes: Outcome) -> list[ScenarioResult]:
        return [r for r in self.results if r.outcome in outcomes]

    @property
    def behaviour(self) -> list[BehaviourChange]:
        return [change for result in self.results for change in result.behaviour]


@dataclass
class _Answer:
    body: dict[str, Any] | None  # the SDK's parsed body on success
    error: BaseException | None
    indices: range  # positions of this call's exchange in the recording


class _Session:
    """One scenario's calls: retries transient failures, remembers what to keep."""

    def __init__(
        self,
        contract: Contract,
        target: RecordTarget,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        note: Callable[[str], None],
    ) -> None:
        self.cassette: Any = None  # vcrpy's cassette, once the recording has begun
        self.contract = contract
        self.options = target.options_for(contract)
        self.policy = policy
        self.sleep = sleep
        self.note = note
        self.attempts = 0
        self.retries = 0
        self.kept: list[int] = []
        self.states: list[str] = []
        self.setup_action: str | None = None

    def call(self, action: str, params: dict[str, Any], *, creates: bool = False) -> _Answer:
        for attempt in range(1, self.policy.max_attempts + 1):
            self.attempts += 1
            self.note(f"calling {action}" + (f" (attempt {attempt})" if attempt > 1 else ""))
            mark = len(self.cassette.data)
            try:
                response = sdk_invoke(self.contract, action, params, self.options)
            except Exception as exc:
                retryable = is_refused_before_processing(exc) if creates else is_transient(exc)
                if not retryable and creates and is_transient(exc):
                    raise RecordingFailed(
                        f"{action} may or may not have created its task ({_brief(exc)}); "
                        "not sent again, so as not to start a second one"
                    ) from exc
                if not retryable:
                    return self._answer_or_raise(action, exc, mark)
                if attempt == self.policy.max_attempts:
                    raise RecordingFailed(
                        f"{action} still failing after {attempt} attempts: {_brief(exc)}"
                    ) from exc
                delay = retry_delay(exc, attempt, self.policy)
                self.note(f"{action}: {_brief(exc)}; retry {attempt} in {delay:.1f}s")
                self.retries += 1
                self.sleep(delay)
                continue
            body = response.body.to_map() if response.body is not None else {}
            return _Answer(body, None, range(mark, len(self.cassette.data)))
        raise AssertionError("unreachable: the loop returns or raises")

    def _answer_or_raise(self, action: str, exc: Exception, mark: int) -> _Answer:
        status, _ = status_and_code(exc)
        recorded = range(mark, len(self.cassette.data))
        if status is None or not recorded:
            raise RecordingFailed(f"{action}: {_brief(exc)}") from exc
        return _Answer(None, exc, recorded)

    def keep(self, answer: _Answer) -> None:
        self.kept.extend(answer.indices)


def _brief(exc: BaseException) -> str:
    """HTTP status, code and the service's own message: enough to act on, no traceback, and
    nothing secret (see _safe)."""
    status, code = status_and_code(exc)
    if code or status:
        message = str(getattr(exc, "message", "") or "")
        message = re.sub(r"^code: \d+, ", "", message.splitlines()[0] if message else "")
        message = re.sub(r" request id: .*$", "", message)
        head = f"HTTP {status} {code or ''}".strip()
        return f"{head}: {_safe(message)}" if message else head
    unopened = connection_not_opened(exc)
    if unopened is not None:  # the cause, which the SDK's own message cuts off
        return f"could not connect ({unopened}); nothing was sent"
    if any("SSL" in type(e).__name__ or "SSLError" in str(e) for e in error_chain(exc)):
        return "the TLS handshake failed: is the endpoint plain http? (give http://host:port)"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {_safe(text)}"


# A refused signature's message quotes the string the service signed: with V2, the AccessKeyId
# and every other parameter. Messages go into reports, so they stop before it.
_SIGNED_STRING = re.compile(r"(?i)\s*(server )?string to sign.*$")


def _safe(message: str) -> str:
    """A message fit for a report: the signed string cut off, signed-URL and V2 signing
    parameters scrubbed, at most 200 characters."""
    return scrub_text(_SIGNED_STRING.sub(" (string to sign omitted)", message))[:200]


def record_scenarios(
    scenarios: Iterable[Scenario],
    contracts: ContractSet,
    target: RecordTarget,
    cassettes: Path,
    *,
    check_only: bool = False,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    observe: Observer | None = None,
    environ: dict[str, str] | None = None,
    then: Callable[[RecordRun], None] | None = None,
) -> RecordRun:
    """Record every scenario; write cassettes in place unless check_only. Never raises for a
    scenario's own failure: it becomes a failed result and the run goes on.

    then(run) (the caller's reports) runs with the cassettes' promotion as one step: a stop
    (Ctrl-C, SIGTERM) received from the first cassette put in place on is acted on after it, so
    no cassette is replaced without the report that says what changed in it."""
    policy = policy or RetryPolicy()
    results: list[ScenarioResult] = []
    # Resolved, so that "." and ".." have a name: staged cassettes carry the same display path
    # (<name>/<product>/<Operation>/<scenario>.yaml) as the cassettes they would replace.
    cassettes = cassettes.resolve()
    with tempfile.TemporaryDirectory(prefix="aliconform-record-") as scratch:
        staging = Path(scratch) / "staged" / (cassettes.name or "cassettes")
        for scenario in scenarios:
            contract = contracts[scenario.operation]
            result = _run(
                scenario, contract, target, cassettes, staging, policy, sleep, observe, environ
            )
            results.append(result)
            if result.outcome == "skipped" and observe is not None:
                observe(scenario, result.message)  # counted: a complete run ends at [N/N]
        replay = replay_all(staging, contracts) if staging.is_dir() else ReplayRun()
        unplayable = {_in_staging(staging, p.path): p.message for p in replay.problems}
        for display in replay.stale_provenance:
            unplayable[_in_staging(staging, display)] = "provenance digest differs"
        leaks = _suspected_secrets(staging)
        replaced = _Replaced()
        with stops_held():
            withheld = _promote(results, staging, unplayable, leaks, check_only, replaced)
            # A recording withheld for a suspected secret is not checked either: a finding's
            # excerpt of its body would carry the secret into the reports.
            replay.interactions = [
                i for i in replay.interactions if _in_root(i.ref) not in withheld
            ]
            where = target.endpoint or f"the {target.region} endpoints"
            recorded = RecordRun(results, replay, check_only, where)
            if then is not None:
                try:
                    then(recorded)
                except BaseException as exc:
                    replaced.put_back()  # no cassette changes without its report
                    if isinstance(exc, AliconformError) and replaced.files:
                        raise AliconformError(f"{exc}; every cassette was left as it was") from exc
                    raise
    return recorded


@dataclass
class _Replaced:
    """What the promotion changed, to put back when the reports cannot be written: each file
    with its bytes before (None: it was not there), and the directories it made."""

    files: list[tuple[Path, bytes | None]] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)

    def keep(self, path: Path) -> None:
        self.files.append((path, path.read_bytes() if path.is_file() else None))

    def make_parents(self, path: Path) -> None:
        missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.made += missing

    def put_back(self) -> None:
        for path, data in reversed(self.files):
            if data is None:
                path.unlink(missing_ok=True)
                continue
            spare = path.with_name(f".{path.name}.restoring")
            spare.write_bytes(data)  # byte for byte (line endings, any encoding)
            spare.replace(path)
        for directory in sorted(self.made, key=lambda made: len(made.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty: something else is in it now
                directory.rmdir()


def _promote(
    results: list[ScenarioResult],
    staging: Path,
    unplayable: dict[str, str],
    leaks: dict[str, str],
    check_only: bool,
    replaced: _Replaced,
) -> set[str]:
    """Put each recording that replays and holds no suspected secret in place (compared with
    the previous one first); the cassettes withheld for a suspected secret. Each file it
    replaces is added to `replaced` with its text before (None: it was not there)."""
    withheld = set()
    for result in results:
        if result.outcome != "recorded":
            continue
        where = _in_root(result.cassette)
        problem = unplayable.get(where)
        if problem is not None:  # a recording that does not replay is never put in place
            result.outcome = "failed"
            result.message = (
                f"the new recording does not replay: {problem}; {_untouched(result.cassette)}"
            )
            continue
        leak = leaks.get(where)
        if leak is not None:  # scrubbing missed something: it never reaches a file
            withheld.add(where)
            result.outcome = "failed"
            result.message = (
                f"the new recording holds what looks like a secret ({leak}), which scrubbing "
                f"did not replace; {_untouched(result.cassette)}"
            )
            continue
        try:
            _compare_and_promote(result, staging, check_only, replaced)
        except (OSError, AliconformError) as exc:  # the cassettes changed under the run
            result.outcome = "failed"
            result.message = f"cannot write {result.cassette.shown}: {_brief(exc)}"
    return withheld


def _in_root(ref: CassetteRef) -> str:
    """<product>/<Operation>/<scenario>.yaml: the same for a staged cassette and its target."""
    return ref.path.relative_to(ref.root).as_posix() if ref.root else ref.path.as_posix()


def _in_staging(staging: Path, display: str) -> str:
    """A staged cassette's display path (<staging name>/...) as _in_root has it."""
    return display.removeprefix(f"{staging.name}/")


def _suspected_secrets(staging: Path) -> dict[str, str]:
    """The secret scan over the staged cassettes and their sidecars, as {<product>/<Operation>/
    <scenario>.yaml: "rule at line N of <file>; ..."}. Rules and lines only: a hit's preview is
    never repeated."""
    if not staging.is_dir():
        return {}
    leaks: dict[str, list[str]] = {}
    for hit in scan_secrets([staging], root=staging):
        cassette = hit.file.removesuffix(PROVENANCE_SUFFIX).removesuffix(".yaml") + ".yaml"
        leaks.setdefault(cassette, []).append(
            f"{hit.rule} at line {hit.line} of {PurePosixPath(hit.file).name}"
        )
    return {cassette: "; ".join(hits) for cassette, hits in leaks.items()}


def _run(
    scenario: Scenario,
    contract: Contract,
    target: RecordTarget,
    cassettes: Path,
    staging: Path,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    observe: Observer | None,
    environ: dict[str, str] | None,
) -> ScenarioResult:
    ref = _ref(cassettes, contract, scenario)
    result = ScenarioResult(scenario, ref, "skipped")
    missing = _missing_variables(scenario, environ)
    if missing:
        result.message = f"skipped: set {', '.join(missing)}"
        result.unset = missing
        return result

    def note(message: str) -> None:
        if observe is not None:
            observe(scenario, message)

    if target.endpoint is None and not target.serves(contract):
        # A region one product documents and the other does not (IMM has more): the scenarios
        # of the other are skipped, not failed; the ones that can run still run.
        result.message = (
            f"skipped: {contract.product} has no documented endpoint in region "
            f"'{target.region}' (give --endpoint to call one anyway)"
        )
        return result
    try:
        session = _Session(contract, target, policy, sleep, note)
    except TargetError as exc:  # an endpoint that cannot be used: the same for every scenario
        result.outcome = "failed"
        result.message = str(exc)
        return result
    try:
        cassette = _capture(scenario, session, note, environ)
        staged = _ref(staging, contract, scenario)
        write_cassette(staged.path, cassette, _provenance(scenario, contract, target, session))
        result.outcome = "recorded"
        result.message = f"{len(cassette.interactions)} interaction(s)"
    except AliconformError as exc:
        result.outcome = "failed"
        result.message = f"{exc}; {_untouched(ref)}"
    except Exception as exc:  # an SDK or network failure we did not foresee: still contained
        result.outcome = "failed"
        result.message = f"{_our_bug(exc) or _brief(exc)}; {_untouched(ref)}"
    finally:  # for a failed scenario too: "still failing after N attempts", "still Running"
        result.attempts, result.retries = session.attempts, session.retries
        result.states = session.states
    return result


def _our_bug(exc: Exception) -> str | None:
    """An assertion of aliconform's own that failed, named as the bug it is (the other
    scenarios still run); None for anything else, an assertion in the SDK included."""
    if not isinstance(exc, AssertionError):
        return None
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    if Path(__file__).parents[1] not in Path(frame.filename).resolve().parents:
        return None
    return (
        f"internal error (a bug in aliconform; please report it): assertion {frame.line!r} "
        f"failed at {Path(frame.filename).name}:{frame.lineno}"
    )


def _untouched(ref: CassetteRef) -> str:
    """What a failed scenario left, as the user can open it from the working directory."""
    if ref.path.exists():
        return f"{ref.shown} left as it was"
    return f"nothing written ({ref.shown} does not exist)"


def _ref(root: Path, contract: Contract, scenario: Scenario) -> CassetteRef:
    path = root / contract.product / contract.operation / f"{scenario.name}.yaml"
    return CassetteRef(path, contract.product, contract.operation, scenario.name, root)


def _missing_variables(scenario: Scenario, environ: dict[str, str] | None) -> list[str]:
    """The variables without a default that are unset (or empty), as resolve() treats them."""
    wanted = placeholders(scenario.params)
    if scenario.setup is not None:
        wanted += placeholders(scenario.setup.params)
    values = os.environ if environ is None else environ
    return [name for name in dict.fromkeys(wanted) if not values.get(name)]


def _capture(
    scenario: Scenario,
    session: _Session,
    note: Callable[[str], None],
    environ: dict[str, str] | None,
) -> CassetteFile:
    sleep = session.sleep
    with tempfile.TemporaryDirectory(prefix="aliconform-capture-") as scratch:
        recording = Path(scratch) / "cassette.yaml"
        recorder = rpc_vcr(
            record_mode="all",
            before_record_request=_calls_to(session.options.endpoint, session.options.protocol),
        )
        with recorder.use_cassette(str(recording)) as vcr_cassette:
            session.cassette = vcr_cassette
            captured = _setup(scenario, session, note, environ)
            resolved = resolve(scenario.params, captured, environ)
            if resolved.missing:  # never sent with a placeholder in it
                raise RecordingFailed(f"nothing to fill {', '.join(resolved.missing)} with")
            params = resolved.sent
            if scenario.poll is None:
                answer = session.call(scenario.operation, params)
                session.keep(answer)
                _expectation(scenario, answer)
            else:
                _poll(scenario, session, params, sleep, note)
        if not session.kept:
            raise RecordingFailed(f"{scenario.operation}: nothing was recorded")
        full = load_cassette(recording)
    kept = [full.interactions[i] for i in session.kept]
    return full.model_copy(update={"interactions": kept})


def _calls_to(endpoint: str, protocol: str) -> Callable[[Request], Request | None]:
    """The recording's before_record_request hook: only calls to the endpoint are recorded.
    Anything else the SDK sends meanwhile (the credential chain asking the instance metadata
    service or STS for credentials) is neither recorded nor kept, whatever its shape."""
    where = _host_and_port(f"//{endpoint}", protocol)

    def hook(request: Request) -> Request | None:
        if _host_and_port(request.uri, protocol) != where:
            return None
        return recordable(request)

    return hook


def _host_and_port(url: str, protocol: str) -> tuple[str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme or protocol
    return (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _setup(
    scenario: Scenario,
    session: _Session,
    note: Callable[[str], None],
    environ: dict[str, str] | None,
) -> dict[str, str]:
    setup = scenario.setup
    if setup is None:
        return {}
    session.setup_action = setup.action
    note(f"setting up with {setup.action}")
    resolved = resolve(setup.params, {}, environ)
    if resolved.missing:  # never sent with a placeholder in it (and never billed for it)
        raise RecordingFailed(
            f"setup {setup.action}: nothing to fill {', '.join(resolved.missing)} with"
        )
    answer = session.call(setup.action, resolved.sent, creates=True)
    if answer.error is not None or answer.body is None:
        raise RecordingFailed(f"setup {setup.action} failed: {_brief(answer.error or Exception())}")
    captured = {}
    for name, response_field in setup.capture.items():
        value = answer.body.get(response_field)
        if value in (None, ""):
            raise RecordingFailed(
                f"setup {setup.action} answered without {response_field} (to capture as {name})"
            )
        captured[name] = str(value)
    return captured


def _poll(
    scenario: Scenario,
    session: _Session,
    params: dict[str, Any],
    sleep: Callable[[float], None],
    note: Callable[[str], None],
) -> None:
    """Query until a terminal status, keeping the first answer of every status seen."""
    poll = scenario.poll
    assert poll is not None
    started = time.monotonic()
    deadline = started + poll.timeout
    waits = poll.waits()
    queries = 0
    while True:
        answer = session.call(scenario.operation, params)
        queries += 1
        _expectation(scenario, answer)  # the task vanished, or the call was refused
        assert answer.body is not None
        state = answer.body.get(poll.field)
        if not session.states or session.states[-1] != state:
            session.keep(answer)
            session.states.append(str(state))
        if not isinstance(state, str) or state in poll.terminal:
            # Terminal, or a shape the contract check reports: the scenarios check makes sure
            # the polled field is one the contract requires, so its absence is a finding.
            return
        now, delay = time.monotonic(), next(waits)
        if now + delay > deadline:
            # It gives up before a wait that would end past the timeout, so say what was done.
            raise RecordingFailed(
                f"{scenario.operation}: still {state} after {queries} "
                f"{'query' if queries == 1 else 'queries'} in {_seconds(now - started)}; the "
                f"next, {_seconds(delay)} later, would pass the poll timeout of "
                f"{_seconds(poll.timeout)}"
            )
        note(f"{poll.field} {state}; polling again in {_seconds(delay)}")
        sleep(delay)


def _seconds(value: float) -> str:
    """3.5s, 0.02s, 1800s: two decimals at most, none that are zero."""
    return f"{value:.2f}".rstrip("0").rstrip(".") + "s"


def _expectation(scenario: Scenario, answer: _Answer) -> None:
    """A scenario gets the kind of answer it declares, or it fails and writes nothing: a probe
    its error code, any other scenario a success (so that a typo in a task id, or credentials
    the service refuses, never replace a good cassette with an error)."""
    _, code = status_and_code(answer.error) if answer.error else (None, None)
    got = f"{code or 'an error'} ({_brief(answer.error)})" if answer.error else "a success"
    if scenario.expect_error is None and answer.error is not None:
        raise RecordingFailed(f"expected a success, the service answered {got}")
    if refuses_the_caller(code) and code != scenario.expect_error:
        raise RecordingFailed(f"the service refused the credentials or signature: {got}")
    if scenario.expect_error == "*" and answer.error is not None:
        return
    if scenario.expect_error is not None and code != scenario.expect_error:
        raise RecordingFailed(f"expected {scenario.expect_error}, the service answered {got}")


def _provenance(
    scenario: Scenario, contract: Contract, target: RecordTarget, session: _Session
) -> Provenance:
    host, _ = target.host_and_protocol(contract)
    description = scenario.description or scenario.name
    if session.setup_action:
        description += f" (set up with {session.setup_action}, not kept in the cassette)"
    return Provenance(
        origin="local" if is_loopback(host) else "live",
        operation=contract.operation,
        scenario=scenario.name,
        description=description,
        recorded_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        region=target.region,
        endpoint=host,
        signature=target.signature,
        sdk=sdk_versions(contract),
        interactions_sha256="",
    )


def _compare_and_promote(
    result: ScenarioResult,
    staging: Path,
    check_only: bool,
    replaced: _Replaced,
) -> None:
    ref = result.cassette
    staged = CassetteRef(
        staging / ref.path.relative_to(ref.root) if ref.root else ref.path,
        ref.product,
        ref.operation,
        ref.scenario,
        staging,
    )
    new = load_cassette(staged.path)
    previous = None
    if ref.path.is_file():
        try:
            previous = load_cassette(ref.path)
        except AliconformError:
            result.message += "; the previous cassette was unreadable, so nothing to compare"
    poll = result.scenario.poll
    result.behaviour = behaviour_diff(
        previous, new, ref.display, state_field=poll.field if poll else None
    )
    if check_only:
        result.outcome = "checked"
        return
    replaced.make_parents(ref.path)
    provenance = load_provenance(staged)
    if provenance is None:  # written by _run a moment ago; only a bug gets here
        raise RecordingFailed(f"{staged.display}: staged provenance is missing")
    for path in (ref.path, ref.provenance_path):
        replaced.keep(path)
    write_cassette(ref.path, new, provenance)
