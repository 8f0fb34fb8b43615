"""Tasks and jobs the twin has accepted, and how far along each one is.

A client of these APIs creates a task, then polls until a terminal status; a recording is only
realistic if it holds those intermediate answers too. The store keeps every created task in
memory and counts the queries for it: the first `polls_before_done` queries see it unfinished,
every later one sees it done. The store is shared by the server's requests, so it locks.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aliconform.twin.operations import CreateOperation

__all__ = ["ClientTokens", "Poll", "Task", "TaskStore", "new_event_id", "new_task_id"]

_EVENT_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Task:
    """A created task or job: its ID, the operations involved and what it was created with."""

    id: str
    create_operation: str
    query_operation: str
    params: Mapping[str, Any]  # the create call's parameters, JSON objects decoded
    task_type: str | None = None
    event_id: str | None = None
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class Poll:
    """One query of a task: the task, which query this is (1-based) and whether it is done."""

    task: Task
    number: int
    done: bool


def new_task_id(operation: CreateOperation) -> str:
    """IMM: <TaskType>-<uuid4>; ICE: 32 hexadecimal digits."""
    if operation.task_type is not None:
        return f"{operation.task_type}-{uuid.uuid4()}"
    return uuid.uuid4().hex


def new_event_id() -> str:
    """An IMM event ID in the documented form (2F6-1Bz99Xi93EnRpNEyLudILJm****)."""
    head = secrets.token_hex(2).upper()[:3]
    tail = "".join(secrets.choice(_EVENT_ALPHABET) for _ in range(25))
    return f"{head}-{tail}"


class TaskStore:
    """Every task the twin created, with the number of times each was queried."""

    def __init__(self, polls_before_done: int = 2) -> None:
        if polls_before_done < 0:
            raise ValueError("polls_before_done cannot be negative")
        self.polls_before_done = polls_before_done
        self._tasks: dict[str, Task] = {}
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, task: Task) -> None:
        with self._lock:
            if task.id in self._tasks:
                raise ValueError(f"task {task.id} exists already")
            self._tasks[task.id] = task
            self._polls[task.id] = 0

    def get(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def poll(self, query_operation: str, task_id: str) -> Poll | None:
        """Count one query of a task; None if the query operation did not create it."""
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or task.query_operation != query_operation:
                return None
            number = self._polls[task_id] = self._polls[task_id] + 1
        return Poll(task, number, number > self.polls_before_done)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)


class ClientTokens:
    """Idempotence tokens: a ClientToken reused with different parameters is refused."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def same_request(self, operation: str, token: str, params: Mapping[str, str]) -> bool:
        """Record the token's first use; whether this use repeats the first one's parameters."""
        with self._lock:
            first = self._seen.setdefault((operation, token), dict(params))
        return first == dict(params)
