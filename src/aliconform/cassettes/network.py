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
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    # ::ffff:127.0.0.1 is 127.0.0.1 on a dual-stack socket; ipaddress does not call it loopback.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


@contextmanager
def block_network(*, allow_loopback: bool = False) -> Iterator[None]:
    """Refuse every outgoing connection, datagram and name lookup (Unix sockets, and loopback
    if allowed, excepted). HTTP made through requests, urllib3 or httpx never gets this far:
    vcrpy answers it from the cassette, or refuses it."""
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto
    original_sendmsg = socket.socket.sendmsg
    original_getaddrinfo = socket.getaddrinfo
    original_getnameinfo = socket.getnameinfo

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

    def sendmsg(sock: socket.socket, buffers: Any, *rest: Any) -> int:
        address = rest[2] if len(rest) > 2 else None  # (ancdata, flags, address)
        if address is not None:
            check(sock, address)
        return original_sendmsg(sock, buffers, *rest)

    def lookable(host: Any) -> Any:
        """The name to look up: a name lookup asks a DNS server, on the network; a loopback
        name or address does not, and a *.localhost name (RFC 6761) is looked up as
        localhost, so that the name itself never reaches a DNS server."""
        if host is None:
            return host
        if not (allow_loopback and _is_loopback_name(host)):
            raise _blocked(host)
        return "localhost" if _text(host).endswith(".localhost") else host

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return original_getaddrinfo(lookable(host), *args, **kwargs)

    def by_name(original: Any) -> Any:
        return lambda host, *args: original(lookable(host), *args)

    def getnameinfo(address: Any, flags: int) -> Any:
        host, *rest = address
        return original_getnameinfo((lookable(host), *rest), flags)

    with (
        patch.object(socket.socket, "connect", connect),
        patch.object(socket.socket, "connect_ex", connect_ex),
        patch.object(socket.socket, "sendto", sendto),
        patch.object(socket.socket, "sendmsg", sendmsg),
        patch.object(socket, "getaddrinfo", getaddrinfo),
        patch.object(socket, "gethostbyname", by_name(socket.gethostbyname)),
        patch.object(socket, "gethostbyname_ex", by_name(socket.gethostbyname_ex)),
        patch.object(socket, "gethostbyaddr", by_name(socket.gethostbyaddr)),
        patch.object(socket, "getnameinfo", getnameinfo),
    ):
        yield


def _text(host: Any) -> str:
    return host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)


def _is_loopback_name(host: Any) -> bool:
    text = _text(host)
    return text == "localhost" or text.endswith(".localhost") or _is_loopback(text)


def _blocked(address: Any) -> NetworkBlockedError:
    return NetworkBlockedError(
        f"network access to {address!r} is blocked while replaying cassettes; "
        "a request that no cassette answers must not reach the network"
    )
