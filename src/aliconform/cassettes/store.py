"""Cassette files: vcrpy's own format on disk, a provenance sidecar next to each, atomic writes.

A cassette is `cassettes/<product>/<Operation>/<scenario>.yaml`, exactly as vcrpy writes it, so
plain vcrpy and pytest-recording load it. Its provenance (recorded live, or derived from a
documentation example) lives in `<scenario>.provenance.yaml` beside it: a sidecar survives vcrpy
re-saving the cassette, and records a digest of the interactions so that a cassette changed
behind its provenance's back is noticed.

Writes go to a temporary file in the same directory, flushed to disk and renamed into place:
an interrupted write leaves the old file intact, never half of a new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from vcr.serializers import yamlserializer

from aliconform.contracts.loader import validate_document
from aliconform.contracts.model import Product
from aliconform.contracts.yamlsource import display_path, read_yaml
from aliconform.drift.findings import displayed
from aliconform.errors import CassetteError, ContractIssue

__all__ = [
    "PROVENANCE_SUFFIX",
    "AtomicPersister",
    "CassetteFile",
    "CassetteRef",
    "DocumentationOrigin",
    "Interaction",
    "MisplacedFile",
    "Provenance",
    "RecordedRequest",
    "RecordedResponse",
    "atomic_write_text",
    "atomic_write_texts",
    "discover_cassettes",
    "interactions_digest",
    "load_cassette",
    "load_provenance",
    "provenance_is_current",
    "stops_held",
    "survey_cassettes",
    "write_cassette",
]

PROVENANCE_SUFFIX = ".provenance.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    # vcrpy may add keys in later versions; a cassette it wrote must still load.
    model_config = ConfigDict(extra="allow")


# vcrpy reads every key below itself when it plays a cassette back (Request(**request),
# response["status"]["message"], response["headers"]): no default may stand in for one, or a
# cassette this model accepts would fail inside vcrpy with a traceback.


class RecordedRequest(_Open):
    method: str
    # vcrpy hands the URI to requests as it is: anything but an absolute http(s) URL fails there.
    uri: str = Field(pattern=r"^(?i:https?)://[^\s/?#]+")
    headers: dict[str, list[str]]
    body: str | bytes | None  # required, though it may be null

    @field_validator("uri")
    @classmethod
    def _reachable_shape(cls, uri: str) -> str:
        """A host, and a port that can be one: replay sends the request through requests,
        which refuses anything else with an error of its own."""
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError as exc:  # an unclosed [IPv6 bracket, a port past 65535
            raise ValueError(f"not a URL requests can send: {exc}") from None
        if not parts.hostname:
            raise ValueError("the URL names no host")
        if port == 0:
            raise ValueError("port 0 is no port a request can be sent to")
        return uri

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, headers: dict[str, list[str]]) -> dict[str, list[str]]:
        """Header names and values as requests sends them (it refuses a line break in one)."""
        for name, values in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: not a header name (a colon, a space or a line break)")
            for value in values:
                if not _HEADER_VALUE.fullmatch(value):
                    raise ValueError(
                        f"{name}: {value[:40]!r}: a line break or leading space in a header value"
                    )
        return headers


# What requests accepts (requests.utils.check_header_validity).
_HEADER_NAME = re.compile(r"[^:\s][^:\r\n]*")
_HEADER_VALUE = re.compile(r"(?:\S[^\r\n]*)?")


class Status(_Open):
    # Strict: vcrpy plays the value back as written, so a quoted "200" must not pass as 200.
    code: int = Field(strict=True, ge=100, le=599)
    message: str


class Body(_Open):
    string: str | bytes


class RecordedResponse(_Open):
    status: Status
    headers: dict[str, list[str]]
    body: Body

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None


class Interaction(_Open):
    request: RecordedRequest
    response: RecordedResponse


class CassetteFile(_Open):
    version: Literal[1] = 1
    interactions: list[Interaction] = Field(min_length=1)


class DocumentationOrigin(_Model):
    file: str = Field(description="Seed document the example comes from")
    title: str
    location: str = Field(description="Where on the page: the example or the error table")
    last_updated: dt.date | None = None


class Provenance(_Model):
    """Where a cassette's interactions came from. Written next to the cassette."""

    format_version: Literal[1] = 1
    origin: Literal["live", "local", "documentation"] = Field(
        description="live: a real endpoint; local: a loopback endpoint such as the twin"
    )
    operation: str
    scenario: str
    description: str
    recorded_at: dt.datetime = Field(description="When the cassette was recorded or derived (UTC)")
    region: str | None = None
    endpoint: str | None = None
    signature: Literal["v3", "v2"] = "v3"
    sdk: dict[str, str] = Field(
        default_factory=dict, description="SDK packages and versions that shaped the requests"
    )
    documentation: DocumentationOrigin | None = None
    synthesized: list[str] = Field(
        default_factory=list,
        description="Values the source does not give and how they were filled (never fields)",
    )
    interactions_sha256: str

    def age_days(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.UTC)
        recorded = self.recorded_at
        if recorded.tzinfo is None:
            recorded = recorded.replace(tzinfo=dt.UTC)
        return max(0, (now - recorded).days)


