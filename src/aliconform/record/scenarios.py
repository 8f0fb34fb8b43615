"""Recording scenarios: what `aliconform record` calls for each operation, declared in YAML.

A scenario is one cassette. It calls one query operation with parameters that are literal
values, environment variables (`${NAME}`, `${NAME:-default}`) or values captured from a setup
call (`${setup.TaskId}`). An optional setup step creates the task or job first; an optional
poll repeats the query with backoff until the status field reaches a terminal value, keeping
one interaction for every state seen on the way. A scenario with `expect_error` is an error
probe: it needs no setup and records the error it provokes (a code, or `*` for any error, when
the documentation does not say which).

Environment variables keep account details (projects, media URIs, task ids) out of the file:
a scenario whose variables are unset is skipped with the names it needs, never failed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from aliconform.contracts import Contract, ContractSet
from aliconform.contracts.loader import validate_document
from aliconform.contracts.yamlsource import YamlDocument, read_yaml
from aliconform.drift.engine import compiled
from aliconform.errors import AliconformError, ContractIssue, did_you_mean
from aliconform.record.retry import refuses_the_caller

__all__ = [
    "PollSpec",
    "Resolved",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "SetupSpec",
    "default_scenarios_file",
    "load_scenarios",
    "resolve",
]

_PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?::-(?P<default>[^}]*))?\}")
_DURATION = re.compile(r"^(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s|m)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}
# The same texts, more than zero, as a pattern JavaScript compiles too (editors' schema checks).
_DURATION_FOR_EDITORS = r"^(?!0+(?:\.0+)?(?:ms|s|m)?$)\d+(?:\.\d+)?(?:ms|s|m)?$"


class ScenarioError(AliconformError):
    """The scenarios file cannot be used; names the file, line and key."""

    def __init__(self, issues: list[ContractIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in issues))


def _seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):  # refused as a value error: pydantic names the key and line
        raise ValueError(f"{value!r} is not a duration (examples: 500ms, 5s, 2m)")
    match = _DURATION.match(value)
    if match is None:
        raise ValueError(f"'{value}' is not a duration (examples: 500ms, 5s, 2m)")
    return float(match["value"]) * _UNITS[match["unit"]]


# Seconds, or a text with a unit ("500ms", "5s", "30m"); the schema says so for editors.
Duration = Annotated[
    float,
    BeforeValidator(_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION_FOR_EDITORS},
            ]
        }
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PollSpec(_Model):
    """Repeat the query until `field` holds one of `terminal`, waiting longer each time."""

    field: str = Field(description="Top-level response field holding the status")
    terminal: list[str] = Field(min_length=1, description="Status values that end the polling")
    interval: Duration = Field(2.0, gt=0, description="First wait between polls (seconds or 5s)")
    max_interval: Duration = Field(30.0, gt=0, description="Longest wait between polls")
    timeout: Duration = Field(1800.0, gt=0, description="Give up after this long")

    def waits(self) -> Iterator[float]:
        """The waits between polls: the interval, doubled after each, up to max_interval."""
        delay = self.interval
        while True:
            yield delay
            delay = min(delay * 2, self.max_interval)


class SetupSpec(_Model):
    """A create or submit call made before the query; its response feeds the query."""

    action: str
    params: dict[str, str | dict[str, str]] = Field(default_factory=dict)
    capture: dict[str, str] = Field(
        default_factory=dict, description="Name -> top-level field of the setup response"
    )


class Scenario(_Model):
    # What _one_answer_or_a_poll refuses, said in the JSON Schema too, for editors.
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["expect_error", "poll"]}})

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        # Its cassette, provenance and temporary files must fit a file name (255 bytes).
        max_length=100,
        description="The cassette's file name (doc-* names are the documentation's cassettes)",
    )
    operation: str
    description: str = ""
    setup: SetupSpec | None = None
    params: dict[str, str] = Field(default_factory=dict)
    poll: PollSpec | None = None
    expect_error: str | None = Field(
        None,
        description="The error code this probe is expected to provoke; '*' for any error",
    )

    @field_validator("name")
    @classmethod
    def _not_a_documentation_name(cls, name: str) -> str:
        if name.startswith("doc-"):
            raise ValueError(
                f"{name!r}: doc-* names belong to the cassettes derived from the documentation's "
                "examples (aliconform cassettes derive); a recording must not replace one"
            )
        return name

    @model_validator(mode="after")
    def _one_answer_or_a_poll(self) -> Scenario:
        if self.poll is not None and self.expect_error is not None:
            raise ValueError(
                "expect_error and poll cannot go together: a scenario that expects an error "
                "keeps the one error answer, and there is no status to poll; drop one of them"
            )
        return self


class ScenarioFile(_Model):
    format_version: Literal[1] = 1
    scenarios: list[Scenario] = Field(min_length=1)


#: The scenarios shipped inside the installed package (a checkout has them at its root).
PACKAGED_SCENARIOS_FILE = Path(__file__).resolve().parents[1] / "_scenarios.yaml"


def default_scenarios_file() -> Path:
    """./scenarios.yaml when there is one, else the shipped copy: the same scenarios, reading
    every account detail from the environment."""
    local = Path("scenarios.yaml")
    if local.is_file():
        return local
    for candidate in (PACKAGED_SCENARIOS_FILE, Path(__file__).resolve().parents[3] / local):
        if candidate.is_file():
            return candidate
    return local


def is_shipped_scenarios(path: Path) -> bool:
    """Whether path holds the scenarios aliconform ships (the installed copy, a checkout's,
    or a copy `scenarios init` made and nobody edited), rather than ones a project wrote."""
    shipped = (PACKAGED_SCENARIOS_FILE, Path(__file__).resolve().parents[3] / "scenarios.yaml")
    if not path.is_file():
        return False

    def text(of: Path) -> bytes:  # as checked out on any system
        return of.read_bytes().replace(b"\r\n", b"\n")

    wanted = text(path)
    return any(candidate.is_file() and text(candidate) == wanted for candidate in shipped)


def load_scenarios(path: Path, contracts: ContractSet) -> list[Scenario]:
    """The scenarios of a file, checked against the contracts (operations, parameters).

    The shipped file has scenarios for every operation aliconform knows; with contracts for
    only some of them, the others' scenarios are left out. A project's own file is held to
    its contracts: an operation it names that they lack is an error (a typo, most often)."""
    document = read_yaml(path)
    if isinstance(document, ContractIssue):
        raise ScenarioError([document])
    loaded = validate_document(ScenarioFile, document)
    if isinstance(loaded, list):
        raise ScenarioError(loaded)
    shipped = is_shipped_scenarios(path)
    issues = _cross_check(loaded, contracts, document, skip_uncontracted=shipped)
    if issues:
        raise ScenarioError(issues)
    return [scenario for scenario in loaded.scenarios if scenario.operation in contracts]


def _cross_check(
    loaded: ScenarioFile,
    contracts: ContractSet,
    document: YamlDocument,
    *,
    skip_uncontracted: bool = False,
) -> list[ContractIssue]:
    issues = []
    seen: set[tuple[str, str]] = set()

    def issue(index: int, key: str, message: str) -> None:
        path: tuple[str | int, ...] = ("scenarios", index, *key.split(".")[1:])
        issues.append(document.issue(path, message))

    for index, scenario in enumerate(loaded.scenarios):
        if scenario.operation not in contracts:
            if skip_uncontracted:
                continue
            hint = did_you_mean(scenario.operation, contracts)
            issue(index, ".operation", f"no contract for '{scenario.operation}'{hint}")
            continue
        if (scenario.operation, scenario.name) in seen:
            issue(index, ".name", f"'{scenario.name}' is used twice for {scenario.operation}")
        seen.add((scenario.operation, scenario.name))
        known = contracts[scenario.operation].request.parameters
        for name in scenario.params:
            if name not in known:
                issue(index, f".params.{name}", f"not a parameter{did_you_mean(name, known)}")
        for name, problem in _uncaptured(scenario):
            where = name if name.startswith("setup.") else f"params.{name}"
            issue(index, f".{where}", problem)
        for where, problem in _not_placeholders(scenario):
            issue(index, f".{where}", problem)
        for where, problem in _poll_problems(scenario, contracts[scenario.operation]):
            issue(index, f".{where}", problem)
        if scenario.setup is not None:
            actions = _sdk_actions(contracts[scenario.operation])
            if actions is not None and scenario.setup.action not in actions:
                issue(
                    index,
                    ".setup.action",
                    f"'{scenario.setup.action}' is not an action of the "
                    f"{contracts[scenario.operation].sources.sdk.package} SDK"
                    f"{did_you_mean(scenario.setup.action, actions)}",
                )
        code = scenario.expect_error
        if code not in (None, "*"):
            meant = _expectable_codes(contracts[scenario.operation], code)
            if meant is not None:
                issue(
                    index,
                    ".expect_error",
                    f"'{code}' is not an error code the documentation lists for "
                    f"{scenario.operation}{did_you_mean(code, meant)} ('*' accepts any error)",
                )
    return issues


# A `$` that starts something placeholder-like which _PLACEHOLDER does not read: `$NAME`, an
# unclosed `${NAME`, or a shell form this file does not take (`${ NAME }`, `${NAME-x}`,
# `${NAME:=x}`). Sent as it is, it would reach the service literally.
_ALMOST_PLACEHOLDER = re.compile(r"\$(?:\{|[A-Za-z_])")


def _not_placeholders(scenario: Scenario) -> list[tuple[str, str]]:
    texts = [(f"params.{name}", text) for name, text in scenario.params.items()]
    if scenario.setup is not None:
        for name, value in scenario.setup.params.items():
            for text in value.values() if isinstance(value, dict) else [value]:
                texts.append((f"setup.params.{name}", text))
    problems = []
    for where, text in texts:
        if any("${" in (m["default"] or "") for m in _PLACEHOLDER.finditer(text)):
            # `${A:-${B}}` reads as A with the default `${B`, then a stray `}`
            message = f"'{text}': a default cannot hold a placeholder (they are not expanded)"
            problems.append((where, message))
        elif _ALMOST_PLACEHOLDER.search(_PLACEHOLDER.sub("", text)):
            message = f"'{text}' is not a placeholder; write ${{NAME}} or ${{NAME:-default}}"
            problems.append((where, message))
    return problems


def _poll_problems(scenario: Scenario, contract: Contract) -> list[tuple[str, str]]:
    """A poll on a field the response does not have would stop at the first answer, and a
    terminal value the field never takes would poll until the timeout."""
    poll = scenario.poll
    if poll is None:
        return []
    fields = contract.response.fields
    spec = fields.get(poll.field)
    if spec is None:
        return [("poll.field", f"not a response field{did_you_mean(poll.field, fields)}")]
    if not spec.required:
        # An answer without it ends the polling; only a required field's absence is a finding.
        return [
            ("poll.field", f"{poll.field} is not required by the contract; poll on one that is")
        ]
    if spec.enum is None:
        return []
    return [
        (
            f"poll.terminal.{index}",
            f"'{value}' is not a value of {poll.field}{did_you_mean(value, spec.enum)}",
        )
        for index, value in enumerate(poll.terminal)
        if value not in spec.enum
    ]


def _sdk_actions(contract: Contract) -> list[str] | None:
    """The actions the product's SDK can call, or None when the SDK is not installed (then the
    setup action is checked when the call is made)."""
    from aliconform.sdk import sdk_actions

    try:
        return sdk_actions(contract)
    except AliconformError:
        return None


def _expectable_codes(contract: Contract, code: str) -> list[str] | None:
    """None when a probe may expect the code: one the operation documents (a template such as
    Invalid{ParameterName} only with one of its parameters), or one that refuses the caller.
    Otherwise the codes it could have meant."""
    if refuses_the_caller(code):
        return None
    codes = contract.error_codes()
    expanded = [
        name.replace("{ParameterName}", parameter)
        for name in codes
        if "{ParameterName}" in name
        for parameter in contract.request.parameters
    ]
    if code in codes or code in expanded:
        return None
    matched = compiled(contract).lookup_code(code)
    if matched is not None and "{ParameterName}" not in matched[0]:
        return None  # a template over something other than the parameters
    return [name for name in codes if "{" not in name] + expanded


def _uncaptured(scenario: Scenario) -> list[tuple[str, str]]:
    """Parameters naming a setup capture that does not exist: left unfilled, they would be sent
    as they are, after the setup call had already created (and billed) its task. The setup's
    own parameters cannot name one: nothing is captured before the setup answers."""
    captures = scenario.setup.capture if scenario.setup is not None else {}
    problems = []
    if scenario.setup is not None:
        for param, value in scenario.setup.params.items():
            texts = value.values() if isinstance(value, dict) else [value]
            if any(m["name"].startswith("setup.") for t in texts for m in _PLACEHOLDER.finditer(t)):
                problems.append(
                    (
                        f"setup.params.{param}",
                        "a setup's parameters cannot use ${setup.*}: "
                        "nothing is captured before the setup answers",
                    )
                )
    for param, text in scenario.params.items():
        for match in _PLACEHOLDER.finditer(text):
            name = match["name"]
            if not name.startswith("setup."):
                continue
            capture = name.removeprefix("setup.")
            if scenario.setup is None:
                problems.append((param, f"${{{name}}} needs a setup step, and there is none"))
            elif capture not in captures:
                hint = did_you_mean(capture, captures)
                listed = ", ".join(captures) or "nothing"
                problems.append(
                    (param, f"the setup captures no '{capture}'{hint}; it captures {listed}")
                )
    return problems


@dataclass(frozen=True)
class Resolved:
    """Parameters with every placeholder filled, or the variables that are missing."""

    params: dict[str, str | dict[str, str]]
    missing: tuple[str, ...]

    @property
    def sent(self) -> dict[str, str | dict[str, str]]:
        """The parameters as the call sends them: one that resolved to an empty string (an
        unset optional variable, `${X:-}`) is left out."""
        return {key: value for key, value in self.params.items() if value != ""}


def resolve(
    params: Mapping[str, str | dict[str, str]],
    captured: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Resolved:
    """Fill `${NAME}`, `${NAME:-default}` and `${setup.NAME}`; report what cannot be filled."""
    environ = os.environ if environ is None else environ
    captured = captured or {}
    missing: list[str] = []

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, default = match["name"], match["default"]
            if name.startswith("setup."):
                value = captured.get(name.removeprefix("setup."))
            else:
                value = environ.get(name) or default
            if value is None:
                missing.append(name)
                return match.group(0)
            return value

        return _PLACEHOLDER.sub(one, text)

    filled: dict[str, str | dict[str, str]] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            filled[key] = {k: fill(v) for k, v in value.items()}
        else:
            filled[key] = fill(value)
    return Resolved(filled, tuple(dict.fromkeys(missing)))


def placeholders(params: Mapping[str, str | dict[str, str]]) -> list[str]:
    """The environment variables a parameter map needs: those without a default (setup
    captures excluded)."""
    names: list[str] = []
    for value in params.values():
        texts = value.values() if isinstance(value, dict) else [value]
        for text in texts:
            names += [m["name"] for m in _PLACEHOLDER.finditer(text) if m["default"] is None]
    return [n for n in dict.fromkeys(names) if not n.startswith("setup.")]
