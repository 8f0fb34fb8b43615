"""What a query answers: the documentation's own example, made to describe the task asked about.

The twin invents no response shape. A finished task is answered with the contract's example
success response, with the identifiers and echoed inputs replaced by the task's own (TaskId or
JobId, ProjectName, TaskType, EventId, UserData and the other parameters the task was created
with) and a fresh RequestId; UserData, which repeats what the task was given, is left out for a
task given none. Where the page documents an example per payload variant (the Result of each
intelligent production function), the variant's example is used. Where the contract records
that the example contradicts the table and the SDK on a field's type and keeps theirs (an
object printed where a JSON string is sent), the value is sent as the contract keeps it, as the
service does. An unfinished task is the same body with its status set to an intermediate value
and the fields a running task cannot have yet (results, end times, the task's error) left out.

Where a page's example breaks an invariant of its contract (a FinishTime before its CreateTime;
a conditional invariant's fields present or absent for a status), the twin answers as the
invariant says: the fields a task in that state cannot have are left out, and times out of
order are put in order. So a twin without a drift profile answers with no finding at all, and
every finding against it comes from a drift profile or a fault. What no invariant states stays
as the example has it: a Succeeded IMM task keeps the example's Code and Message, as every IMM
page's success example shows them.
"""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

from aliconform.contracts import Contract, FieldSpec
from aliconform.contracts.model import ConditionalInvariant, OrderInvariant
from aliconform.drift.engine import check_body, compiled
from aliconform.drift.findings import Kind
from aliconform.drift.invariants import order_key
from aliconform.twin.lifecycle import Poll, Task
from aliconform.twin.operations import QueryOperation

__all__ = ["query_body", "success_example"]


def success_example(contract: Contract) -> dict[str, Any]:
    """The contract's example success response, parsed (a fresh copy on every call)."""
    for example in contract.examples:
        if example.of is None and 200 <= example.status < 300:
            parsed = json.loads(example.body)
            if isinstance(parsed, dict):
                return parsed
    raise LookupError(f"{contract.operation}: the contract has no example success response")


def query_body(
    contract: Contract, query: QueryOperation, poll: Poll, request_id: str
) -> dict[str, Any]:
    """The answer to one query of a task: terminal when poll.done, else intermediate."""
    body = success_example(contract)
    for name, spec in contract.response.fields.items():
        if name in body:
            body[name] = _as_kept(contract, spec, body[name])
    _echo(contract, query, body, poll.task)
    _variant_example(contract, query, body)
    if "RequestId" in body or "RequestId" in contract.response.fields:
        body["RequestId"] = request_id
    if not poll.done:
        index = min(poll.number, len(query.pending)) - 1
        body[query.status_field] = query.pending[index]
        for name in query.unfinished_absent:
            body.pop(name, None)
    _as_the_tables_say(contract, body)
    return body


def _as_the_tables_say(contract: Contract, body: dict[str, Any]) -> None:
    """Mend what the example gets wrong against the contract's own invariants, at the top level
    of the body, judged by the drift engine: a conditional's absent fields are left out, an
    order's values are sorted. Anything else is left for the engine to report."""
    invariants = {invariant.id: invariant for invariant in contract.invariants}
    for finding in check_body(compiled(contract), body):
        invariant = invariants.get(finding.rule or "")
        if finding.kind is not Kind.INVARIANT_VIOLATION or finding.decoded_at:
            continue
        name = finding.path.removeprefix("/")
        if isinstance(invariant, ConditionalInvariant) and name in invariant.absent:
            body.pop(name, None)
        elif isinstance(invariant, OrderInvariant) and name in body:
            _in_order(invariant, body)


def _in_order(invariant: OrderInvariant, body: dict[str, Any]) -> None:
    names = [name for name in invariant.fields if name in body]
    if any(order_key(invariant.compare, body[name]) is None for name in names):
        return  # a value the comparison cannot read: nothing sensible to sort
    values = sorted((body[name] for name in names), key=partial(order_key, invariant.compare))
    body.update(zip(names, values, strict=True))


def _echo(contract: Contract, query: QueryOperation, body: dict[str, Any], task: Task) -> None:
    fields = contract.response.fields
    if query.id_param in fields:
        body[query.id_param] = task.id
    if task.task_type is not None and "TaskType" in fields:
        body["TaskType"] = task.task_type
    if task.event_id is not None and "EventId" in fields:
        body["EventId"] = task.event_id
    if "UserData" not in task.params:
        body.pop("UserData", None)
    for name, value in task.params.items():
        spec = fields.get(name)
        if spec is None or name in ("RequestId", query.status_field, query.id_param):
            continue
        echoed = _as_type(value, spec.type)
        if echoed is not None:
            body[name] = copy.deepcopy(echoed)
    for parent, key, param in query.nested_echo:
        holder = body.get(parent)
        if isinstance(holder, dict) and key in holder and param in task.params:
            holder[key] = task.params[param]


def _as_kept(contract: Contract, spec: FieldSpec, value: Any) -> Any:
    """The value with every field the contract keeps as a JSON string (against the example's
    object) encoded as one; other values as they are."""
    if spec.ref is not None:
        spec = contract.definitions[spec.ref]
    if spec.type == "string" and isinstance(value, dict | list) and _kept_as_string(spec):
        return json.dumps(value, ensure_ascii=False)
    if spec.type == "object" and isinstance(value, dict):
        for name, child in (spec.fields or {}).items():
            if name in value:
                value[name] = _as_kept(contract, child, value[name])
    elif spec.type == "array" and isinstance(value, list) and spec.items is not None:
        return [_as_kept(contract, spec.items, item) for item in value]
    return value


def _kept_as_string(spec: FieldSpec) -> bool:
    return any(d.aspect == "type" and d.kept == "string" for d in spec.divergences)


def _as_type(value: Any, expected: str | None) -> Any:
    """The value as the response field's JSON type, or None when it cannot be."""
    if expected in ("object", "array") and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    wanted: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    kind = wanted.get(expected or "")
    return value if kind is None or isinstance(value, kind) else None


def _variant_example(contract: Contract, query: QueryOperation, body: dict[str, Any]) -> None:
    if query.variant_field is None:
        return
    payload = contract.response.fields[query.variant_field].json_payload
    if payload is None or payload.discriminator is None:
        return
    variant = body.get(payload.discriminator)
    wanted = f"{query.variant_field}({variant})"
    for example in contract.examples:
        if example.of == wanted:
            body[query.variant_field] = example.body
            return
