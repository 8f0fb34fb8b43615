"""Serving the twin: in a background thread for tests and recordings, or in the foreground.

TwinServer binds the socket itself before uvicorn starts, so port 0 yields a free port that is
known at once and cannot be taken by someone else in between. uvicorn runs with the h11
protocol (whose connections the drop fault can close) and without a `server` header, which
the real service does not send.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from aliconform.twin.app import HandledRequest, Twin
from aliconform.twin.config import TwinConfig
from aliconform.twin.errors import TwinPortError
from aliconform.twin.lifecycle import TaskStore

__all__ = ["TwinServer", "run_twin"]


_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 2  # seconds (uvicorn takes whole ones)


def _uvicorn_config(
    twin: Twin, *, log_level: str, access_log: bool, host: str = "127.0.0.1", port: int = 0
) -> uvicorn.Config:
    return uvicorn.Config(
        twin.app,
        host=host,
        port=port,
        http="h11",
        lifespan="off",
        server_header=False,
        log_level=log_level,
        access_log=access_log,
        # A request held by a latency fault does not hold up a stop for longer than this.
        timeout_graceful_shutdown=_STOP_TIMEOUT,
    )


class TwinServer:
    """A twin on 127.0.0.1 in a background thread: `with TwinServer(config) as twin: ...`."""

    def __init__(
        self, config: TwinConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else TwinConfig()
        self.host = host
        self.port = port
        self.twin = Twin(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """host:port, as the SDK's endpoint setting takes it."""
        return f"{self.host}:{self.port}"

    @property
    def log(self) -> list[HandledRequest]:
        """Every request handled so far, oldest first."""
        return self.twin.log

    @property
    def store(self) -> TaskStore:
        return self.twin.store

    def start(self) -> TwinServer:
        if self._server is not None:
            raise RuntimeError("the twin is running already")
        sock = _listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self.twin, log_level="warning", access_log=False))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="aliconform-twin", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the twin did not start on {self.endpoint}")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=_START_TIMEOUT)

    def __enter__(self) -> TwinServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def run_twin(
    host: str = "127.0.0.1",
    port: int = 8765,
    config: TwinConfig | None = None,
    *,
    log_level: str = "info",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve a twin in the foreground until interrupted (the `aliconform twin` command).
    announce(endpoint) is called once it listens (port 0 picks a free port)."""
    twin = Twin(config if config is not None else TwinConfig())
    sock = _listening_socket(host, port)
    if announce is not None:
        announce(f"http://{host}:{sock.getsockname()[1]}")
    # No access log: it prints query strings, and V2 requests carry AccessKeyId and Signature.
    config_ = _uvicorn_config(twin, log_level=log_level, access_log=False)
    uvicorn.Server(config_).run(sockets=[sock])


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a kept-alive connection waits ~40 ms
    # per response (Nagle's algorithm against the client's delayed acknowledgement).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        # Listening before the endpoint is announced: a client that connects at once waits in
        # the backlog until the server accepts, rather than being refused.
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise TwinPortError(
            f"the twin cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another port with --port (0 picks a free one)"
        ) from None
    return sock
