"""The secret scan: no credential may land in a committed cassette or a written report.

Cassettes and reports are written from live traffic. Scrubbing (`aliconform.cassettes.scrub`)
replaces every key, token and signature with `***` before anything is written; this scan is the
check on the result, reading the files as they are on disk. It runs in the default test run, over
`cassettes/` and `reports/`, so that a gap in scrubbing fails a test instead of reaching a commit.

Two sets of rules read every line: detect-secrets with all of its built-in detectors (keywords,
high-entropy strings, private keys, JWTs, AWS and other vendors' keys, ...), and aliconform's
own rules for the Alibaba Cloud credentials that detect-secrets does not know. Lines are read as
written: detect-secrets' own `scan_file` first parses a YAML file and keeps only mapping values,
which drops list items, and vcrpy stores every header as a list.

False positives are answered by narrow allowances, each next to its reason, never by turning a
detector off: a digest or an id passes only as the value of a field known to carry it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from detect_secrets.core import scan as detect_secrets_scan
from detect_secrets.settings import Settings, default_settings
from detect_secrets.util.code_snippet import CodeSnippet

from aliconform.cassettes.scrub import (
    ACCESS_KEY_ID,
    CREDENTIAL_HEADERS,
    PLACEHOLDER,
    STS_ACCESS_KEY_ID,
    STS_SECURITY_TOKEN,
    scrub_header,
    spell_out_escapes,
)
from aliconform.errors import AliconformError

__all__ = [
    "SecretHit",
    "SecretScanError",
    "files_to_scan",
    "format_hit",
    "iter_texts",
    "read_files",
    "scan_secrets",
    "scan_texts",
    "secret_redactor",
]


@dataclass(frozen=True, slots=True, order=True)
class SecretHit:
    """One suspected secret: where it is and which rule saw it, never the secret itself."""

    file: str  # relative to the scan's root, with forward slashes
    line: int  # 1-based
    rule: str  # a stable slug, e.g. alibaba-access-key-id or hex-high-entropy-string
    # What a reader may see of it: the public prefix of an identifier (LTAI…, STS.…), else
    # only its length; never a character of a secret (hits reach CI logs).
    preview: str


class SecretScanError(AliconformError, FileNotFoundError):
    """A path given to the secret scan cannot be scanned: it does not exist, or it is a gzip
    file that cannot be read whole (damaged, cut off, or too large once unpacked)."""


def format_hit(hit: SecretHit) -> str:
    """One line for the terminal: `file:line rule preview`."""
    return f"{hit.file}:{hit.line} {hit.rule} {hit.preview}"


# --- Alibaba Cloud rules -----------------------------------------------------------------------
#
# Run beside detect-secrets on the same lines. (As detect-secrets plugins they would be loaded
# by executing this file again on every scan, each time adding new plugin classes.)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A credential by its shape: each pattern's `secret` group is the value."""

    slug: str
    patterns: tuple[re.Pattern[str], ...]


# An optional quote around a field name or value: plain, backslash-escaped once or more (JSON in
# a YAML or JSON string), or HTML-escaped as the report's templates write it.
_QUOTE: Final = r"(?:\\*[\"']|&(?:quot|#34|#39|#x27);)?"


