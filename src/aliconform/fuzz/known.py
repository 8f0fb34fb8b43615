"""Tasks and jobs that exist, so that generated requests can reach success answers too.

A request with a generated TaskId only ever meets "not found". The scenarios file already says
how to name real tasks: a scenario with an existing id (from the environment), or one with a
setup call that creates a task. Each operation gets the identity parameters (ProjectName,
TaskType, TaskId, JobId: the contract's required parameters) of the scenarios that can be
resolved; a setup call is made only when allowed (always against the local twin; against a
live account only when asked, since it starts a billed task).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aliconform.contracts import Contract, ContractSet
from aliconform.fuzz.transport import Credentials
from aliconform.record.scenarios import Scenario, resolve
from aliconform.record.target import RecordTarget
from aliconform.sdk import SdkCallOptions, sdk_invoke

__all__ = ["KnownParameters", "identity_parameters", "known_parameters"]


@dataclass
class KnownParameters:
    """Per operation, parameter sets that name something that exists; notes say what was not
    usable and why."""

    by_operation: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def of(self, operation: str) -> list[dict[str, str]]:
        return self.by_operation.get(operation, [])


def identity_parameters(contracts: ContractSet, operation: str) -> set[str]:
    """The parameters that say which task is meant: the operation's required ones."""
    parameters = contracts[operation].request.parameters
    return {name for name, spec in parameters.items() if spec.required}


def known_parameters(
    scenarios: Iterable[Scenario],
    contracts: ContractSet,
    target: RecordTarget,
    *,
    environ: Mapping[str, str] | None = None,
    allow_setup: bool = False,
    credentials: Credentials | None = None,
    sleep: Callable[[float], None] = time.sleep,
    wait: bool = True,
    operations: Collection[str] | None = None,
) -> KnownParameters:
    """Resolve the success scenarios of the file into identity parameters per operation.

    A task a setup call created is polled as its scenario says until it has finished (unless
    wait is False: a service whose tasks finish at once), so that the queries that name it see
    its result, not only "running" (sleep waits between polls). Only the scenarios of
    `operations` (default: every operation) are used: no setup call and no poll for another."""
    known = KnownParameters()
    for scenario in scenarios:
        if scenario.expect_error is not None or scenario.operation not in contracts:
            continue
        if operations is not None and scenario.operation not in operations:
            continue
        if not target.serves(contracts[scenario.operation]):
            continue  # a region its product does not document: its operation is not run
        captured: dict[str, str] = {}
        if scenario.setup is not None:
            if not allow_setup:
                continue
            try:
                captured = _set_up(scenario, contracts, target, environ, credentials)
            except _SetupSkipped as skipped:
                known.notes.append(f"{scenario.operation}/{scenario.name}: {skipped}")
                continue
        resolved = resolve(scenario.params, captured, environ)
        if resolved.missing:
            known.notes.append(
                f"{scenario.operation}/{scenario.name}: needs {', '.join(resolved.missing)}"
            )
            continue
        if wait and scenario.setup is not None and scenario.poll is not None:
            options = _options(contracts[scenario.operation], target, credentials)
            unfinished = _wait_until_done(scenario, contracts, resolved.sent, options, sleep)
            if unfinished is not None:
                known.notes.append(f"{scenario.operation}/{scenario.name}: {unfinished}")
        wanted = identity_parameters(contracts, scenario.operation)
        chosen = {k: str(v) for k, v in resolved.sent.items() if k in wanted}
        if chosen and chosen not in known.of(scenario.operation):
            known.by_operation.setdefault(scenario.operation, []).append(chosen)
    return known


class _SetupSkipped(Exception):
    pass


def _set_up(
    scenario: Scenario,
    contracts: ContractSet,
    target: RecordTarget,
    environ: Mapping[str, str] | None,
    credentials: Credentials | None,
) -> dict[str, str]:
    setup = scenario.setup
    assert setup is not None
    resolved = resolve(setup.params, {}, environ)
    if resolved.missing:
        raise _SetupSkipped(f"setup needs {', '.join(resolved.missing)}")
    contract = contracts[scenario.operation]
    params: dict[str, Any] = {k: v for k, v in resolved.params.items() if v != ""}
    options = _options(contract, target, credentials)
    try:
        response = sdk_invoke(contract, setup.action, params, options)
    except Exception as exc:  # the SDK's own errors: report and go on without this scenario
        raise _SetupSkipped(f"setup {setup.action} failed: {_failure(exc)}") from None
    body = response.body.to_map() if response.body is not None else {}
    captured = {}
    for name, response_field in setup.capture.items():
        if response_field not in body:
            raise _SetupSkipped(f"setup {setup.action} answered without {response_field}")
        captured[name] = str(body[response_field])
    return captured


def _options(
    contract: Contract, target: RecordTarget, credentials: Credentials | None
) -> SdkCallOptions:
    options = target.options_for(contract)
    if credentials is None:
        return options
    # the same key the generated requests are signed with
    return replace(
        options,
        access_key_id=credentials.access_key_id,
        access_key_secret=credentials.access_key_secret,
        security_token=credentials.security_token,
    )


def _failure(exc: Exception) -> str:
    code = getattr(exc, "code", None)  # the error code only: messages may quote signatures
    return type(exc).__name__ + (f" {code}" if code else "")


def _wait_until_done(
    scenario: Scenario,
    contracts: ContractSet,
    params: Mapping[str, Any],
    options: SdkCallOptions,
    sleep: Callable[[float], None],
) -> str | None:
    """Query the task until its poll field holds a terminal value, waiting longer each time,
    as a recording does; None when it finished, else why the queries will see it unfinished."""
    poll = scenario.poll
    assert poll is not None
    contract = contracts[scenario.operation]
    waited, waits = 0.0, poll.waits()
    while True:
        try:
            response = sdk_invoke(contract, contract.operation, dict(params), options)
        except Exception as exc:  # judged by the fuzzing itself; here only a note
            return f"polling the task after its setup failed: {_failure(exc)}"
        body = response.body.to_map() if response.body is not None else {}
        state = body.get(poll.field)
        if not isinstance(state, str) or state in poll.terminal:
            return None
        delay = next(waits)
        if waited + delay > poll.timeout:
            return (
                f"{poll.field} was still {state} after {waited:g} s of polling: queries that name "
                "the task see it unfinished"
            )
        sleep(delay)
        waited += delay
