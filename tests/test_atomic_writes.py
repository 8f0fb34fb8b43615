"""Writes are atomic: a process killed at any moment leaves each cassette old-and-intact or
new-and-complete, never half-written. Tested with real SIGKILLs of a process writing in a loop.

The writer alternates a small and a large (about 20 MB) version of a cassette, with the YAML
text prepared in advance, so most of its time goes to writing the file: a write that is not
atomic is caught mid-way. After each kill the file must be byte-for-byte one of the two.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "cassettes" / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"

WRITER = """
import hashlib, json, sys
from pathlib import Path
from aliconform.cassettes import store

source, target = Path(sys.argv[1]), Path(sys.argv[2])
small = store.load_cassette(source)
big = small.model_copy(deep=True)
big.interactions = big.interactions * 1000
texts = {n: store.yamlserializer.serialize(c.model_dump(mode="python")) for n, c in ((1, small), (1000, big))}
real_serialize = store.yamlserializer.serialize

def prepared(data):
    interactions = data.get("interactions") if isinstance(data, dict) else None
    return texts[len(interactions)] if interactions else real_serialize(data)

store.yamlserializer.serialize = prepared
store.interactions_digest = lambda cassette: "0" * 64
ref = [r for r in store.discover_cassettes(source.parents[2]) if r.path == source][0]
provenance = store.load_provenance(ref)
print(json.dumps([hashlib.sha256(t.encode()).hexdigest() for t in texts.values()]), flush=True)
while True:
    store.write_cassette(target, small, provenance)
    store.write_cassette(target, big, provenance)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killing_a_writer_at_any_moment_never_leaves_a_partial_cassette(tmp_path: Path) -> None:
    target = tmp_path / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"
    seen: set[str] = set()
    for attempt in range(16):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(SOURCE), str(target)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        complete = set(json.loads(process.stdout.readline()))
        time.sleep(0.03 + 0.029 * attempt)  # a different moment of the write loop each time
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        if target.exists():
            digest = hashlib.sha256(target.read_bytes()).hexdigest()
            assert digest in complete, f"attempt {attempt}: the cassette was left half-written"
            seen.add(digest)
        for leftover in target.parent.glob("*.partial"):
            assert leftover.name.startswith(".")  # a temporary file may remain; never the cassette
    assert seen, "the writer never completed a write; the test proved nothing"


@pytest.mark.parametrize("existed", [True, False], ids=["replacing", "new"])
def test_a_cassette_whose_provenance_cannot_be_written_is_left_as_it_was(
    tmp_path: Path, existed: bool
) -> None:
    """The provenance is renamed into place after the cassette; when that fails, the cassette
    is put back (or removed, if it is new): a failed write changes neither file."""
    from aliconform.cassettes import store

    target = tmp_path / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"
    old = store.load_cassette(SOURCE)
    ref = next(r for r in store.discover_cassettes(SOURCE.parents[2]) if r.path == SOURCE)
    provenance = store.load_provenance(ref)
    assert provenance is not None
    sidecar = target.with_name("doc-example-success.provenance.yaml")
    if existed:
        store.write_cassette(target, old, provenance)
        before = target.read_bytes()
        sidecar.unlink()
    sidecar.mkdir(parents=True)  # a rename onto it fails
    new = old.model_copy(deep=True)
    new.interactions = new.interactions * 2
    with pytest.raises(IsADirectoryError):
        store.write_cassette(target, new, provenance)
    if existed:
        assert target.read_bytes() == before
    else:
        assert not target.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(
        [sidecar.name, *([target.name] if existed else [])]
    )