@dataclass(frozen=True, slots=True)
class CassetteRef:
    path: Path
    product: str
    operation: str
    scenario: str

    @property
    def provenance_path(self) -> Path:
        return self.path.with_name(self.scenario + PROVENANCE_SUFFIX)

    root: Path | None = None  # the cassettes directory it was found in

    @property
    def display(self) -> str:
        """The path from the cassettes directory's name on (cassettes/imm/...), the same in any
        checkout, so that findings keep their identity between runs and machines."""
        if self.root is None:
            return self.shown
        return displayed((Path(self.root.name) / self.path.relative_to(self.root)).as_posix())

    @property
    def shown(self) -> str:
        """The path as it can be opened from the working directory, for the console (a name
        with bytes that are not UTF-8, or an escape character, shown escaped)."""
        return displayed(display_path(self.path))


def discover_cassettes(root: Path) -> list[CassetteRef]:
    """Every cassette under root, laid out as <product>/<Operation>/<scenario>.yaml, sorted;
    raises CassetteError naming every file that is not where a cassette belongs."""
    refs, misplaced = survey_cassettes(root)
    if misplaced:
        raise CassetteError([item.issue() for item in misplaced])
    return refs


@dataclass(frozen=True)
class MisplacedFile:
    """A YAML file under the cassettes directory that is not where a cassette belongs."""

    path: Path
    display: str  # from the cassettes directory's name on, as a CassetteRef's display
    reason: str

    def issue(self) -> ContractIssue:
        return ContractIssue(display_path(self.path), None, None, "", self.reason)


def survey_cassettes(root: Path) -> tuple[list[CassetteRef], list[MisplacedFile]]:
    """The cassettes under root, and the YAML files that are not where a cassette belongs (or
    not named as one), each with the reason: commands list those as problems and go on."""
    if not root.is_dir():
        problem = "a file, not the cassettes directory" if root.exists() else "no such directory"
        raise CassetteError([ContractIssue(display_path(root), None, None, "", problem)])
    refs: list[CassetteRef] = []
    misplaced: list[MisplacedFile] = []
    for path in sorted(root.rglob("*")):
        name = path.name
        if path.suffix not in (".yaml", ".yml") or name.startswith(".") or not path.is_file():
            continue  # hidden files are temporary ones of an interrupted write
        relative = path.relative_to(root).parts
        issue = None
        if name.endswith(PROVENANCE_SUFFIX) and len(relative) == 3:
            cassette = name.removesuffix(PROVENANCE_SUFFIX) + ".yaml"
            if path.with_name(cassette).is_file():
                continue
            # Left behind when its cassette was deleted, it would describe whatever is recorded
            # under that name next.
            issue = f"a provenance without its cassette {cassette}: restore it, or delete this file"
        elif len(relative) != 3:
            issue = "a cassette belongs at <product>/<Operation>/<scenario>.yaml under the cassettes directory"
            if len(relative) == 2 and root.name in get_args(Product):  # given cassettes/imm
                # The directory given is wrong, not this file: one error, not one per file.
                issue += f" (give {display_path(root.parent)}, the directory above {root.name})"
                raise CassetteError([ContractIssue(display_path(path), None, None, "", issue)])
        elif name.endswith(".provenance.yml"):
            issue = f"a provenance's name ends in .yaml: rename it to {path.stem}.yaml"
        elif path.suffix == ".yml":
            issue = f"a cassette's name ends in .yaml: rename it to {path.stem}.yaml"
        if issue is not None:
            display = (Path(root.name) / path.relative_to(root)).as_posix()
            misplaced.append(MisplacedFile(path, display, issue))
            continue
        product, operation, scenario = relative
        refs.append(CassetteRef(path, product, operation, scenario.removesuffix(".yaml"), root))
    return refs, misplaced


