"""The usage-error tree: every error aliconform raises on purpose derives from AliconformError.

Messages are written for the person at the terminal: they name the file, line and column and
the key path, and suggest the nearest valid name where a typo is the likely cause.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "AliconformError",
    "CassetteError",
    "ContractError",
    "ContractIssue",
    "ReplayMissError",
    "SdkUnavailableError",
    "UnknownOperationError",
    "did_you_mean",
    "error_chain",
]


class AliconformError(Exception):
    """Base of every error aliconform raises for bad input or bad usage."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True, slots=True)
class ContractIssue:
    """One problem in one contract file, at a place a person can jump to."""

    file: str
    line: int | None  # 1-based; None when the problem is the file itself
    column: int | None  # 1-based
    key_path: str  # e.g. response.fields.ModerationResult.fields.Frames.type
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


class ContractError(AliconformError):
    """A contract (or the shared error catalog) could not be loaded; carries every issue found."""

    def __init__(self, issues: Sequence[ContractIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class UnknownOperationError(AliconformError, KeyError):
    """An operation name that no loaded contract declares."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"no contract for operation '{name}'{did_you_mean(name, known)}; "
            f"known operations: {', '.join(known)}"
        )

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class CassetteError(AliconformError):
    """A cassette or its provenance could not be read; carries every issue found."""

    def __init__(self, issues: Sequence[ContractIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class ReplayMissError(AliconformError):
    """A request that no recorded interaction matches; names the nearest ones and what differs."""


class SdkUnavailableError(AliconformError):
    """The official SDK packages (the `sdk` extra) are not installed; says what to install."""


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """The error and every error behind it: causes, contexts, the SDK's unchained
    `inner_exception`, urllib3's `reason`, and the errors an exception group holds (a task
    group's)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "inner_exception", None),
            getattr(current, "reason", None),
            *(current.exceptions if isinstance(current, BaseExceptionGroup) else ()),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)
