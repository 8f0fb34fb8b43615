"""Scanning captured traffic: a JSON Lines file checked on every core, aggregated as it goes.

Each line is one captured interaction: {"operation": ..., "status": 200, "headers": {...},
"body": "<the body as text>" or the parsed JSON, optionally "request": {business parameters}}.
A body written as JSON is checked as the text it is in the line, exactly as a body given as text:
the compiled fast path reads it, and nothing the line's own parse would change (duplicate keys,
long integers) is lost.
The capture can also be standard input (`-`) or a pipe (`<(zcat capture.jsonl.gz)`): it is read
once, front to back, never sought in.
The file is read in batches and handed to worker processes with a bounded number of batches in
flight, and each worker returns only aggregates (a count, the first and last line, a few
example lines and one example body per distinct finding), so memory stays flat however long the
file is. A distinct finding is the operation, kind, JSON path with array indices as `*`, and
rule.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import json
import lzma
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, cast

import msgspec

from aliconform.cassettes.scrub import scrub_body, scrub_finding, scrub_observed, scrub_text
from aliconform.contracts import ContractSet, load_contracts
from aliconform.drift.engine import check_body, compiled, sent_parameters
from aliconform.drift.excerpt import ExcerptLine, response_excerpt
from aliconform.drift.findings import (
    VALUE_KINDS,
    Finding,
    displayed,
    escape_unprintable,
    excerpt,
    generalise,
    variant_field,
)
from aliconform.errors import AliconformError

__all__ = [
    "DEFAULT_UNREADABLE_LIMIT",
    "STDIN",
    "ScanResult",
    "SkippedLine",
    "UnreadableLimit",
    "compression_of",
    "displayed",
    "scan_file",
]

# A batch ends at whichever comes first: workers get lines in bulk (few round trips), and the
# batches in flight (two per worker, and the one being read) hold a bounded number of bytes
# whatever the length of the lines.
_BATCH_LINES = 500
_BATCH_BYTES = 8 * 1024 * 1024
_EXAMPLES = 3
_OBSERVED = 10
# Where the value is the drift (VALUE_KINDS), enough to hold every value a real capture sees, so
# that `report diff` compares whole sets: ten kept of twelve made two scans of one capture in
# another order differ, and hid a thirteenth value.
_OBSERVED_VALUES = 100
_MAX_EXAMPLE_BODY = 32 * 1024
_MAX_SKIPPED_SHOWN = 20
MAX_LINE_BYTES = 64 * 1024 * 1024  # a longer line is skipped as unreadable, never held whole
#: Distinct findings a scan keeps apart per kind; past this, the rest of that kind are counted
#: under one overflow entry. Per kind, so that a flood of one (a new key name on every line)
#: never takes the place of another: a breaking type mismatch keeps its path and its waiver.
MAX_DISTINCT = 500
_OVERFLOW_PATH = "/…"

#: What a scan aggregates by: operation, kind, path (indices as '*'), rule, payload variant.
AggregateKey = tuple[str, str, str, str, str]


@dataclass
class Aggregate:
    finding: Finding  # the first occurrence, its path generalised
    count: int
    first: int
    last: int
    examples: list[int]
    body: bytes  # the first occurrence's body, for the report's excerpt; b"" if too long
    # A body too long to keep has its excerpt laid out here, from the whole body: cut short, it
    # would no longer be JSON, and its excerpt would be raw text with nothing marked.
    excerpt: tuple[ExcerptLine, ...] | None = None
    # The distinct observed values (scrubbed), each with the line it was first seen on: the
    # new enum values, say, not only the first. At most values_kept, the earliest first.
    observed: dict[str, int] = field(default_factory=dict)
    more_observed: bool = False  # distinct values past those kept

    @property
    def values_kept(self) -> int:
        return _OBSERVED_VALUES if self.finding.kind in VALUE_KINDS else _OBSERVED

    def note(self, finding: Finding, number: int) -> None:
        """Keep the occurrence's observed value, if it is new and there is room for it."""
        if finding.observed is None or self.more_observed:
            return
        value = scrub_observed(finding) or ""
        if value in self.observed:
            return
        if len(self.observed) < self.values_kept:
            self.observed[value] = number
        else:
            self.more_observed = True

    def merge(self, other: Aggregate) -> None:
        if other.first < self.first:
            self.finding, self.first = other.finding, other.first
            self.body, self.excerpt = other.body, other.excerpt
        self.count += other.count
        self.last = max(self.last, other.last)
        self.examples = sorted({*self.examples, *other.examples})[:_EXAMPLES]
        # Earliest first, whatever order the batches finish in. A batch keeps a value only if
        # fewer than values_kept others came before it there, so none of the earliest is lost.
        lines = {**other.observed, **self.observed}
        for value, number in other.observed.items():
            lines[value] = min(number, lines[value])
        ordered = sorted(lines.items(), key=lambda item: item[1])
        kept = self.values_kept
        self.observed = dict(ordered[:kept])
        self.more_observed = self.more_observed or other.more_observed or len(ordered) > kept


