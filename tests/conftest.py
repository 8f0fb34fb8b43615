from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from vcr.serializers import yamlserializer

from aliconform import ContractSet, load_contracts

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"
CASSETTES = REPO / "cassettes"


@pytest.fixture(scope="session")
def contracts() -> ContractSet:
    return load_contracts(CONTRACTS)


@pytest.fixture
def contract_dir(tmp_path: Path) -> Callable[[str, str], Path]:
    """A contracts directory holding the real error catalog and one contract file."""

    def make(text: str, name: str = "imm/Sample.yaml") -> Path:
        root = tmp_path / "contracts"
        (root / "common").mkdir(parents=True, exist_ok=True)
        shutil.copy(CONTRACTS / "common" / "errors.yaml", root / "common" / "errors.yaml")
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return root

    return make


@pytest.fixture
def copy_of_contracts(tmp_path: Path) -> Path:
    """A writable copy of the real contracts, for tests that break one on purpose."""
    target = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, target)
    return target


@pytest.fixture
def cassettes_copy(tmp_path: Path) -> Path:
    """A writable copy of the committed cassettes."""
    target = tmp_path / "cassettes"
    shutil.copytree(CASSETTES, target)
    return target


def edit_response_body(path: Path, change: Callable[[str], str]) -> None:
    """Edit a cassette's first response body as a person would, keeping vcrpy's format."""
    data = yaml.safe_load(path.read_text("utf-8"))
    body = data["interactions"][0]["response"]["body"]["string"]
    changed = change(body)
    assert changed != body, "the edit changed nothing"
    data["interactions"][0]["response"]["body"]["string"] = changed
    path.write_text(yamlserializer.serialize(data), "utf-8")


@contextmanager
def serving_json(answer: bytes) -> Iterator[str]:
    """A loopback HTTP server answering every GET and POST with the JSON given; yields its
    base URL (http://127.0.0.1:<port>)."""

    class Answer(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
