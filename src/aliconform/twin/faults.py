"""Injected faults: the failures a client of the real service must survive, on demand.

A fault spec is a comma-separated list of `kind[=amount][@Operation]` items:

    throttle=2,server-error=1,latency=200ms,malformed=1,truncated=1,drop=1
    throttle=2@QuerySmarttagJob,unavailable=*@GetImageModerationResult

Count kinds are consumed in the order they are listed: the first two matching requests are
throttled, the next one gets a 500, and so on; `*` means every matching request (so nothing
listed after it is reached for those requests). `latency` delays every matching request by a
duration (`200ms`, `1.5s`) and combines with any other fault. A kind with no amount counts 1.
Without `@Operation` an item matches every operation. `lenient` is a misbehaviour rather than
a failure: a query it matches skips parameter validation (a bad enum value, a missing or
malformed parameter is not refused) and is answered for whatever task its id names, as a
regressed service would.

The parsed plan is immutable; each running twin consumes its own schedule of it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast, get_args

from aliconform.errors import did_you_mean
from aliconform.twin.errors import TwinConfigError
from aliconform.twin.operations import OPERATIONS

__all__ = [
    "FAULT_KINDS",
    "RETRY_AFTER_MS",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FaultSchedule",
    "parse_faults",
]

FaultKind = Literal[
    "throttle",
    "unavailable",
    "server-error",
    "latency",
    "malformed",
    "truncated",
    "drop",
    "lenient",
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: The wait a throttled response asks for, in milliseconds (header x-acs-retry-after).
RETRY_AFTER_MS = 1000

_DURATION = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<unit>ms|s)$")
_COUNT = re.compile(r"^[1-9]\d*$")


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One item of a fault spec."""

    kind: FaultKind
    count: int | None = 1  # None: every matching request
    scope: str | None = None  # an operation name; None: every operation
    delay: float = 0.0  # seconds, for latency

    def matches(self, operation: str) -> bool:
        return self.scope is None or self.scope == operation

    def __str__(self) -> str:
        if self.kind == "latency":
            amount = f"={round(self.delay * 1000)}ms"
        else:
            amount = "=*" if self.count is None else f"={self.count}"
        return f"{self.kind}{amount}" + (f"@{self.scope}" if self.scope else "")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """A parsed fault spec: latency rules and count rules, in the order given."""

    rules: tuple[FaultRule, ...]

    def __str__(self) -> str:
        return ",".join(str(rule) for rule in self.rules)

    def schedule(self) -> FaultSchedule:
        return FaultSchedule(self)


class FaultSchedule:
    """The plan being consumed by one twin: which fault the next request of an operation gets."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._left = [rule.count for rule in plan.rules]
        self._lock = threading.Lock()

    def delay_for(self, operation: str) -> float:
        """Seconds every request of the operation waits (all matching latency items)."""
        return sum(
            rule.delay
            for rule in self.plan.rules
            if rule.kind == "latency" and rule.matches(operation)
        )

    def take(self, operation: str) -> FaultRule | None:
        """The count fault this request gets, consumed; None when none is left for it."""
        with self._lock:
            for index, rule in enumerate(self.plan.rules):
                if rule.kind == "latency" or not rule.matches(operation):
                    continue
                left = self._left[index]
                if left is None:
                    return rule
                if left > 0:
                    self._left[index] = left - 1
                    return rule
            return None


def parse_faults(spec: str, operations: Iterable[str] = OPERATIONS) -> FaultPlan:
    """Parse a fault spec; TwinConfigError names the bad item and suggests the nearest word."""
    known = sorted(operations)
    items = [item.strip() for item in spec.split(",")]
    if not spec.strip() or any(not item for item in items):
        raise TwinConfigError(
            f"fault spec {spec!r} has an empty item; write kind[=amount][@Operation] items "
            f"separated by commas, e.g. throttle=2,latency=200ms"
        )
    return FaultPlan(tuple(_rule(item, known) for item in items))


def _rule(item: str, operations: list[str]) -> FaultRule:
    head, _, scope = item.partition("@")
    name, has_amount, amount = head.partition("=")
    kind = _kind(name.strip(), item)
    scope_name = _scope(scope.strip(), item, operations) if "@" in item else None
    amount = amount.strip()
    if kind == "latency":
        if not has_amount:
            raise TwinConfigError(f"fault {item!r}: latency needs a duration, e.g. latency=200ms")
        return FaultRule(kind, None, scope_name, _duration(amount, item))
    if not has_amount:
        return FaultRule(kind, 1, scope_name)
    if amount == "*":
        return FaultRule(kind, None, scope_name)
    if not _COUNT.match(amount):
        raise TwinConfigError(
            f"fault {item!r}: {amount!r} is not a count; give a whole number of requests "
            f"(1 or more) or * for every request"
        )
    return FaultRule(kind, int(amount), scope_name)


def _kind(name: str, item: str) -> FaultKind:
    if name in FAULT_KINDS:
        return cast(FaultKind, name)
    raise TwinConfigError(
        f"fault {item!r}: unknown kind {name!r}{did_you_mean(name, FAULT_KINDS)}; "
        f"kinds: {', '.join(FAULT_KINDS)}"
    )


def _scope(name: str, item: str, operations: list[str]) -> str:
    if name in operations:
        return name
    raise TwinConfigError(
        f"fault {item!r}: unknown operation {name!r}{did_you_mean(name, operations)}; "
        f"operations: {', '.join(operations)}"
    )


def _duration(text: str, item: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise TwinConfigError(
            f"fault {item!r}: {text!r} is not a duration; write a number with ms or s, "
            f"e.g. 200ms or 1.5s"
        )
    number = float(match["number"])
    return number / 1000 if match["unit"] == "ms" else number