@dataclass(frozen=True)
class SkippedLine:
    line: int
    reason: str


@dataclass
class BatchResult:
    lines: int = 0
    interactions: int = 0
    bytes: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)
    skipped_count: int = 0
    aggregates: dict[AggregateKey, Aggregate] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    distinct: Counter[str] = field(default_factory=Counter)  # places kept apart, per kind

    def has_room(self, key: AggregateKey) -> bool:
        """Whether a finding at this key is kept apart: it is already, or its kind has room."""
        return key in self.aggregates or self.distinct[key[1]] < MAX_DISTINCT

    def keep(self, key: AggregateKey, aggregate: Aggregate) -> None:
        if key[2] != _OVERFLOW_PATH:
            self.distinct[key[1]] += 1
        self.aggregates[key] = aggregate

    def merge(self, other: BatchResult) -> None:
        self.lines += other.lines
        self.interactions += other.interactions
        self.bytes += other.bytes
        self.skipped_count += other.skipped_count
        self.skipped = sorted([*self.skipped, *other.skipped], key=lambda s: s.line)[
            :_MAX_SKIPPED_SHOWN
        ]
        for name, count in other.operations.items():
            self.operations[name] = self.operations.get(name, 0) + count
        for key, aggregate in other.aggregates.items():
            if not self.has_room(key):
                key, aggregate = _overflow(key, aggregate)
            mine = self.aggregates.get(key)
            if mine is None:
                self.keep(key, aggregate)
            else:
                mine.merge(aggregate)


@dataclass
class ScanResult(BatchResult):
    file: str = ""
    seconds: float = 0.0
    workers: int = 1


_LIMIT = re.compile(r"\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<percent>%?)\s*")


@dataclass(frozen=True)
class UnreadableLimit:
    """How many unreadable lines a scan tolerates: a number of lines, or a share of them.

    A capture of live traffic often ends in a line cut short, and a pipeline may write the odd
    line wrong; a capture mostly unreadable (the wrong format, a mistyped operation everywhere)
    means the scan judged little of it, which must not pass as "no drift"."""

    lines: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> UnreadableLimit:
        """ "10" (lines) or "0.5%" (of the non-blank lines read)."""
        match = _LIMIT.fullmatch(text)
        if match is None or (not match["percent"] and "." in match["number"]):
            raise AliconformError(f"{text!r} is neither a number of lines (10) nor a share (0.5%)")
        if match["percent"]:
            percent = float(match["number"])
            if percent > 100:
                raise AliconformError(f"{text!r}: a share is at most 100%")
            return cls(percent=percent)
        return cls(lines=int(match["number"]))

    def allows(self, unreadable: int, lines: int) -> bool:
        if self.lines is not None:
            return unreadable <= self.lines
        assert self.percent is not None
        return unreadable * 100 <= self.percent * lines

    def __str__(self) -> str:
        return f"{self.lines}" if self.lines is not None else f"{self.percent:g}%"