_M = TypeVar("_M", bound=BaseModel)


def _load_validated(path: Path, model: type[_M]) -> _M:
    """A YAML file validated with a model; any problem is reported with file, line and key."""
    document = read_yaml(path)
    if isinstance(document, ContractIssue):
        raise CassetteError([document])
    loaded = validate_document(model, document)
    if isinstance(loaded, list):
        raise CassetteError(loaded)
    return loaded


def load_cassette(path: Path) -> CassetteFile:
    """A cassette file, validated; any problem is reported with file, line and key path."""
    return _load_validated(path, CassetteFile)


def load_provenance(ref: CassetteRef) -> Provenance | None:
    """The cassette's provenance, or None when it has no sidecar. A sidecar that names another
    operation or scenario (copied from another cassette) describes that one: an error."""
    if not ref.provenance_path.is_file():
        return None
    provenance = _load_validated(ref.provenance_path, Provenance)
    mismatches = [
        (key, f"{named}, but it is beside {beside}")
        for key, named, expected, beside in (
            ("operation", provenance.operation, ref.operation, f"a {ref.operation} cassette"),
            ("scenario", provenance.scenario, ref.scenario, f"the cassette {ref.path.name}"),
        )
        if named != expected
    ]
    if mismatches:
        document = read_yaml(ref.provenance_path)
        assert not isinstance(document, ContractIssue), "read a moment ago"
        raise CassetteError(
            [
                document.issue((key,), f"{message} (copied from another cassette?)")
                for key, message in mismatches
            ]
        )
    return provenance


def provenance_is_current(provenance: Provenance, cassette: CassetteFile) -> bool:
    """Whether the cassette holds exactly what its provenance was written for: a hand edit
    since (even one that still conforms) changes the interactions' digest."""
    return provenance.interactions_sha256 == interactions_digest(cassette)