_RULES: Final = (
    _Rule("alibaba-access-key-id", (ACCESS_KEY_ID,)),
    _Rule("alibaba-sts-access-key-id", (STS_ACCESS_KEY_ID,)),
    _Rule("alibaba-sts-security-token", (STS_SECURITY_TOKEN,)),
    # The AccessKey secret by its field name, also where detect-secrets' keyword detector does
    # not look: JSON escaped inside a cassette's body string, HTML-escaped, a query parameter.
    _Rule(
        "alibaba-access-key-secret",
        (
            re.compile(
                rf"access[_-]?key[_-]?secret{_QUOTE}\s*(?:[:=]|%3[Dd])\s*{_QUOTE}"
                r"(?P<secret>[A-Za-z0-9]{16,})",
                re.IGNORECASE,
            ),
            # an XML answer: <AccessKeySecret>...</AccessKeySecret>, also HTML-escaped
            re.compile(
                r"(?:<|&lt;)access[_-]?key[_-]?secret(?:>|&gt;)\s*(?P<secret>[A-Za-z0-9]{16,})",
                re.IGNORECASE,
            ),
        ),
    ),
    # `Credential=` (the AccessKey id) and `Signature=` of a V3 (ACS3-*) Authorization header.
    _Rule(
        "alibaba-acs3-authorization",
        tuple(
            re.compile(
                rf"ACS3-[A-Z0-9-]+\s+(?:[^\s,\"']+,\s*)*?{name}=(?P<secret>[^\s,\"'\\<&]+)",
                re.IGNORECASE,
            )
            for name in ("Credential", "Signature")
        ),
    ),
    # The signing parameters of a V2 request (query string or form body) and of a signed OSS
    # URL; also percent-encoded inside another parameter's value (once: %26, %3D; or twice:
    # %2526, %253D), JSON-escaped (\u0026) and HTML-escaped (&amp;). `Signature` belongs to
    # both and is reported once.
    _Rule(
        "alibaba-signing-parameter",
        (
            re.compile(
                r"(?:^|(?<=[?&\s\"'>;])|(?<=%26)|(?<=%3[Ff])|(?<=%2526)|(?<=%253[Ff])"
                r"|(?<=\\u0026))"
                r"(?:AccessKeyId|SecurityToken|Signature"  # V2 API requests
                r"|OSSAccessKeyId|security-token|x-oss-signature|x-oss-credential"  # OSS URLs
                r"|x-oss-security-token)"
                r"(?:=|%3[Dd]|%253[Dd])"
                r"(?P<secret>(?:[A-Za-z0-9._~+/=*-]|%(?!(?:25)?(?:26|3[Ff]))[0-9A-Fa-f]{2})+)",
                re.IGNORECASE,
            ),
        ),
    ),
)


def _alibaba_secrets(line: str) -> Iterator[tuple[str, str]]:
    """(rule, value) for every Alibaba Cloud credential on a line, except the placeholder."""
    for rule in _RULES:
        for pattern in rule.patterns:
            for match in pattern.finditer(line):
                # Percent-decoded too: a scrubbed signed URL inside a query value is %2A%2A%2A,
                # inside a value encoded twice %252A%252A%252A.
                if _decoded(match["secret"]) != PLACEHOLDER:
                    yield rule.slug, match["secret"]


def _decoded(value: str, times: int = 3) -> str:
    """The value percent-decoded until nothing changes (at most `times` times)."""
    for _ in range(times):
        decoded = unquote(value)
        if decoded == value:
            break
        value = decoded
    return value


# --- Allowances -------------------------------------------------------------------------------

# sha256 of the empty body: every body-less V3-signed request carries it in x-acs-content-sha256.
# A published constant, not a secret, wherever it appears.
_EMPTY_BODY_SHA256: Final = hashlib.sha256(b"").hexdigest()