DEFAULT_UNREADABLE_LIMIT = UnreadableLimit(percent=1.0)


# --- worker side -------------------------------------------------------------------------------

_contracts: ContractSet | None = None


def _init_worker(contracts_dir: str | None) -> None:
    global _contracts
    if threading.current_thread() is threading.main_thread():  # a worker process's
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to act on
    _contracts = load_contracts(contracts_dir)


def _start_ignoring_sigint(pool: ProcessPoolExecutor, workers: int) -> None:
    """Start every worker with SIGINT ignored, which a child keeps across exec: Ctrl-C reaches
    the whole process group, and a worker still importing (a spawned one imports the CLI anew)
    would print a KeyboardInterrupt traceback of its own. The parent stops the scan."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler; the initializer covers the rest
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # No worker is idle yet, so each submission starts one more.
        for _ in range(workers):
            pool.submit(int)
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_batch(start: int, lines: list[bytes], source: str) -> BatchResult:
    assert _contracts is not None, "worker not initialised"
    result = BatchResult()
    for offset, raw in enumerate(lines):
        number = start + offset
        result.lines += 1
        result.bytes += len(raw)
        if not raw.strip():
            continue
        try:
            operation, body, status, headers, request = _read_line(raw)
            entry = compiled(_contracts[operation])
            if request is not None:
                request = dict(sent_parameters(entry.contract, request))
        except (ValueError, RecursionError, AliconformError) as exc:
            result.skipped_count += 1
            if len(result.skipped) < _MAX_SKIPPED_SHOWN:
                result.skipped.append(SkippedLine(number, _quotable(str(exc))))
            continue
        result.interactions += 1
        result.operations[operation] = result.operations.get(operation, 0) + 1
        findings = check_body(entry, body, status, headers, request=request)
        if findings:  # most lines have none
            # Scrubbed once per line, when a finding first needs it: scrubbing reads the whole
            # body, and one body can hold hundreds of findings.
            example = functools.cache(functools.partial(_scrubbed_example, body))
            for finding in findings:
                _add(result, finding, number, example, source)
    return result


# A reason quotes the line (an unknown operation's name, a status), and goes to the console and
# every report: scrubbed, its control characters escaped, and bounded like any excerpt.
_REASON_CHARACTERS = 400


def _quotable(reason: str) -> str:
    text = escape_unprintable(scrub_text(reason))
    return text if len(text) <= _REASON_CHARACTERS else text[: _REASON_CHARACTERS - 1] + "…"


_CHECK_ONE = "`aliconform check <operation> <file>`"


class _Line(msgspec.Struct):
    """A line as msgspec reads it: the body kept as the JSON text it is in the line."""

    operation: Any = msgspec.UNSET
    status: Any = msgspec.UNSET
    headers: Any = msgspec.UNSET
    request: Any = msgspec.UNSET
    body: msgspec.Raw = msgspec.Raw()  # empty: no "body"


_LINE = msgspec.json.Decoder(_Line)
_TEXT = msgspec.json.Decoder(str)


def _read_line(raw: bytes) -> tuple[str, Any, int, dict[str, str], dict[str, Any] | None]:
    if len(raw) > MAX_LINE_BYTES or (not raw.endswith(b"\n") and len(raw) == MAX_LINE_BYTES):
        raise ValueError(f"the line is longer than {MAX_LINE_BYTES // 2**20} MiB")
    line = _fields(raw)
    if not isinstance(line, dict):
        raise ValueError("a line must be a JSON object with operation, status, headers and body")
    operation = line.get("operation")
    if operation is None:
        reason = 'no "operation" (the API operation name, e.g. QuerySmarttagJob)'
        if "body" not in line and _is_response_body(raw):
            reason += (
                "; the line looks like a response body, which a capture line wraps "
                '({"operation": ..., "status": ..., "body": ...}): '
                f"{_CHECK_ONE} checks a single body"
            )
        raise ValueError(reason)
    if not isinstance(operation, str):
        raise ValueError(
            f'"operation" must be the API operation name as a string '
            f"(e.g. QuerySmarttagJob), not {_json_type(operation)}"
        )
    if "body" not in line:
        raise ValueError('no "body"')
    status = line.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        # 0 is how many capture tools write "no response": nothing the service said
        raise ValueError(f'"status" must be an HTTP status (100 to 599), not {excerpt(status)}')
    headers = line.get("headers")
    headers = {} if headers is None else headers
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError('"headers" must be an object of strings (header name: value)')
    request = line.get("request")
    if request is not None and not isinstance(request, dict):
        # ignoring it would quietly skip the echo invariants the line asked for
        raise ValueError(
            f'"request" must be an object of business parameters, not {_json_type(request)}'
        )
    return operation, line["body"], status, headers, request


def _is_response_body(raw: bytes) -> bool:
    """Whether a line is a response body: every response of these APIs has a RequestId. Read
    again, and only for a line already refused: the line's reading keeps only its own fields."""
    try:
        return "RequestId" in json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return False


