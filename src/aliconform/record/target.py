"""Where recording calls go: region to endpoint, an explicit endpoint, signature and timeouts.

The endpoint of a product in a region is the contract's pattern (`imm.<region>.aliyuncs.com`,
`ice.<region>.aliyuncs.com`); `--endpoint` replaces it for every product (a VPC endpoint, a
proxy, or the local twin). Credentials are never taken from here: the SDK resolves them from
the alibabacloud-credentials default chain on every call.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from aliconform.contracts import Contract
from aliconform.errors import AliconformError, did_you_mean
from aliconform.sdk import SdkCallOptions

__all__ = ["RecordTarget", "TargetError", "is_loopback"]


class TargetError(AliconformError):
    """An unknown region or an endpoint that cannot be used."""


@dataclass(frozen=True, slots=True)
class RecordTarget:
    region: str
    endpoint: str | None = None  # host[:port] (https; http on loopback) or http(s)://host[:port]
    signature: Literal["v3", "v2"] = "v3"
    connect_timeout_ms: int = 5_000
    read_timeout_ms: int = 30_000

    def __post_init__(self) -> None:
        if not self.region.strip():
            raise TargetError("--region is empty: give a region id, such as cn-shanghai")

    def serves(self, contract: Contract) -> bool:
        """Whether the contract's product documents an endpoint in the region (or none is
        needed: an explicit endpoint, or a product that lists no regions)."""
        regions = contract.endpoint.regions
        return self.endpoint is not None or not regions or self.region in regions

    def host_and_protocol(self, contract: Contract) -> tuple[str, Literal["https", "http"]]:
        if self.endpoint is None:
            regions = contract.endpoint.regions
            if not self.serves(contract):
                raise TargetError(
                    f"{contract.product} has no documented endpoint in region "
                    f"'{self.region}'{did_you_mean(self.region, regions)}; documented regions: "
                    f"{', '.join(regions)}"
                )
            return contract.endpoint.pattern.format(region=self.region), "https"
        if "://" not in self.endpoint:
            # This machine (the twin, a local proxy) speaks plain HTTP unless told otherwise:
            # give https://localhost:port for a local TLS endpoint.
            host = self._checked_host(self.endpoint.rstrip("/"))
            return host, "http" if is_loopback(host) else "https"
        parts = self._split(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TargetError(f"--endpoint {self.endpoint!r}: expected host[:port] or a URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise TargetError(
                f"--endpoint {self.endpoint!r}: RPC calls go to '/', with no path, query or "
                "fragment"
            )
        return self._checked_host(parts.netloc), "http" if parts.scheme == "http" else "https"

    def _split(self, text: str) -> SplitResult:
        try:
            return urlsplit(text)
        except ValueError as exc:  # an unclosed [ of an IPv6 address
            raise TargetError(f"--endpoint {self.endpoint!r}: {exc}") from None

    def _checked_host(self, host: str) -> str:
        """host[:port], refused before any call when it names no host, or no usable port."""
        if "@" in host:  # user:password@host: the message must not repeat what it holds
            raise TargetError(
                "--endpoint: a user or password in it is neither needed nor sent (every call is "
                "signed with your credentials); give host[:port] or scheme://host[:port]"
            )
        if host.count(":") > 1 and not host.startswith("["):
            raise TargetError(
                f"--endpoint {self.endpoint!r}: write an IPv6 address in brackets, e.g. [::1]:8765"
            )
        parts = self._split(f"//{host}")
        if not parts.hostname or parts.path or parts.query or parts.fragment:
            raise TargetError(f"--endpoint {self.endpoint!r}: expected host[:port] or a URL")
        if ":" in host.rpartition("]")[2]:  # a port is given (after an IPv6 address's bracket)
            try:
                port = parts.port
            except ValueError:  # not a number, or past 65535
                port = None
            if not port:
                raise TargetError(
                    f"--endpoint {self.endpoint!r}: the port must be a number from 1 to 65535"
                )
        return host

    def options_for(self, contract: Contract) -> SdkCallOptions:
        host, protocol = self.host_and_protocol(contract)
        return SdkCallOptions(
            endpoint=host,
            region=self.region,
            protocol=protocol,
            signature=self.signature,
            connect_timeout_ms=self.connect_timeout_ms,
            read_timeout_ms=self.read_timeout_ms,
        )


def is_loopback(host: str) -> bool:
    """Whether an endpoint (host[:port]) is this machine: such recordings are not 'live'."""
    if host.count(":") > 1 and not host.startswith("["):
        name = host  # a bare IPv6 address
    else:
        name = urlsplit(f"//{host}").hostname or ""  # [::1]:8765, 127.0.0.1:80, localhost
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
