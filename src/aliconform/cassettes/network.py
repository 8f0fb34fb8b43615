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
    """Refuse every outgoing connection, datagram and name lookup (Unix sockets, and loopback
    if allowed, excepted). HTTP made through requests, urllib3 or httpx never gets this far:
    vcrpy answers it from the cassette, or refuses it."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return
        if allow_loopback and _is_loopback(address):
            return
        raise _blocked(address)

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return original_connect_ex(sock, address)

    def sendto(sock: socket.socket, data: Any, *flags_and_address: Any) -> int:
        check(sock, flags_and_address[-1])  # sendto(data, address) or (data, flags, address)
        return original_sendto(sock, data, *flags_and_address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # A name lookup asks a DNS server, on the network; a loopback name or address does not.
        if host is not None and not (allow_loopback and _is_loopback_name(host)):
            raise _blocked(host)
        return original_getaddrinfo(host, *args, **kwargs)

    with (
        patch.object(socket.socket, "connect", connect),
        patch.object(socket.socket, "connect_ex", connect_ex),
        patch.object(socket.socket, "sendto", sendto),
        patch.object(socket, "getaddrinfo", getaddrinfo),
    ):
        yield


def _is_loopback_name(host: Any) -> bool:
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    return text == "localhost" or text.endswith(".localhost") or _is_loopback(text)


def _blocked(address: Any) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"network access to {address!r} is blocked while replaying cassettes; "
        "a request that no cassette answers must not reach the network"
    )