# Fields whose value is a digest of public content, with the exact shape the digest has there.
# A value is allowed only when it is the value of one of these fields and has that shape.
_DIGEST_FIELDS: Final = {
    # V3 signing sends the sha256 of the request body in the clear; a hash of the recorded
    # (scrubbed) body says nothing the body does not.
    "x-acs-content-sha256": re.compile("[0-9a-f]{64}"),
    # An HTTP entity tag: OSS and CDN answers send the MD5 of public content (of each part, with
    # their count, for a multipart upload).
    "etag": re.compile("[0-9A-Fa-f]{32}(?:-[0-9]+)?"),
    # Provenance sidecars: the sha256 of the cassette's own interactions, to detect hand edits.
    "interactions_sha256": re.compile("[0-9a-f]{64}"),
    # Reports: a finding's id, the first 16 hex digits of the sha256 of what, where and which
    # source (report.model.finding_key). drift.json has it as "id", drift.html as data-id on a
    # finding's row and data-detail-for on its detail row.
    "id": re.compile("[0-9a-f]{16}"),
    # IMM event ids (EventId: 3 hex digits, a hyphen, then 20-40 letters and digits, e.g.
    # 2F6-1Bz99Xi93EnRpNEyLudILJm...): random by design, public in every IMM response.
    "eventid": re.compile("[0-9A-F]{3}-[0-9A-Za-z]{20,40}"),
    "data-id": re.compile("[0-9a-f]{16}"),
    "data-detail-for": re.compile("[0-9a-f]{16}"),
    # A finding that repeats another names that finding's id: "repeats" in drift.json,
    # data-repeats in drift.html.
    "repeats": re.compile("[0-9a-f]{16}"),
    "data-repeats": re.compile("[0-9a-f]{16}"),
}
# ICE resource ids (see _is_resource_id): a PascalCase field ending in Id, not a key's.
_RESOURCE_ID_FIELD: Final = re.compile(r"(?!\w*Key)(?:[A-Z][a-z0-9]*)+Id")
_HEX32: Final = re.compile("[0-9a-f]{32}")
# `key: value`, `"key": "value"`, `key="value"`, `key: ['value']`.
# Also inside JSON strings nested in YAML or JSON, where quotes come backslash-escaped.
_FIELD = re.compile(
    r"(?<![\w-])(?P<key>[\w-]+)\\*[\"']?\s*[:=]\s*(?:\[\s*)?\\*[\"']?"
    r"(?P<value>[^\"'\s,\]\\]+)"
)
# A YAML block list item and the key above it, as vcrpy writes a header: `name:` / `- value`
# (an ETag's own quotes inside YAML's: `- '"5B3C..."'`).
_LIST_ITEM = re.compile(r"^\s*-\s*[\"']{0,2}(?P<value>[^\"'\s]+)[\"']{0,2}\s*$")
# The start of a list of ids in a field named for them: "OutputMediaIds": ["...", ...].
_ID_LIST = re.compile(r"(?P<key>[A-Z]\w*Id)s\\*[\"']?\s*:\s*\[")
_BARE_KEY = re.compile(r"^\s*[\"']?(?P<key>[\w-]+)[\"']?:\s*$")
# The HTML report's Content-Security-Policy names its own inline script by its sha256, in base64.
_CSP_SCRIPT_HASH = re.compile(r"script-src[^;\"]*'(?P<value>sha256-[A-Za-z0-9+/]{43}=)'")


def _is_resource_id(key: str, value: str) -> bool:
    """ICE names jobs, pipelines, templates and media by UUIDs written without hyphens, in
    PascalCase fields ending in Id (PipelineId, JobId, MediaId); detect-secrets already passes
    UUIDs with hyphens. Never for a field naming a key (AccessKeyId)."""
    if not _RESOURCE_ID_FIELD.fullmatch(key) or not _HEX32.fullmatch(value):
        return False
    parsed = uuid.UUID(hex=value)
    return parsed.variant == uuid.RFC_4122 and 1 <= (parsed.version or 0) <= 8


def _is_allowed(key: str, value: str) -> bool:
    if value == key:
        # A field's own name as its "value": a report naming the field, as in "/Password:
        # 'Password' is not documented", where the keyword detector sees `Password: '...'`.
        return True
    shape = _DIGEST_FIELDS.get(key.lower())
    return (shape is not None and shape.fullmatch(value) is not None) or _is_resource_id(key, value)


def _is_allowed_value(secret: str, line: str, context: CodeSnippet) -> bool:
    """detect-secrets filter: the candidate is the value of a field known to hold a digest or
    an id of that exact shape, or the field's own name."""
    # Inside an escaped JSON string the detector's candidate keeps the backslash before the
    # closing quote; the field's value does not.
    secret = secret.rstrip("\\")
    if any(m["value"] == secret and _is_allowed(m["key"], secret) for m in _FIELD.finditer(line)):
        return True
    item, key = _LIST_ITEM.match(line), _BARE_KEY.match(context.previous_line)
    if item and key and item["value"] == secret and _is_allowed(key["key"], secret):
        return True
    # A list may go on over the lines that follow (YAML folds a long body): read up to this line.
    text = " ".join(part.strip() for part in context.lines[: context.target_index + 1])
    for listed in _ID_LIST.finditer(text):
        items = text[listed.end() :].split("]", 1)[0]
        if secret in _HEX32.findall(items):
            return _is_resource_id(listed["key"], secret)
    return any(m["value"] == secret for m in _CSP_SCRIPT_HASH.finditer(line))


# --- detect-secrets configuration -------------------------------------------------------------

