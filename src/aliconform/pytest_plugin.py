"""The pytest plugin (entry point `aliconform`): contract checks for your own tests.

Installing aliconform makes these available in every test suite:

* `aliconform_contracts` (session fixture): the loaded ContractSet, from `--aliconform-contracts
  =DIR`, else the `aliconform_contracts` ini option (relative to the ini file), else
  $ALICONFORM_CONTRACTS, contracts/ in the rootdir when it holds contracts, or the packaged copy.
* `aliconform_policy` (session fixture): the drift policy (severity overrides and waivers), from
  `--aliconform-policy=FILE`, else the `aliconform_policy` ini option (relative to the ini
  file), else `drift-policy.yaml` in the rootdir, else the one beside the contracts directory,
  else (for the shipped contracts) the policy shipped with them, as the command line finds it;
  none of these: no overrides, no waivers.
* `assert_conforms` (session fixture): `assert_conforms(operation, body, status=200,
  headers=None, *, fail_on=("breaking", "warning"), request=None)` runs the drift engine,
  applies the drift policy, and raises AssertionError listing every finding when one that no
  waiver accepts has a failing severity; it returns the findings otherwise (info findings and
  waived ones included, with the policy's severities).
* `@pytest.mark.aliconform_cassette(path)`: the test runs with the vcrpy cassette at path
  (relative to the rootdir) replayed with aliconform's RPC matchers, record mode none (every
  HTTP request answered from it or refused), other connections, datagrams and name lookups
  blocked except to loopback; your code calling the official SDK receives the recorded
  response. The `aliconform_cassette` fixture is the vcrpy Cassette (None without the marker).
* A failing test's text, locals included, has the credentials in the environment and key and
  signed-URL secrets replaced (aliconform.cassettes.scrub), as every report does.

hypothesis strategies are not here, so that the plugin loads without hypothesis: import them
from aliconform.strategies. Nothing heavy is imported until a fixture is used, or a test fails
or captures output (which is scrubbed).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aliconform import _session
from aliconform.errors import AliconformError, did_you_mean, error_chain

if TYPE_CHECKING:
    from aliconform.contracts import ContractSet
    from aliconform.drift import Finding, Severity
    from aliconform.drift.engine import Body
    from aliconform.drift.waivers import DriftPolicy, Verdict

__all__ = [
    "DEFAULT_FAIL_ON",
    "MARKER",
    "AssertConforms",
    "aliconform_cassette",
    "aliconform_contracts",
    "aliconform_policy",
    "assert_conforms",
    "contracts_dir",
]

MARKER = "aliconform_cassette"
OPTION = "aliconform_contracts"
POLICY_OPTION = "aliconform_policy"
#: The severities assert_conforms fails on unless told otherwise.
DEFAULT_FAIL_ON: tuple[str, ...] = ("breaking", "warning")
_PLAYBACK_OPTIONS = ("allow_playback_repeats",)
_SUGGESTION_LIMIT = 2000  # cassette files looked at for a did-you-mean


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aliconform", "aliconform contract checks")
    group.addoption(
        "--aliconform-contracts",
        dest=OPTION,
        metavar="DIR",
        default=None,
        help="contracts directory for the aliconform_contracts fixture; write it as "
        "--aliconform-contracts=DIR (default: the aliconform_contracts ini option, else "
        "$ALICONFORM_CONTRACTS, contracts/ in the rootdir, or the contracts shipped with "
        "aliconform)",
    )
    parser.addini(
        OPTION,
        "contracts directory for the aliconform_contracts fixture, relative to the ini file",
        default="",
    )
    group.addoption(
        "--aliconform-policy",
        dest=POLICY_OPTION,
        metavar="FILE",
        default=None,
        help="drift policy (severity overrides, waivers) assert_conforms applies; write it as "
        "--aliconform-policy=FILE (default: the aliconform_policy ini option, else "
        "drift-policy.yaml in the rootdir if present)",
    )
    parser.addini(
        POLICY_OPTION,
        "drift policy file assert_conforms applies, relative to the ini file",
        default="",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Strategies built at import time read the contracts this session's fixtures use: from
    # here on, since the first conftest.py files are imported next, before pytest_configure.
    _session.contracts_dir = functools.partial(contracts_dir, early_config)


def pytest_configure(config: pytest.Config) -> None:
    _session.contracts_dir = functools.partial(contracts_dir, config)
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path, allow_playback_repeats=False): replay the vcrpy cassette at path "
        "(relative to the rootdir) with aliconform's RPC matchers while the test runs; record "
        "mode none, network blocked except loopback",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    _session.contracts_dir = None


# vcrpy's own advice for a request the cassette lacks is a record mode, which the marker does
# not take: it replays only. Said beside vcrpy's message, where the test fails, chosen by why
# the request was not answered.
_MARKER_NEVER_RECORDS = (
    f"@pytest.mark.{MARKER} replays only and takes no record mode. To add the missing "
    "request, record it once outside the marker, with aliconform's matchers and scrubbing: "
    "`with aliconform.cassettes.rpc_vcr(record_mode='new_episodes').use_cassette(path): ...`, "
    "or re-record the cassette with `aliconform record`."
)
_ALREADY_PLAYED = (
    "The cassette holds this request, and it was already answered once: each recorded "
    "interaction is played once. A test that makes the same call again needs "
    f"`@pytest.mark.{MARKER}(path, allow_playback_repeats=True)`."
)
_NOTHING_SIMILAR = (
    f"Nothing in the cassette resembles this request. In a test marked {MARKER}, every HTTP "
    "request (to loopback too) is answered from the cassette or refused: a call to an action "
    "the cassette never recorded, or a request that is no RPC call to a method and URL it "
    "never recorded, fails here. " + _MARKER_NEVER_RECORDS
)

_CREDENTIALS_FETCHED = (
    "This request fetches credentials: the SDK's default credential chain asking the instance "
    "metadata service, STS or a credentials URI. A replay never sends it. Give the test static "
    "credentials, so that the chain needs no exchange: monkeypatch.setenv() "
    "ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET to placeholders (matching "
    "ignores the key and the signature)."
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    miss = _replay_miss_in(call.excinfo.value) if call.excinfo is not None else None
    if miss is not None and call.excinfo is not None:
        # Before the report is made from it: vcrpy's message quotes the request as sent, V2
        # credentials and signature included (the marker's tests and rpc_vcr's alike).
        from aliconform.cassettes.scrub import scrub_replay_miss

        scrub_replay_miss(call.excinfo.value)
    report = yield
    if miss is not None and item.get_closest_marker(MARKER) is not None:
        report.sections.append(("aliconform", _hint(miss)))
    if (report.failed and report.longrepr is not None) or report.sections:
        _scrub_failure(report)  # what -rP shows of a passing test's output too
    return report


# What the official SDK's default credential chain reads first, and what a live run sets: with
# --showlocals (or -l), a failure inside a call shows the SDK's signing frames, their values.
_CREDENTIAL_VARIABLES = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # A module that fails at import (a client built from the environment, say) is shown as
    # a test's failure is: its traceback and summary line quote the same values.
    report = yield
    if report.failed and report.longrepr is not None:
        _scrub_failure(report)
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # Live logging (log_cli) writes each record as it is made, before any report exists: vcrpy
    # logs a request's URI at debug level, a V2 call's key id, token and signature in it.
    # So does a log file (--log-file), written as the records come.
    plugin = session.config.pluginmanager.get_plugin("logging-plugin")
    handlers = [getattr(plugin, "log_cli_handler", None)]
    if session.config.getoption("log_file", None) or session.config.getini("log_file"):
        handlers.append(getattr(plugin, "log_file_handler", None))
    for handler in handlers:
        if isinstance(handler, logging.Handler):
            handler.addFilter(_scrub_live_record)


def _scrub_live_record(record: logging.LogRecord) -> bool:
    """A log record's message as a failure's report is scrubbed (the record keeps going)."""
    from aliconform.cassettes.scrub import scrub_text, scrubbing_known_secrets

    message = record.getMessage()
    secrets = _environment_secrets()
    with scrubbing_known_secrets(*secrets):
        scrubbed = _without_named_secrets(_without_fragments(scrub_text(message), secrets))
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    return True


def _environment_secrets() -> list[str]:
    return [value for name in _CREDENTIAL_VARIABLES if (value := os.environ.get(name))]


def _scrub_failure(report: pytest.TestReport | pytest.CollectReport) -> None:
    """A failure as the reports are kept: the credentials in the environment (whole, or the ends
    pytest keeps of a long value it shortens), signed-URL secrets and key shapes replaced, in
    the traceback, its locals, its summary line and the output the test printed. Every text is
    replaced where it stands, so pytest's report keeps its shape (file:line, the short summary's
    error)."""
    from aliconform.cassettes.scrub import scrub_text, scrubbing_known_secrets

    secrets = _environment_secrets()

    def scrub(text: str) -> str:
        return _without_fragments(scrub_text(text), secrets)

    with scrubbing_known_secrets(*secrets):
        report.longrepr = _scrubbed(report.longrepr, scrub)
        _redact_named_values(report.longrepr)
        # pytest's text of an ImportError at collection (a CollectErrorRepr around a str, or
        # the str): no structure tells source lines from values, so named values go anywhere.
        if isinstance(report.longrepr, str):
            report.longrepr = _without_named_secrets(report.longrepr)
        elif isinstance(text := getattr(report.longrepr, "longrepr", None), str):
            report.longrepr.longrepr = _without_named_secrets(scrub(text))  # type: ignore[union-attr]
        report.sections = [
            (title, _without_named_secrets(scrub(content))) for title, content in report.sections
        ]


# A Python value shown under a credential's name, wherever the credential came from (a
# credentials file, another variable, a literal): a local (`secret = '...'`, as --showlocals
# prints the SDK's signing frames), a keyword in a repr (`access_key_secret='...'`) or a dict key
# (`'AccessKeySecret': '...'`). Only a quoted text is replaced: None and numbers say nothing.
_CREDENTIAL_NAME = r"[A-Za-z_]*(?:secret|token|passw(?:or)?d|signature)[A-Za-z_]*"
_NAMED_SECRET = re.compile(
    rf"(?P<head>(?:^|(?<=[\s(,]))(?P<name>{_CREDENTIAL_NAME})\s*=\s*"
    rf"|(?P<key>'{_CREDENTIAL_NAME}'|\"{_CREDENTIAL_NAME}\")\s*:\s*)"
    # a text, or bytes: b'...', bytearray(b'...')
    r"(?P<value>bytearray\([bB]?(?:'[^'\n]+'|\"[^\"\n]+\")\)|[bB]?(?:'[^'\n]+'|\"[^\"\n]+\"))",
    re.IGNORECASE | re.MULTILINE,
)
# Names with "token" in them that are no credential, whole: a position (NextToken pages Alibaba
# Cloud's list calls), a tokenizer, a count or limit of tokens. Their values stay, for a diff
# of them to be read; a name that also says secret, password or signature is still one.
_NOT_A_CREDENTIAL = re.compile(
    r"[a-z_]*(?:(?:next|page|continuation|resume|start)_?token|tokeni[sz](?:er|e|ed|ation)s?"
    r"|(?:max|min|num|total|n)_?tokens|tokens?_?(?:count|type|len|length|limit)s?)",
    re.IGNORECASE,
)
_STILL_A_CREDENTIAL = re.compile(r"secret|passw|signature", re.IGNORECASE)
# What a credential's name has in it: a text without any of these has no named secret, and is
# not searched (a test's captured output can be megabytes).
_CREDENTIAL_WORDS = ("secret", "token", "passw", "signature")


def _is_credential_name(name: str) -> bool:
    name = name.strip("'\"")
    return not _NOT_A_CREDENTIAL.fullmatch(name) or bool(_STILL_A_CREDENTIAL.search(name))


def _without_named_secrets(text: str) -> str:
    lowered = text.lower()
    if not any(word in lowered for word in _CREDENTIAL_WORDS):
        return text
    return _NAMED_SECRET.sub(
        lambda m: f"{m['head']}'***'" if _is_credential_name(m["name"] or m["key"]) else m[0],
        text,
    )


def _redact_named_values(value: Any) -> None:
    """Values shown under a credential's name, in pytest's failure representation: the locals
    (ReprLocals), a frame's arguments (ReprFuncArgs: name and value apart) and the error lines
    (`E ...`). The source lines shown stay as written: they are the file, not a value."""
    kind = type(value).__name__
    if kind == "ReprLocals":
        value.lines = [_without_named_secrets(line) for line in value.lines]
    elif kind == "ReprFuncArgs":
        value.args = [
            (
                name,
                "'***'"
                if _CREDENTIAL_ARGUMENT.fullmatch(name) and _is_credential_name(name)
                else _without_named(shown),
            )
            for name, shown in value.args
        ]
    elif kind == "ReprEntry":
        value.lines = [
            _without_named_secrets(line) if line.startswith("E ") else line for line in value.lines
        ]
    if isinstance(value, list | tuple):
        for item in value:
            _redact_named_values(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for attribute in dataclasses.fields(value):
            _redact_named_values(getattr(value, attribute.name))


_CREDENTIAL_ARGUMENT = re.compile(_CREDENTIAL_NAME, re.IGNORECASE)


def _without_named(shown: object) -> object:
    return _without_named_secrets(shown) if isinstance(shown, str) else shown


# A run of characters a credential is made of: a part of a secret pytest kept when it shortened
# the value ('Zk3mN9pQ2rS5...1xY4zA7bC0dEf') is one such run.
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{8,}")


def _without_fragments(text: str, secrets: list[str]) -> str:
    """Runs of 8 or more characters that are part of a known secret, replaced."""
    long_enough = [secret for secret in secrets if len(secret) >= 12]
    if not long_enough:
        return text
    return _TOKEN.sub(
        lambda m: "***" if any(m[0] in secret for secret in long_enough) else m[0], text
    )


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """value with every text in it scrubbed: pytest's failure representation is dataclasses of
    texts, lists and tuples (ReprEntry lines, ReprLocals, ReprFileLocation message, sections)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrubbed(item, scrub) for item in value]
    if isinstance(value, tuple):
        return tuple(_scrubbed(item, scrub) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for attribute in dataclasses.fields(value):
            setattr(value, attribute.name, _scrubbed(getattr(value, attribute.name), scrub))
    return value


def _replay_miss_in(error: BaseException) -> BaseException | None:
    """vcrpy's refusal, whether it is the error or behind it (the SDK wraps it, unchained, in
    `inner_exception`)."""
    return next(
        (
            e
            for e in error_chain(error)
            if type(e).__name__ == "CannotOverwriteExistingCassetteException"
        ),
        None,
    )


def _hint(miss: BaseException) -> str:
    """The advice for why vcrpy could not answer: vcrpy 8+ says why (`reason`); for earlier
    ones it is worked out as vcrpy does, from the nearest recorded requests."""
    from aliconform.cassettes.scrub import is_credential_exchange

    request = getattr(miss, "failed_request", None)
    if request is not None and is_credential_exchange(request):
        return _CREDENTIALS_FETCHED
    reason = getattr(miss, "reason", None)
    if reason is None:
        cassette = getattr(miss, "cassette", None)
        similar = cassette.find_requests_with_most_matches(request) if cassette else []
        reason = "no_match" if similar else "nothing_similar"
        if similar and not similar[0][2]:
            reason = "already_played"
    if reason == "already_played":
        return _ALREADY_PLAYED
    if reason == "nothing_similar":
        return _NOTHING_SIMILAR
    return _MARKER_NEVER_RECORDS


def contracts_dir(config: pytest.Config) -> Path:
    """The contracts directory the options name, else the default as seen from the rootdir
    (never from wherever pytest happens to be run)."""
    from aliconform.contracts import default_contracts_dir

    return _configured_path(config, OPTION) or default_contracts_dir(config.rootpath)


def policy_file(config: pytest.Config) -> Path | None:
    """The drift policy file the options name, else drift-policy.yaml in the rootdir if it
    exists; None for no policy."""
    from aliconform.drift.waivers import DEFAULT_POLICY_FILE

    named = _configured_path(config, POLICY_OPTION)
    if named is not None:
        return named
    default = config.rootpath / DEFAULT_POLICY_FILE
    return default if default.is_file() else None


def _configured_path(config: pytest.Config, option: str) -> Path | None:
    """A path from the command line (relative to where pytest runs) or the ini file (relative
    to that file); None when neither names one."""
    # Before the command line is fully parsed (the first conftest.py files), only the options
    # pytest already knows are read: this plugin's are among them.
    given = getattr(config.option, option, None) or getattr(
        config.known_args_namespace, option, None
    )
    if given:
        return config.invocation_params.dir / Path(given).expanduser()
    configured = config.getini(option) or ""
    if not isinstance(configured, str):  # a TOML list, say: one path is what it takes
        raise pytest.UsageError(
            f"{config.inipath}: {option} names one path, not {type(configured).__name__} "
            f"{configured!r}"
        )
    if configured:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return base / Path(configured).expanduser()
    return None


@pytest.fixture(scope="session")
def aliconform_contracts(pytestconfig: pytest.Config) -> ContractSet:
    """The contracts assert_conforms checks against (see --aliconform-contracts)."""
    from aliconform.contracts import load_contracts

    try:
        return load_contracts(contracts_dir(pytestconfig))
    except AliconformError as exc:
        problem = str(exc)
    # Outside the except block: pytest would otherwise show the error twice, chained.
    pytest.fail(
        f"aliconform could not load the contracts ({_contracts_named_by(pytestconfig)}):\n"
        f"{problem}",
        pytrace=False,
    )


def _contracts_named_by(config: pytest.Config) -> str:
    """Which setting chose the contracts directory, for an error about it."""
    from aliconform.contracts.loader import ENV_CONTRACTS

    if config.getoption(OPTION):
        return "named by --aliconform-contracts"
    if config.getini(OPTION):
        return f"named by the {OPTION} ini option in {config.inipath}"
    if os.environ.get(ENV_CONTRACTS):
        return f"named by ${ENV_CONTRACTS}, relative to the working directory"
    return "the default"


@pytest.fixture(scope="session")
def aliconform_policy(
    pytestconfig: pytest.Config, aliconform_contracts: ContractSet
) -> DriftPolicy:
    """The drift policy assert_conforms applies (see --aliconform-policy)."""
    from aliconform.drift.waivers import DriftPolicy, load_policy, policy_beside

    path = policy_file(pytestconfig)
    if path is None and aliconform_contracts.root is not None:
        # as the command line does: the project's beside its contracts, or the shipped one
        path = policy_beside(Path(aliconform_contracts.root))
    if path is None:
        return DriftPolicy()
    try:
        return load_policy(path, operations=aliconform_contracts)
    except (AliconformError, OSError) as exc:
        problem = str(exc)
    pytest.fail(f"aliconform could not load the drift policy {path}:\n{problem}", pytrace=False)


class AssertConforms:
    """What the assert_conforms fixture gives: the drift engine as an assertion."""

    def __init__(self, contracts: ContractSet, policy: DriftPolicy | None = None) -> None:
        self.contracts = contracts
        self.policy = policy

    def __call__(
        self,
        operation: str,
        body: Body,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        *,
        fail_on: str | Iterable[str] = DEFAULT_FAIL_ON,
        request: Mapping[str, Any] | object | None = None,
    ) -> list[Finding]:
        """Check one response (bytes, str or parsed JSON) against the operation's contract.

        Raises AssertionError, listing every finding, when one that the drift policy does not
        waive is at least as severe as fail_on ("breaking", "warning", "info", or "never"; of
        several, the least severe counts, so {"breaking", "warning"} is "warning"); returns all the
        findings otherwise, with the policy's severities. request (the parameters sent, by the
        API's names, or the official SDK's request model) also checks what the response echoes.
        An operation without a contract raises UnknownOperationError."""
        __tracebackhide__ = True
        from aliconform.drift import check_response
        from aliconform.drift.waivers import DriftPolicy, judge

        failing = _severities(fail_on)
        if callable(getattr(body, "to_map", None)):
            # An SDK model: a usage mistake, not drift. Its to_map() keeps only the fields the
            # SDK knows, so an added field (drift) would go unseen: the raw body is what to check.
            raise TypeError(
                f"assert_conforms: the body is a {type(body).__name__} (an official SDK model); "
                "pass the response's raw body (bytes, text or json.loads of it). "
                ".to_map() would do, but it drops every field the SDK does not know, "
                "and with them the drift"
            )
        policy = self.policy or DriftPolicy()
        findings = policy.severity_policy().apply(
            check_response(
                operation, body, status, headers, contracts=self.contracts, request=request
            )
        )
        verdict = judge(findings, policy, operations=[operation])
        if any(finding.severity in failing for finding in verdict.new):
            raise AssertionError(_describe(operation, status, findings, verdict, failing))
        return findings


@pytest.fixture(scope="session")
def assert_conforms(
    aliconform_contracts: ContractSet, aliconform_policy: DriftPolicy
) -> AssertConforms:
    """assert_conforms(operation, body, status=200, headers=None, *, fail_on=..., request=None)."""
    return AssertConforms(aliconform_contracts, aliconform_policy)


def _severities(fail_on: str | Iterable[str]) -> frozenset[Severity]:
    from aliconform.drift import Severity

    if not isinstance(fail_on, str | Iterable):
        raise TypeError(
            f'fail_on: {fail_on!r} is not a severity; give one ("breaking"), several, or '
            '"never" to fail on nothing'
        )
    names = [fail_on] if isinstance(fail_on, str) else [str(name) for name in fail_on]
    if not names:  # an empty set would fail on nothing, which must be asked for by name
        raise ValueError('fail_on: no severity given; to fail on nothing, say "never"')
    known = [severity.value for severity in Severity]
    for name in names:
        if name not in [*known, "never"]:
            raise ValueError(
                f"fail_on: no severity '{name}'{did_you_mean(name, [*known, 'never'])}; "
                f"the severities are {', '.join(known)} (or never)"
            )
    # A threshold, as report diff's --fail-on: the least severe named and everything worse. A
    # set that named "warning" alone must not let breaking drift pass.
    named = [Severity(name) for name in names if name != "never"]
    if not named:
        return frozenset()
    least = min(severity.rank for severity in named)
    return frozenset(severity for severity in Severity if severity.rank >= least)


def _describe(
    operation: str,
    status: int,
    findings: list[Finding],
    verdict: Verdict,
    failing: frozenset[Severity],
) -> str:
    """Every finding, marked x when it fails the assertion, - when it does not, and w when a
    waiver accepts it (naming the waiver); an expired waiver that would match says so."""
    count = sum(1 for finding in verdict.new if finding.severity in failing)
    severities = " or ".join(s.value for s in sorted(failing, key=lambda s: -s.rank))
    waived = f", {len(verdict.waived)} waived" if verdict.waived else ""
    lines = [
        f"{operation} (HTTP {status}) does not conform to its contract: "
        f"{len(findings)} finding{'s' if len(findings) != 1 else ''}, "
        f"{count} {severities}{waived}"
    ]
    from aliconform.cassettes.scrub import scrub_finding

    for finding in findings:
        where = f" [{finding.contract_location}]" if finding.contract_location else ""
        shown = scrub_finding(finding)  # a test log is kept as a report is: no credential in it
        waiver = next((w for judged, w in verdict.waived if judged == finding), None)
        if waiver is not None:
            lines.append(f"  w {shown}{where} (waived by {waiver.id})")
            continue
        mark = "x" if finding.severity in failing else "-"
        lapsed = verdict.lapsed(finding)
        note = f" (waiver {lapsed.id} expired on {lapsed.expires})" if lapsed else ""
        lines.append(f"  {mark} {shown}{where}{note}")
    return "\n".join(lines)


# --- replaying a cassette -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def aliconform_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The vcrpy Cassette the test's aliconform_cassette marker replays, or None."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        yield None
        return
    path, options = _marker_arguments(marker, request.config.rootpath)
    from aliconform.cassettes import block_network, load_cassette, rpc_vcr

    problem = None
    try:
        load_cassette(path)
    except AliconformError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"@pytest.mark.{MARKER}: {problem}", pytrace=False)
    recorder = rpc_vcr(record_mode="none")
    with (
        recorder.use_cassette(str(path), **options) as cassette,
        block_network(allow_loopback=True),
    ):
        yield cassette


