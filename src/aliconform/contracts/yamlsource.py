"""Reading YAML with positions: plain Python data plus the line and column of every key.

ruamel.yaml's round-trip loader knows where each key stands; pydantic wants plain data. This
module bridges the two, and turns every way a file can be unreadable into a ContractIssue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from aliconform.errors import ContractIssue

__all__ = [
    "KeyPath",
    "Positions",
    "YamlDocument",
    "display_path",
    "format_key_path",
    "nearest_position",
    "read_yaml",
]

KeyPath = tuple[str | int, ...]
Positions = dict[KeyPath, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    path: str  # as displayed in messages
    data: Any  # plain dicts, lists and scalars
    positions: Positions  # key path -> (line, column), both 1-based

    def issue(self, key_path: KeyPath, message: str) -> ContractIssue:
        """An issue at the nearest key of key_path that exists in the file."""
        line, column = nearest_position(self.positions, key_path) or (None, None)
        return ContractIssue(self.path, line, column, format_key_path(key_path), message)


def nearest_position(positions: Positions, key_path: KeyPath) -> tuple[int, int] | None:
    """(line, column) of key_path, or of its nearest enclosing key that the file has."""
    for end in range(len(key_path), -1, -1):
        found = positions.get(key_path[:end])
        if found is not None:
            return found
    return None


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies below it, as people type it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # a different drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def format_key_path(key_path: KeyPath) -> str:
    text = ""
    for key in key_path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves timestamps as text.

    pydantic then parses dates with a precise error (an impossible date such as 2024-13-45 would
    otherwise fail inside ruamel without a position).
    """


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def read_yaml(path: Path) -> YamlDocument | ContractIssue:
    """Parse one YAML file, or say precisely why it cannot be parsed."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return ContractIssue(
            shown, None, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        )
    except OSError as exc:
        return ContractIssue(shown, None, None, "", f"cannot read file: {exc.strerror or exc}")
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    except DuplicateKeyError as exc:
        issue = _marked_issue(shown, exc, _duplicate_key_message(exc))
        return ContractIssue(
            issue.file,
            issue.line,
            issue.column,
            _duplicate_key_path(yaml, text, exc),
            issue.message,
        )
    except MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        return _marked_issue(shown, exc, f"YAML syntax error: {problem}")
    except ReaderError as exc:
        # A character YAML does not allow (NUL, most control characters): ruamel gives only
        # its offset in the text, so count the lines to it.
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML ({exc.reason})"
        return ContractIssue(shown, line, column, "", message)
    except (YAMLError, ValueError) as exc:
        return ContractIssue(shown, None, None, "", f"YAML error: {exc}")
    positions: Positions = {(): (1, 1)}
    try:
        data = _plain(tree, (), positions, [0])
    except _Refused as exc:
        line, column = nearest_position(positions, exc.key_path) or (1, 1)
        return ContractIssue(shown, line, column, format_key_path(exc.key_path), str(exc))
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return ContractIssue(shown, 1, 1, "", f"expected a mapping at the top level, found {kind}")
    return YamlDocument(shown, data, positions)


def _marked_issue(shown: str, exc: MarkedYAMLError, message: str) -> ContractIssue:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return ContractIssue(shown, None, None, "", message)
    return ContractIssue(shown, mark.line + 1, mark.column + 1, "", message)


def _duplicate_key_message(exc: DuplicateKeyError) -> str:
    problem = (exc.problem or "").strip()
    # ruamel says: found duplicate key "X" with value "..." (original value: "...")
    key = problem.split('"')[1] if problem.count('"') >= 2 else problem
    first = exc.context_mark.line + 1 if exc.context_mark is not None else None
    where = f" (the mapping starts at line {first})" if first else ""
    return f"duplicate key '{key}'{where}"


def _duplicate_key_path(yaml: YAML, text: str, exc: DuplicateKeyError) -> str:
    """The key path of the repeated key, found on the node graph (which keeps duplicates)."""
    mark = exc.problem_mark
    if mark is None:
        return ""
    try:
        root = yaml.compose(text)
    except YAMLError:
        return ""
    stack: list[tuple[Node, KeyPath]] = [(root, ())]
    while stack:
        node, key_path = stack.pop()
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                child = (*key_path, str(key_node.value))
                if (
                    key_node.start_mark.line == mark.line
                    and key_node.start_mark.column == mark.column
                ):
                    return format_key_path(child)
                stack.append((value_node, child))
        elif isinstance(node, SequenceNode):
            stack.extend((item, (*key_path, index)) for index, item in enumerate(node.value))
    return ""


# Every value a file expands to, aliases counted each time they are used. No contract, policy,
# scenario file or cassette comes near it; nested aliases in a few hundred bytes go far past it.
_MOST_VALUES = 1_000_000
# Explicit tags YAML's core schema gives meaning to; any other (!!python/..., !env) is refused.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "binary", "timestamp")
)


class _Refused(Exception):
    def __init__(self, key_path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key_path = key_path


def _plain(node: Any, key_path: KeyPath, positions: Positions, seen: list[int]) -> Any:
    """Copy a ruamel tree into plain Python, recording where every key and item stands.
    seen: how many values have been copied (one counter for the whole file)."""
    seen[0] += 1
    if seen[0] > _MOST_VALUES:
        raise _Refused(
            key_path,
            f"the file expands to more than {_MOST_VALUES:,} values (aliases that repeat "
            "aliases); write the values out",
        )
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag is not None and tag not in _CORE_TAGS:
        raise _Refused(key_path, f"YAML tag {tag} is not allowed here (plain YAML values only)")
    if isinstance(node, TaggedScalar):  # a core tag ruamel keeps as written: !!str 5
        return str(node.value)
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = str(key)
            line, col = node.lc.key(key)
            positions[(*key_path, name)] = (line + 1, col + 1)
            out[name] = _plain(value, (*key_path, name), positions, seen)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            positions[(*key_path, index)] = (line + 1, col + 1)
            items.append(_plain(value, (*key_path, index), positions, seen))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node