# A heuristic for source code (`password = get_password()`) that drops a whole line, every
# finding on it, when the line holds `= name(...)` or `: name[...]`. In data files that shape is
# incidental and would hide a real key on the same line.
_LINE_DROPPING_HEURISTIC: Final = "detect_secrets.filters.heuristic.is_indirect_reference"


@contextmanager
def _detect_secrets() -> Iterator[None]:
    """Every built-in detector, the allowances as filters; global settings restored after."""
    with default_settings() as settings:
        heuristics = [
            {"path": path}
            for path in settings.filters
            if path not in Settings.DEFAULT_FILTERS and path != _LINE_DROPPING_HEURISTIC
        ]
        settings.configure_plugins(
            [
                # detect-secrets' defaults, stated so that a change shows in review.
                {"name": "Base64HighEntropyString", "limit": 4.5},
                {"name": "HexHighEntropyString", "limit": 3.0},
            ]
        )
        settings.configure_filters(
            [
                *heuristics,
                {
                    "path": "detect_secrets.filters.regex.should_exclude_secret",
                    "pattern": [f"^{_EMPTY_BODY_SHA256}$"],
                },
                {"path": f"{__name__}.{_is_allowed_value.__name__}"},
            ]
        )
        yield


# --- The scan ---------------------------------------------------------------------------------


#: How much a compressed body or file may grow to when it is read: past it, the rest is not
#: read (a scan is no place to unpack a decompression bomb).
_MOST_DECOMPRESSED: Final = 64 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _decompressed(data: bytes) -> bytes | None:
    """A gzip (every member of it, as `gzip >>` appends them) or deflate (zlib, or raw as some
    servers send it) stream unpacked; None when the bytes are none of these. Raises _TooLarge
    past _MOST_DECOMPRESSED: what lies beyond would go unread."""
    for wbits in (zlib.MAX_WBITS | 16, zlib.MAX_WBITS, -zlib.MAX_WBITS):  # gzip, zlib, raw
        try:
            unpacked = _unpack(data, wbits)
        except zlib.error:
            continue
        if unpacked is not None:
            return unpacked
    return None


def _unpack(data: bytes, wbits: int) -> bytes | None:
    unpacked, rest = bytearray(), data
    while rest:
        unpacker = zlib.decompressobj(wbits)
        unpacked += unpacker.decompress(rest, _MOST_DECOMPRESSED + 1 - len(unpacked))
        if len(unpacked) > _MOST_DECOMPRESSED:
            raise _TooLarge
        if not unpacker.eof:
            return None  # cut off, or not this kind of stream
        rest = unpacker.unused_data
        if wbits != zlib.MAX_WBITS | 16 or not rest.startswith(b"\x1f\x8b"):
            break  # only gzip has members; anything after the stream is not of it
    return bytes(unpacked)


def _text_of(path: Path, data: bytes) -> bytes | None:
    """What a file holds as text: a gzip file read through its decompressor (a capture, a
    saved body); None for anything else that is not text (a NUL byte near the start: images,
    archives, UTF-16). A gzip file that cannot be read whole is an error, not a pass."""
    if data.startswith(b"\x1f\x8b"):  # gzip's magic number
        try:
            unpacked = _decompressed(data)
        except _TooLarge:
            raise SecretScanError(
                f"secret scan: {path}: more than {_MOST_DECOMPRESSED // 2**20} MiB once "
                "unpacked; scan it unpacked, in parts"
            ) from None
        if unpacked is None:
            raise SecretScanError(f"secret scan: {path}: a damaged or cut-off gzip file")
        data = unpacked
    return None if b"\0" in data[:8192] else data


def iter_texts(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes]]:
    """The text the scan reads, file by file (one in memory at a time): the files given, and
    every file under the directories given, in order, once each, each read once (a pipe,
    `<(zcat ...)`, can be read only once). Files that are not text are left out. Raises
    SecretScanError, before reading anything, for a path that is not there."""
    paths = list(paths)
    for path in paths:
        if not path.exists():
            raise SecretScanError(f"secret scan: no such file or directory: {path}")
    seen: set[Path] = set()
    for path in paths:
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate in seen:
                continue
            seen.add(candidate)
            text = _text_of(candidate, candidate.read_bytes())
            if text is not None:
                yield candidate, text