def _marker_arguments(marker: pytest.Mark, root: Path) -> tuple[Path, dict[str, Any]]:
    usage = f"@pytest.mark.{MARKER}(path, allow_playback_repeats=False)"
    if len(marker.args) != 1 or not isinstance(marker.args[0], str | os.PathLike):
        pytest.fail(f"{usage} takes one cassette path, not {marker.args!r}", pytrace=False)
    unknown = sorted(set(marker.kwargs) - set(_PLAYBACK_OPTIONS))
    if unknown:
        pytest.fail(
            f"{usage}: no option {', '.join(unknown)}{did_you_mean(unknown[0], _PLAYBACK_OPTIONS)}",
            pytrace=False,
        )
    given = Path(marker.args[0]).expanduser()
    path = given if given.is_absolute() else root / given
    if path.is_dir():
        pytest.fail(
            f"@pytest.mark.{MARKER}: {given} is a directory ({path}); name one cassette file "
            "in it, <scenario>.yaml",
            pytrace=False,
        )
    if not path.is_file():
        pytest.fail(
            f"@pytest.mark.{MARKER}: no cassette at {given} (looked at {path})"
            f"{_nearest_cassette(path, root)}",
            pytrace=False,
        )
    return path, dict(marker.kwargs)


def _nearest_cassette(path: Path, root: Path) -> str:
    """' (did you mean ...?)' naming a cassette near the missing path, or ''."""
    # Resolved first: "../x.yaml" is lexically inside the rootdir, and would search its parent.
    path, root = path.resolve(), root.resolve()
    directory = path.parent
    while not directory.is_dir():
        directory = directory.parent
    if directory == root or not directory.is_relative_to(root):
        return ""  # the whole tree is not searched
    found = (
        file for file in directory.rglob("*.yaml") if not file.name.endswith(".provenance.yaml")
    )
    names = [
        file.relative_to(root).as_posix() for file in itertools.islice(found, _SUGGESTION_LIMIT)
    ]
    return did_you_mean(path.relative_to(root).as_posix(), names)