def test_an_out_path_that_is_a_link_a_device_or_a_pipe_is_written_not_replaced(
    tmp_path: Path,
) -> None:
    """Renaming a temporary file over --out would turn a symbolic link, /dev/null or a pipe
    (/dev/fd/63 of a process substitution) into a plain file."""
    import threading

    from aliconform.cassettes.store import atomic_write_text

    target = tmp_path / "target.json"
    target.write_text("old", "utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert target.read_text("utf-8") == "new"
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "made.json")
    atomic_write_text(dangling, "made")
    assert dangling.is_symlink()
    assert (tmp_path / "made.json").read_text("utf-8") == "made"

    # (a device is not tried: were the write to regress, a test run as root would replace it)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    # a daemon: were the write to regress to a rename, the reader would wait for ever
    reader = threading.Thread(target=lambda: received.append(fifo.read_text("utf-8")), daemon=True)
    reader.start()
    atomic_write_text(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == ["through the pipe"]
    assert fifo.is_fifo()


def test_openapi_out_dash_writes_standard_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aliconform.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["openapi", "--out", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["openapi"] == "3.1.0"
    assert not (tmp_path / "-").exists()


def test_a_path_naming_an_open_descriptor_is_written_through_it(tmp_path: Path) -> None:
    """/dev/fd/N (and /dev/stdout) of a file opened for appending: the text is appended, as a
    shell's >> would; following the link would rename over the log and lose what it held."""
    from aliconform.cassettes.store import atomic_write_text

    log = tmp_path / "log.txt"
    log.write_text("earlier line\n", "utf-8")
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        atomic_write_text(Path(f"/dev/fd/{descriptor}"), "appended\n")
        atomic_write_text(Path(f"/proc/self/fd/{descriptor}"), "and again\n")
    finally:
        os.close(descriptor)
    assert log.read_text("utf-8") == "earlier line\nappended\nand again\n"


def test_a_link_that_loops_or_leads_nowhere_is_an_error_and_a_private_file_stays_private(
    tmp_path: Path,
) -> None:
    from aliconform.cassettes.store import atomic_write_text

    loop_a, loop_b = tmp_path / "a", tmp_path / "b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with pytest.raises(OSError, match="a symbolic link that loops"):
        atomic_write_text(loop_a, "x")
    assert loop_a.is_symlink()
    assert loop_b.is_symlink()
    nowhere = tmp_path / "nowhere"
    nowhere.symlink_to(tmp_path / "missing" / "dir" / "file.json")
    with pytest.raises(FileNotFoundError, match="which does not exist"):
        atomic_write_text(nowhere, "x")
    assert not (tmp_path / "missing").exists()  # a link is followed, never a reason for mkdir
    private = tmp_path / "private.json"
    private.write_text("old", "utf-8")
    private.chmod(0o600)
    atomic_write_text(private, "new")
    assert (private.read_text("utf-8"), private.stat().st_mode & 0o777) == ("new", 0o600)


def test_a_stop_between_a_cassette_s_two_renames_lands_after_the_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop acted on just after the cassette's rename skipped the sidecar's: a new cassette
    beside the old provenance, reported as edited by hand and failing replay."""
    from aliconform.cassettes import store

    class Stopped(Exception):
        pass

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    target = tmp_path / "ice" / "QuerySmarttagJob" / "doc-example-success.yaml"
    old = store.load_cassette(SOURCE)
    ref = next(r for r in store.discover_cassettes(SOURCE.parents[2]) if r.path == SOURCE)
    provenance = store.load_provenance(ref)
    assert provenance is not None
    store.write_cassette(target, old, provenance)
    new = old.model_copy(deep=True)
    new.interactions = new.interactions * 2
    real = Path.replace

    def replace_then_stop(self: Path, destination: Path) -> Path:
        done = real(self, destination)
        if Path(destination) == target:
            signal.raise_signal(signal.SIGTERM)
        return done

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        monkeypatch.setattr(Path, "replace", replace_then_stop)
        with pytest.raises(Stopped):
            store.write_cassette(target, new, provenance)
    finally:
        signal.signal(signal.SIGTERM, previous)
    monkeypatch.undo()
    written = next(r for r in store.discover_cassettes(tmp_path) if r.path == target)
    cassette, sidecar = store.load_cassette(target), store.load_provenance(written)
    assert len(cassette.interactions) == 2 * len(old.interactions)
    assert sidecar is not None
    assert store.provenance_is_current(sidecar, cassette)  # the sidecar went in with it