def interactions_digest(cassette: CassetteFile) -> str:
    """sha256 of the interactions' content, independent of YAML layout and key order."""

    def default(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.hex()
        raise TypeError(type(value).__name__)

    data = [interaction.model_dump(mode="python") for interaction in cassette.interactions]
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=default)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same directory, then a rename.

    A path that names an open descriptor (/dev/stdout, /dev/fd/63 of a process substitution)
    is written through that descriptor, as a shell redirection would be: following it would
    rename over the file it was opened on (a log appended to with >>). Anything else that is
    not a regular file (a device, a named pipe) is written to as it is, since renaming over it
    would replace it with a file. A symbolic link is followed to the file it names, which is
    replaced, the link kept; a link to nowhere, or a loop, is an error.
    """
    descriptor = _descriptor(path)
    if descriptor is not None:
        with os.fdopen(os.dup(descriptor), "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    if path.exists() and not path.is_file() and not path.is_dir():
        with path.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    target = _link_target(path) if path.is_symlink() else path
    with _written_beside(target, text) as temporary:
        temporary.replace(target)


def atomic_write_texts(files: Sequence[tuple[Path, str]]) -> None:
    """Several files written as one set (a run's reports): each is staged in full (written and
    synced beside its place), then all are renamed into place in quick succession with SIGINT,
    SIGTERM and SIGHUP acted on only after the last, so that a stop lands before the first
    rename or after the last, never between (which would leave files of two runs side by side). A path that
    atomic_write_text writes in place (a descriptor, a device, a pipe) is written after them."""
    in_place: list[tuple[Path, str]] = []
    with contextlib.ExitStack() as stack:
        staged: list[tuple[Path, Path]] = []
        for path, text in files:
            if _descriptor(path) is not None or (
                path.exists() and not path.is_file() and not path.is_dir()
            ):
                in_place.append((path, text))
                continue
            target = _link_target(path) if path.is_symlink() else path
            staged.append((stack.enter_context(_written_beside(target, text)), target))
        kept = [stack.enter_context(_kept(target)) for _, target in staged]
        with stops_held():
            placed: list[tuple[Path, Path | None]] = []
            try:
                for (temporary, target), previous in zip(staged, kept, strict=True):
                    temporary.replace(target)
                    placed.append((target, previous))
            except OSError:
                # A rename refused (a directory in the way, a file another user owns): the
                # files already renamed are put back, so the set stays the previous run's.
                for target, previous in placed:
                    if previous is None:
                        target.unlink(missing_ok=True)
                    else:
                        previous.replace(target)
                raise
    for path, text in in_place:
        atomic_write_text(path, text)


_STOPS = [
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
]


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Signals that stop a run, received inside the block, are acted on when it ends. Python
    runs signal handlers in the main thread whichever thread the signal reaches (a progress
    bar's, a server's), so the handlers are swapped for ones that note the signal, and the
    noted signals are raised again once the previous handlers are back. Outside the main
    thread, where no handler can be set, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, _frame: object) -> None:
        noted.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in _STOPS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)


# /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N: this process's own descriptors.
_DESCRIPTOR_PATH = re.compile(r"/dev/(?:(stdout)|(stderr)|fd/(\d+))|/proc/self/fd/(\d+)")


def _descriptor(path: Path) -> int | None:
    # abspath, not resolve: resolving /dev/stdout would name the file it is open on.
    match = _DESCRIPTOR_PATH.fullmatch(os.path.abspath(path))  # noqa: PTH100
    if match is None:
        return None
    stdout, stderr, *numbers = match.groups()
    if stdout:
        return 1
    if stderr:
        return 2
    return int(next(number for number in numbers if number))


def _link_target(link: Path) -> Path:
    """The file a symbolic link names (to be created if it is not there yet), in a directory
    that exists: a link is followed, never a reason to make directories."""
    try:
        link.stat()
    except FileNotFoundError:
        pass  # a link to a file not there yet: it is made where the link points
    except OSError as exc:  # ELOOP
        raise OSError(exc.errno, "a symbolic link that loops") from None
    target = Path(os.path.realpath(link))
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"a link into {target.parent}, which does not exist")
    return target


@contextlib.contextmanager
def _written_beside(path: Path, text: str) -> Iterator[Path]:
    """The text written and synced to a hidden temporary file beside path, for the caller to
    rename onto it; the temporary file is removed if the caller does not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file 0600: give it the mode of the file it replaces (a file kept
        # private stays so), else the mode any other new file would have.
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        temporary.chmod(mode)
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_cassette(path: Path, cassette: CassetteFile, provenance: Provenance) -> None:
    """Write a cassette in vcrpy's format and its provenance sidecar, each atomically.

    Both are written and synced in full before either is renamed into place, so that the two
    renames follow each other at once. The cassette goes first: if the process dies between
    them, the old provenance's digest no longer matches and the report says so, rather than
    vouching for new content.
    """
    data = cassette.model_dump(mode="python", exclude_none=False)
    sidecar = provenance.model_copy(update={"interactions_sha256": interactions_digest(cassette)})
    sidecar_path = path.with_name(path.name.removesuffix(".yaml") + PROVENANCE_SUFFIX)
    with (
        _written_beside(path, yamlserializer.serialize(data)) as new_cassette,
        _written_beside(sidecar_path, _provenance_yaml(sidecar)) as new_sidecar,
        _kept(path) as previous,
        stops_held(),  # a stop between the renames would leave a cassette with the old sidecar
    ):
        new_cassette.replace(path)
        try:
            new_sidecar.replace(sidecar_path)
        except BaseException:
            # The provenance could not be put in place: the cassette goes back to what it was
            # (or away, if it is new), so that a failed write changes neither file.
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                previous.replace(path)
            raise


@contextlib.contextmanager
def _kept(path: Path) -> Iterator[Path | None]:
    """A hidden copy of the file at path as it is now (None if there is none), removed after:
    a hard link where the file system allows one (no bytes copied), else a copy."""
    if not path.exists():
        yield None
        return
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".previous", dir=path.parent)
    os.close(handle)
    kept = Path(name)
    try:
        try:
            kept.unlink()
            os.link(path, kept)
        except OSError:
            shutil.copy2(path, kept, follow_symlinks=False)
        yield kept
    finally:
        kept.unlink(missing_ok=True)


def _provenance_yaml(provenance: Provenance) -> str:
    header = (
        "# Provenance of the cassette beside this file (written by aliconform; keep with it).\n"
    )
    data = provenance.model_dump(mode="json", exclude_none=True)
    return header + str(yamlserializer.serialize(data))


class AtomicPersister:
    """A vcrpy persister whose saves are atomic (vcrpy's own writes the file in place)."""

    @classmethod
    def load_cassette(cls, cassette_path: str | Path, serializer: Any) -> Any:
        from vcr.persisters.filesystem import FilesystemPersister

        return FilesystemPersister.load_cassette(cassette_path, serializer)

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: Any, serializer: Any) -> None:
        from vcr.serialize import serialize

        atomic_write_text(Path(cassette_path), str(serialize(cassette_dict, serializer)))