def read_files(paths: Iterable[Path]) -> dict[Path, bytes]:
    """Every text iter_texts reads, by file."""
    return dict(iter_texts(paths))


def files_to_scan(paths: Iterable[Path]) -> list[Path]:
    """The text files the scan reads (see iter_texts)."""
    return list(read_files(paths))


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


# Rules whose match starts with a prefix the format fixes (LTAI, STS.), which tells a reader
# which kind of identifier it is and gives nothing of it away.
_PUBLIC_PREFIX: Final = {"alibaba-access-key-id": 4, "alibaba-sts-access-key-id": 4}


def _redact(rule: str, secret: str | None) -> str:
    """The public prefix of an identifier, else the length alone: a secret's own characters,
    even a few, would narrow a search for it."""
    secret = secret or ""
    prefix = _PUBLIC_PREFIX.get(rule)
    if prefix is not None and len(secret) > 2 * prefix:
        return secret[:prefix] + "…"
    if rule in _PREFIX_ONLY:  # the detector captures the token's prefix: its length misleads
        return "***"
    return f"*** ({len(secret)} characters)"


# detect-secrets rules whose captured value is only the token's prefix (ghp, gho, ...).
_PREFIX_ONLY: Final = frozenset({"github-token"})


@contextmanager
def secret_redactor() -> Iterator[Callable[[str], str]]:
    """A function that withholds from a text whatever the scan would flag in it, for texts a
    report quotes from a response: scrubbing knows Alibaba Cloud's credentials, while a
    response may carry any vendor's (an AWS key, a GitHub token), and a report must pass its own
    secret scan. A hit is replaced by `***`; a line that still reads as a secret (a detector
    that names only a token's prefix) is withheld whole."""
    with _detect_secrets():

        @functools.lru_cache(maxsize=4096)  # one drift across an array repeats its texts
        def redact(text: str) -> str:
            if not text:
                return text
            return "\n".join(_redacted(line) for line in text.split("\n"))

        yield redact


def _secrets_on(line: str) -> list[tuple[str, str]]:
    found = detect_secrets_scan._process_line_based_plugins([(1, line)], filename="report")
    hits = [(_slug(hit.type), hit.secret_value or "") for hit in found]
    return hits + list(_alibaba_secrets(line))


def _redacted(line: str) -> str:
    hits = _secrets_on(line)
    if not hits:
        return line
    for _rule, secret in hits:
        if len(secret) >= 8:
            line = line.replace(secret, "***")
        elif secret:  # a prefix (ghp, AKIA): the token it starts
            line = re.sub(rf"{re.escape(secret)}[\w\-./+=]*", "***", line)
    remaining = _secrets_on(line)
    if remaining:
        return f"*** (withheld: a suspected secret, {remaining[0][0]})"
    return line


def _slug(secret_type: str) -> str:
    """detect-secrets' type name as a rule: `Hex High Entropy String` -> hex-high-entropy-string."""
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _hits(path: Path, data: bytes, file: str) -> Iterator[SecretHit]:
    # Lines as written, numbered as an editor numbers them; a stray non-UTF-8 byte is replaced,
    # not a reason to skip the file. _process_line_based_plugins is internal to detect-secrets:
    # it is the per-line pass that its public scan_file runs after the YAML and INI transformers,
    # with every configured detector and filter.
    lines = data.decode("utf-8", errors="replace").split("\n")
    numbered = list(enumerate(lines, start=1)) + _binary_blocks(lines)
    for number, _header, value in _headers(lines):
        yield SecretHit(file, number, "credential-header", _redact("credential-header", value))
    for found in detect_secrets_scan._process_line_based_plugins(numbered, filename=str(path)):
        rule = _slug(found.type)
        yield SecretHit(file, found.line_number, rule, _redact(rule, found.secret_value))
    for number, line in numbered:
        # Also as read with JSON escapes spelled out: \u004cTAI… in a body is an AccessKey id.
        readings = (line, spell_out_escapes(line))
        for rule, secret in dict.fromkeys(
            hit for text in readings for hit in _alibaba_secrets(text)
        ):
            yield SecretHit(file, number, rule, _redact(rule, secret))


