"""Known drift, on purpose: the drift policy file, waivers, and the verdict of a run.

The policy file (drift-policy.yaml at the project root, reviewed like code) overrides severities
and accepts specific findings with a reason and an optional expiry date. A waiver that has
expired no longer waives, and a waiver that matched nothing in a run is reported: both are
themselves part of the verdict.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from aliconform.contracts import loader
from aliconform.contracts.loader import validate_document
from aliconform.contracts.yamlsource import read_yaml
from aliconform.drift.findings import Finding, Kind, Severity
from aliconform.drift.policy import SeverityOverride, SeverityPolicy, field_matches
from aliconform.errors import ContractError, ContractIssue, did_you_mean

__all__ = [
    "DEFAULT_POLICY_FILE",
    "DriftPolicy",
    "Verdict",
    "Waiver",
    "judge",
    "load_policy",
    "policy_beside",
]

DEFAULT_POLICY_FILE = Path("drift-policy.yaml")
#: The project's own policy, shipped beside the packaged contracts: it waives the documentation's
#: recorded self-contradictions, which an installed package's contracts carry too.
PACKAGED_POLICY_FILE = Path(__file__).resolve().parents[1] / "_drift-policy.yaml"


_FIELD_GLOB = (
    "Glob over the finding's contract field, which names a payload's variant "
    "(Results.Result[].Data(ASR).*); only * is a wildcard"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Waiver(_Strict):
    """Accept findings that match every given criterion."""

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    operation: str
    kind: Kind
    path: str | None = Field(default=None, description="Glob over the finding's JSON pointer")
    field: str | None = Field(default=None, description=_FIELD_GLOB)
    rule: str | None = Field(default=None, description="Invariant id, error code or aspect")
    source: str | None = Field(default=None, description="Glob over the checked source")
    reason: str = Field(min_length=10)
    expires: dt.date | None = None

    def matches(self, finding: Finding) -> bool:
        return (
            self.operation == finding.operation
            and self.kind is finding.kind
            and (self.path is None or fnmatch.fnmatchcase(finding.path, self.path))
            and field_matches(self.field, finding.field)
            and (self.rule is None or self.rule == finding.rule)
            and (self.source is None or fnmatch.fnmatchcase(finding.source or "", self.source))
        )

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today


class _Override(_Strict):
    severity: Severity
    reason: str = Field(min_length=10)
    kind: Kind | None = None
    operation: str | None = None
    path: str | None = None
    field: str | None = Field(default=None, description=_FIELD_GLOB)


class DriftPolicy(_Strict):
    format_version: Literal[1] = 1
    extends: Literal["aliconform"] | None = Field(
        default=None,
        description="'aliconform': the policy shipped with the contracts comes first (its "
        "waivers of the documentation's own contradictions), then this file's",
    )
    severity: list[_Override] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)
    # Where the policy was read from, for the reports (not part of the file's format).
    _origin: str = PrivateAttr(
        default="none (no ./drift-policy.yaml, and none beside the contracts directory)"
    )

    @property
    def origin(self) -> str:
        """The file the policy was read from, or why there is none: which policy judged a run
        decides its verdict, so every report says it."""
        return self._origin

    def severity_policy(self) -> SeverityPolicy:
        return SeverityPolicy(
            [
                SeverityOverride(o.severity, o.reason, o.kind, o.operation, o.path, o.field)
                for o in self.severity
            ]
        )


def load_policy(
    path: str | os.PathLike[str] | None = None, *, operations: Iterable[str] | None = None
) -> DriftPolicy:
    """The drift policy at path, else ./drift-policy.yaml, else (for the shipped contracts: the
    package's copy, or the source tree's in an editable install) the policy shipped with them;
    none of these means no overrides and no waivers.

    operations: the operations that have contracts; a waiver or override naming another is an
    error (a mistyped name would otherwise match nothing, silently)."""
    target = Path(path) if path is not None else _default_policy_file(operations)
    if target is None:
        return DriftPolicy()  # its origin says none was found
    document = read_yaml(target)
    if isinstance(document, ContractIssue):
        raise ContractError([document])
    policy = validate_document(DriftPolicy, document)
    if isinstance(policy, list):
        raise ContractError(policy)
    # The file's own entries are checked before the shipped ones join them, so that an issue
    # names this file's line and index.
    known = set(operations) if operations is not None else None
    if known is not None:
        unknown = _unknown_operations(policy, known, document)
        if unknown:
            raise ContractError(unknown)
    origin = str(target)
    _refuse_duplicate_ids([waiver.id for waiver in policy.waivers], document, "")
    if policy.extends is not None:
        shipped_file = _shipped_policy_file(target, document.issue(("extends",), ""))
        shipped = load_policy(shipped_file)
        policy = policy.model_copy(
            update={
                "extends": None,
                # A project with some of the contracts extends the waivers for those only.
                "severity": [
                    o for o in shipped.severity if known is None or o.operation in (None, *known)
                ]
                + policy.severity,
                "waivers": [w for w in shipped.waivers if known is None or w.operation in known]
                + policy.waivers,
            }
        )
        origin += f", extending {shipped_file}"
        # The file's own ids are distinct (checked above): a clash is with a shipped waiver.
        _refuse_duplicate_ids(
            [waiver.id for waiver in policy.waivers],
            document,
            f" (the shipped policy that `extends` brings in, {shipped_file}, has a waiver of "
            "that id: choose another)",
        )
    policy._origin = origin
    return policy


# The shipped contracts and the policy that goes with them: inside the installed package, or
# at the root of the source tree (an editable install, whose package holds no copies).
_CHECKOUT = Path(__file__).resolve().parents[3]


def _shipped() -> tuple[tuple[Path, Path], ...]:
    """(contracts directory, policy file) pairs, the installed package's first."""
    return (
        (loader.PACKAGED_CONTRACTS_DIR, PACKAGED_POLICY_FILE),
        (_CHECKOUT / "contracts", _CHECKOUT / "drift-policy.yaml"),
    )