def _json_type(value: Any) -> str:
    """The JSON type of a parsed value, as a message names it: `an array`, `a number`."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else "a string"


def _fields(raw: bytes) -> Any:
    """The line's fields. A body written as JSON stays the text it is in the line, so it is
    checked as a body given as text is (by the compiled fast path first), and nothing a parse
    would settle (duplicate keys, long integers) is settled before the engine sees it. A line
    msgspec does not read (NaN, a lone surrogate, not an object) is read by json.loads, whose
    reading and messages the engine shares."""
    try:
        line = _LINE.decode(raw)
        written = bytes(line.body)
        body: Any = written
        if written.startswith(b'"'):
            body = _TEXT.decode(written)  # a body given as text: its string
        elif not written.isascii():
            written.decode("utf-8")  # msgspec skipped the body without reading its text
    except (ValueError, RecursionError):  # msgspec's DecodeError and UnicodeDecodeError too
        return _parsed(raw)
    fields = {
        name: value
        for name in ("operation", "status", "headers", "request")
        if (value := getattr(line, name)) is not msgspec.UNSET
    }
    if written:  # empty: the line has no "body"
        fields["body"] = body
    return fields


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("the line nests deeper than the JSON parser accepts") from None
    except ValueError as exc:
        reason = f"not a JSON line: {exc}"
        if raw.strip() in (b"{", b"["):  # the first line of an indented document
            reason += (
                "; one JSON document written over several lines? scan reads JSON Lines, one "
                f"interaction per line, and {_CHECK_ONE} checks a single response body"
            )
        raise ValueError(reason) from None


def _add(
    result: BatchResult, finding: Finding, number: int, example: Callable[[], bytes], source: str
) -> None:
    pattern = generalise(finding.path)
    # The variant too: a pointer into a JSON-string payload does not say which it is in (ASR or
    # OCR results), and waivers and overrides can name one. As the report's ids tell them apart.
    variant = variant_field(finding.path, finding.field) or ""
    key = (finding.operation, finding.kind.value, pattern, finding.rule or "", variant)
    if not result.has_room(key):
        # Unbounded variety (a new key name on every line, say) must not grow memory.
        key, finding = _overflow_finding(key, finding)
        pattern = finding.path
    aggregate = result.aggregates.get(key)
    if aggregate is None:
        # Captured traffic is not scrubbed as a recording is, and the reports quote it: what
        # they keep of it (the excerpt, the message, the body) is scrubbed here, before any
        # cut could leave half a secret that no pattern recognises.
        general = replace(
            scrub_finding(finding),
            path=pattern,
            decoded_at=tuple(generalise(p) for p in finding.decoded_at),
            source=f"{source} line {number}",
        )
        body = example()
        aggregate = Aggregate(general, 1, number, number, [number], body)
        if len(body) > _MAX_EXAMPLE_BODY:
            aggregate.body = b""
            aggregate.excerpt = tuple(
                replace(line, text=scrub_text(line.text))  # a key id JSON-escaped, now decoded
                for line in response_excerpt(body, finding.path, finding.decoded_at)
            )
        aggregate.note(general, number)
        result.keep(key, aggregate)
        return
    aggregate.note(finding, number)
    aggregate.count += 1
    aggregate.last = number
    # Example lines are distinct lines: one drift in every element of an array is one line.
    if len(aggregate.examples) < _EXAMPLES and aggregate.examples[-1] != number:
        aggregate.examples.append(number)


def _scrubbed_example(body: Any) -> bytes:
    return scrub_body(_example(body))


def _example(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def _overflow_finding(key: AggregateKey, finding: Finding) -> tuple[AggregateKey, Finding]:
    message = (
        f"more distinct {finding.kind.value} findings than the {MAX_DISTINCT} of one kind a scan "
        "keeps apart; counted together"
    )
    overflow = replace(
        finding, path=_OVERFLOW_PATH, decoded_at=(), rule=None, field=None, message=message
    )
    return (key[0], key[1], _OVERFLOW_PATH, "", ""), overflow


def _overflow(key: AggregateKey, aggregate: Aggregate) -> tuple[AggregateKey, Aggregate]:
    key, finding = _overflow_finding(key, aggregate.finding)
    return key, replace(aggregate, finding=finding)


# --- parent side -------------------------------------------------------------------------------


#: The path that names standard input, as most command-line tools read it.
STDIN = Path("-")


def _batches(stream: IO[bytes]) -> Iterator[tuple[int, list[bytes], int]]:
    """(first line number, lines, bytes) of consecutive batches, read lazily: at most
    _BATCH_LINES lines, and past _BATCH_BYTES only by the line that crossed it."""
    batch: list[bytes] = []
    start, size = 1, 0
    for number, raw in enumerate(_lines(stream), start=1):
        if not batch:
            start = number
        batch.append(raw)
        size += len(raw)
        if len(batch) >= _BATCH_LINES or size >= _BATCH_BYTES:
            yield start, batch, size
            batch, size = [], 0
    if batch:
        yield start, batch, size


def _opened(path: Path, stack: ExitStack) -> tuple[IO[bytes], str | None]:
    """The capture's bytes (standard input for `-`, else the file or pipe at path), read
    through gzip, bzip2 or xz when they are compressed so, and which of them; what it opens is
    closed with the stack (standard input is not ours to close)."""
    if path == STDIN:
        return _decompressed(sys.stdin.buffer, "stdin", stack)
    if path.is_dir():
        raise AliconformError(f"{path}: a directory; scan reads one JSONL file")
    if not path.exists():
        raise AliconformError(f"{path}: no such file")
    try:
        stream = stack.enter_context(path.open("rb"))
    except OSError as exc:
        raise AliconformError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _decompressed(stream, displayed(path), stack)


def _decompressed(stream: IO[bytes], shown: str, stack: ExitStack) -> tuple[IO[bytes], str | None]:
    # peek looks at the first bytes of a pipe or standard input too, without consuming them
    # (a replaced sys.stdin may not have it: then the bytes are read as they come).
    peek = getattr(stream, "peek", None)
    compression = _COMPRESSED.get(peek(2)[:2]) if peek is not None else None
    if compression is None:
        return stream, None
    opener = _DECOMPRESSORS.get(compression)
    if opener is None:
        raise AliconformError(
            f"{shown}: {compression}-compressed, which scan does not read (it reads gzip, "
            f"bzip2 and xz); decompress it on the way in: zstdcat FILE | aliconform scan -"
        )
    # A decompressor leaves the file it reads open: that is closed on its own.
    return stack.enter_context(opener(stream)), compression


def compression_of(path: Path) -> str | None:
    """How a capture file is compressed (gzip, bzip2, xz, zstd), from its first bytes; None for
    an uncompressed one, standard input and a pipe (which cannot be looked into twice)."""
    if path == STDIN or not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            return _COMPRESSED.get(stream.read(2))
    except OSError:
        return None  # scan_file names the problem


#: The first bytes of compressed files, which a capture often is (no JSON line starts so).
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZ": "bzip2", b"\xfd7": "xz", b"(\xb5": "zstd"}
# Each is entered into the ExitStack of scan_file, which closes it.
_DECOMPRESSORS: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {
    "gzip": lambda raw: cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")),
    "bzip2": lambda raw: cast(IO[bytes], bz2.BZ2File(raw, mode="rb")),
    "xz": lambda raw: cast(IO[bytes], lzma.LZMAFile(raw, mode="rb")),  # noqa: SIM115
}
#: What a damaged or cut-off compressed stream raises while it is read.
_DAMAGED = (EOFError, OSError, lzma.LZMAError, zlib.error)


def _lines(stream: Any) -> Iterator[bytes]:
    """Lines of at most MAX_LINE_BYTES; the rest of a longer line is read and dropped."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES)
        if not raw:
            return
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while True:  # discard the remainder without holding it
                rest = stream.readline(MAX_LINE_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
        yield raw


def scan_file(
    path: Path,
    *,
    contracts_dir: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScanResult:
    """Check every line of a JSONL capture (path `-`: standard input), compressed with gzip,
    bzip2 or xz or not; progress(bytes done, uncompressed) is called as batches finish."""
    with ExitStack() as stack:
        stream, compression = _opened(path, stack)
        shown = "stdin" if path == STDIN else displayed(path)
        # A file is named by its name; a pipe by its whole path (<(zcat ...) is /dev/fd/63,
        # whose name alone, "63", says nothing).
        name = "stdin" if path == STDIN else displayed(path.name if path.is_file() else path)
        load_contracts(contracts_dir)  # fail early, in this process, on bad contracts
        try:
            return _scan(stream, shown, name, contracts_dir, workers, progress)
        except _DAMAGED as exc:
            if compression is None:
                raise
            raise AliconformError(
                f"{shown}: the {compression} data is damaged or cut off ({exc}); nothing was "
                f"reported, since the lines after that point cannot be read"
            ) from None


def _scan(
    stream: IO[bytes],
    file: str,
    name: str,
    contracts_dir: Path | None,
    workers: int | None,
    progress: Callable[[int], None] | None,
) -> ScanResult:
    workers = workers or os.cpu_count() or 1
    result = ScanResult(file=file, workers=workers)
    began = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # no fork while rich's threads run
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(str(contracts_dir) if contracts_dir else None,),
    ) as pool:
        _start_ignoring_sigint(pool, workers)
        # Merged in the order of the file, whichever batch finishes first: which distinct
        # findings keep a row of their own past MAX_DISTINCT (and so what `report diff` sees)
        # is then the same on every run. Bounded: the reader never runs far ahead.
        in_order: deque[Future[BatchResult]] = deque()
        try:
            for start, lines, _size in _batches(stream):
                if len(in_order) >= workers * 2:
                    _merge(in_order.popleft(), result, progress)
                in_order.append(pool.submit(_check_batch, start, lines, name))
            while in_order:
                _merge(in_order.popleft(), result, progress)
        except BaseException:  # Ctrl-C, a stop: only the batches already running finish
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    result.seconds = time.perf_counter() - began
    return result


def _merge(
    future: Future[BatchResult], result: ScanResult, progress: Callable[[int], None] | None
) -> None:
    batch = future.result()
    result.merge(batch)
    if progress is not None:
        progress(batch.bytes)