# A YAML `!!binary` scalar: vcrpy writes a body that is not UTF-8 (GBK, Latin-1, compressed)
# as base64, where no rule could read it.
_BINARY_TAG: Final = re.compile(r"!!binary\s*(?:\|[-+]?)?\s*(?P<inline>\S*)\s*$")


def _binary_blocks(lines: list[str]) -> list[tuple[int, str]]:
    """The lines of every `!!binary` scalar, decoded, each numbered with the line of its tag.
    Bytes are read as Latin-1, one character each: the ASCII a credential is made of reads as
    itself whatever the body's own encoding."""
    decoded: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        tag = _BINARY_TAG.search(line)
        if tag is None:
            continue
        indent = len(line) - len(line.lstrip())
        parts = [tag["inline"]]
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            parts.append(following.strip())
        try:
            data = base64.b64decode("".join(parts), validate=True)
        except ValueError:  # not base64 after all: its lines are read as they are anyway
            continue
        # A gzip or deflate body (vcrpy keeps what the server sent) is read unpacked as well,
        # up to _MOST_DECOMPRESSED (a body past it is a decompression bomb, not an answer).
        try:
            unpacked = _decompressed(data) or b""
        except _TooLarge:
            unpacked = b""
        for body in (data, unpacked):
            decoded += [(index + 1, text) for text in body.decode("latin-1").split("\n")]
    return decoded


# A cassette's `headers:` block as vcrpy writes it: `Name:` then `- value` items (or, written by
# hand, `Name: value`). Only lines inside such a block are read as headers: a body's text that
# YAML wrapped onto a line of its own may start with `Authorization:` too. Each pattern is
# linear in the line's length.
_HEADERS_BLOCK = re.compile(r"^(?P<indent>\s*)headers:\s*$")
_HEADER_NAME = re.compile(r"^\s*[\"']?(?P<name>[A-Za-z0-9-]+)[\"']?:\s*$")
_HEADER_ITEM = re.compile(r"^\s*-\s+(?P<value>\S.*)$")
_HEADER_LINE = re.compile(r"^\s*[\"']?(?P<name>[A-Za-z0-9-]+)[\"']?:\s+(?P<value>\S.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _header_values(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line, name, value) of every header in the `headers:` blocks of a YAML cassette."""
    block: int | None = None  # the indentation of the `headers:` key being read
    name: str | None = None
    for number, line in enumerate(lines, start=1):
        opened = _HEADERS_BLOCK.match(line)
        if opened is not None:
            block, name = _indent(line), None
            continue
        if block is None or not line.strip():
            continue
        if _indent(line) <= block:
            block = None  # the block ended: the next key of the request or response
            continue
        named, item, inline = _HEADER_NAME.match(line), _HEADER_ITEM.match(line), None
        if named is not None:
            name = named["name"]
        elif item is not None and name is not None:
            yield number, name, _unquoted(item["value"])
        elif (inline := _HEADER_LINE.match(line)) is not None:
            name = None
            yield number, inline["name"], _unquoted(inline["value"])


def _headers(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line, name, value) of each credential header whose value recording would have
    replaced: the scan is as strict as the scrubbing it checks. An ACS3 Authorization is left
    to its own rule, which says which part is not scrubbed."""
    for number, header, value in _header_values(lines):
        if header.lower() not in CREDENTIAL_HEADERS:
            continue
        if value == PLACEHOLDER or value.upper().startswith("ACS3-"):
            continue
        if scrub_header(header, value) != value:
            yield number, header, value


def scan_secrets(paths: Iterable[Path], *, root: Path | None = None) -> list[SecretHit]:
    """Every suspected secret in the files and directories given, sorted by file and line.

    File names in the hits are relative to `root` (default: the current directory). Raises
    SecretScanError if a path does not exist.
    """
    return scan_texts(iter_texts(paths), root=root)


def scan_texts(texts: Iterable[tuple[Path, bytes]], *, root: Path | None = None) -> list[SecretHit]:
    """scan_secrets of the texts iter_texts reads (or any others, by file)."""
    base = (root or Path.cwd()).resolve()
    with _detect_secrets():
        return sorted(
            {hit for path, data in texts for hit in _hits(path, data, _display(path, base))}
        )