def _shipped_policy_file(extending: Path, where: ContractIssue) -> Path:
    """The policy shipped with the contracts: inside the installed package, or at the root of
    a checkout; never the file that extends it."""
    for candidate in (policy for _, policy in _shipped()):
        if candidate.is_file() and candidate.resolve() != extending.resolve():
            return candidate
    problem = "extends: aliconform, but no policy ships with the contracts apart from this file"
    raise ContractError([replace(where, message=problem)])


def _default_policy_file(operations: Iterable[str] | None) -> Path | None:
    """./drift-policy.yaml; else the one beside the contracts directory (a project run from
    elsewhere); else, for the shipped contracts, the policy shipped with them."""
    if DEFAULT_POLICY_FILE.is_file():
        return DEFAULT_POLICY_FILE
    root = getattr(operations, "root", None)  # a ContractSet knows its directory
    return None if root is None else policy_beside(Path(root))


def policy_beside(root: Path) -> Path | None:
    """The policy that goes with the contracts directory root: the drift-policy.yaml beside it
    (a project's), else for the shipped contracts the policy shipped with them; None for none."""
    beside = root.parent / DEFAULT_POLICY_FILE.name  # a project's, run from elsewhere
    if beside.is_file():
        return beside
    for contracts, policy in _shipped():
        if root.resolve() == contracts.resolve() and policy.is_file():
            return policy
    return None


def _refuse_duplicate_ids(ids: list[str], document: Any, why: str) -> None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        issue = document.issue(
            ("waivers",), f"duplicate waiver id(s): {', '.join(duplicates)}{why}"
        )
        raise ContractError([issue])


def _unknown_operations(policy: DriftPolicy, known: set[str], document: Any) -> list[ContractIssue]:
    named = [("waivers", i, w.operation) for i, w in enumerate(policy.waivers)] + [
        ("severity", i, o.operation) for i, o in enumerate(policy.severity) if o.operation
    ]
    return [
        document.issue(
            (section, index, "operation"),
            f"{name!r} is not an operation with a contract{did_you_mean(name, known)}",
        )
        for section, index, name in named
        if name is not None and name not in known
    ]


@dataclass
class Verdict:
    """New findings, waived ones, and the waivers that need attention."""

    new: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)
    expired: list[Waiver] = field(default_factory=list)
    unused: list[Waiver] = field(default_factory=list)

    @property
    def new_breaking(self) -> list[Finding]:
        return [f for f in self.new if f.severity is Severity.BREAKING]

    def lapsed(self, finding: Finding) -> Waiver | None:
        """The expired waiver that would have accepted a new finding: known drift whose waiver
        lapsed, not drift never seen before."""
        return next((w for w in self.expired if w.matches(finding)), None)

    @property
    def passed(self) -> bool:
        return not self.new_breaking

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def map(self, change: Callable[[Finding], Finding]) -> Verdict:
        """The same verdict with each finding changed (for display: scrubbed, say)."""
        return Verdict(
            [change(f) for f in self.new],
            [(change(f), w) for f, w in self.waived],
            self.expired,
            self.unused,
        )


def judge(
    findings: Sequence[Finding],
    policy: DriftPolicy | None = None,
    *,
    operations: Iterable[str] | None = None,
    today: dt.date | None = None,
) -> Verdict:
    """Apply severity overrides and waivers. operations: the scope of the run, for unused waivers."""
    policy = policy or DriftPolicy()
    today = today or dt.date.today()
    findings = policy.severity_policy().apply(list(findings))
    verdict = Verdict()
    active = [w for w in policy.waivers if not w.expired(today)]
    verdict.expired = [w for w in policy.waivers if w.expired(today)]
    used: set[str] = set()
    for finding in findings:
        waiver = next((w for w in active if w.matches(finding)), None)
        if waiver is None:
            verdict.new.append(finding)
        else:
            used.add(waiver.id)
            verdict.waived.append((finding, waiver))
    scope = set(operations) if operations is not None else None
    verdict.unused = [
        w for w in active if w.id not in used and (scope is None or w.operation in scope)
    ]
    return verdict
