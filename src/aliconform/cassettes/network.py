"""Blocking the network while replaying: a request that escapes vcrpy fails loudly."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from aliconform.errors import AliconformError

__all__ = ["NetworkBlockedError", "block_network"]


class NetworkBlockedError(AliconformError, OSError):
    """A connection was attempted while the network is blocked."""


def _is_loopback(address: Any) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def block_network(*, allow_loopback: bool = False) -> Iterator[None]:
    """Refuse every outgoing connection (Unix sockets, and loopback if allowed, excepted)."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return
        if allow_loopback and _is_loopback(address):
            return
        raise NetworkBlockedError(
            f"network access to {address!r} is blocked while replaying cassettes; "
            "a request that no cassette answers must not reach the network"
        )

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return original_connect_ex(sock, address)

    with (
        patch.object(socket.socket, "connect", connect),
        patch.object(socket.socket, "connect_ex", connect_ex),
    ):
        yield
