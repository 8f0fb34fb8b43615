"""Findings grouped for reading: one drift repeated across an array is one line, not hundreds.

A field that changed type in every element of a 500-element array is 500 findings (each with
its own pointer, as data should be), but one thing for a reader to understand. The console, the
HTML report and the Markdown summary show a group per (operation, kind, severity, place with
array indices as '*', contract location, source, status): the first finding, how many there
are, and the first and last pointer. drift.json keeps every finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from aliconform.drift.findings import generalise, path_order, shown_path

__all__ = ["Group", "Groupable", "group_findings"]


class Groupable(Protocol):
    """What grouping reads of a finding: a drift engine Finding and a report's finding alike."""

    @property
    def operation(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def contract_location(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...


Item = TypeVar("Item")


@dataclass
class Group(Generic[Item]):
    pattern: str  # the pointer with array indices as '*'
    about: str | None = None  # the first finding's contract field, for shown_path
    items: list[Item] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    @property
    def first(self) -> Item:
        return self.items[0]

    @property
    def count(self) -> int:
        return len(self.items)

    def where(self) -> str:
        """The pointer of a single finding; for several, the pattern, the count and the range."""
        if self.count == 1:
            return shown_path(self.paths[0], self.about)
        ordered = sorted(self.paths, key=path_order)
        return f"{self.pattern} ({self.count} times: {ordered[0]} … {ordered[-1]})"


def group_findings(
    items: Iterable[Item],
    finding: Callable[[Item], Groupable],
    also: Callable[[Item], Any] = lambda _: None,
) -> list[Group[Item]]:
    """Items grouped by their finding's place (array indices as '*'), kind, severity, contract
    location and source, and by also(item) (a waiver, a status); in the order groups first
    appear."""
    groups: dict[tuple[Any, ...], Group[Item]] = {}
    for item in items:
        found = finding(item)
        pattern = generalise(found.path)
        key = (
            found.operation,
            str(getattr(found, "kind", "")),
            str(getattr(found, "severity", "")),
            pattern,
            found.contract_location,
            found.source,
            also(item),
        )
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(pattern, getattr(found, "field", None))
        group.items.append(item)
        group.paths.append(found.path)
    return list(groups.values())
