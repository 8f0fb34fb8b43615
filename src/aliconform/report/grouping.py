"""Findings grouped for reading: one drift repeated across an array is one line, not hundreds.

A field that changed type in every element of a 500-element array is 500 findings (each with
its own pointer, as data should be), but one thing for a reader to understand. The console, the
HTML report and the Markdown summary show a group per (operation, kind, severity, place with
array indices as '*', contract location, source, status): the first finding, how many there
are, and the first and last pointer. Past KEYS_PER_OBJECT undocumented keys in one object, the
place of each is the object: a response with thousands of new keys is one row. drift.json keeps
every finding.
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
    items = list(items)
    crowded = _crowded_objects(finding(item) for item in items)
    groups: dict[tuple[Any, ...], Group[Item]] = {}
    for item in items:
        found = finding(item)
        pattern = generalise(found.path)
        if _parent_of_key(found) in crowded:
            pattern = pattern.rpartition("/")[0] + "/*"
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


#: Undocumented keys of one object (in one source) past which they are one row, the object's:
#: the one kind whose places the response rather than the contract decides (a new key on every
#: request made a row per key, 20,000 rows). Fewer are a row each, named.
KEYS_PER_OBJECT = 20


def _parent_of_key(found: Groupable) -> tuple[str | None, str, str] | None:
    if str(getattr(found, "kind", "")) != "undocumented-field" or not found.path:
        return None
    return (found.source, found.operation, generalise(found.path).rpartition("/")[0])


def _crowded_objects(found: Iterable[Groupable]) -> set[tuple[str | None, str, str]]:
    counts: dict[tuple[str | None, str, str], int] = {}
    for each in found:
        parent = _parent_of_key(each)
        if parent is not None:
            counts[parent] = counts.get(parent, 0) + 1
    return {parent for parent, count in counts.items() if count > KEYS_PER_OBJECT}
