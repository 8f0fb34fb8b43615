"""What an Alibaba Cloud RPC request asks for, whatever way it was signed.

An RPC call names its action and API version either in V3 headers (`x-acs-action`,
`x-acs-version`) or in V2 query parameters (`Action`, `Version`); its business parameters travel
in the query string or a form body, next to the V2 signing parameters. Matching, scrubbing and
replay all need the same reading of a request, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from aliconform.contracts.model import SIGNING_PARAMETERS

__all__ = ["SIGNING_PARAMETERS", "RpcCall", "header_value", "read_rpc_call"]


@dataclass(frozen=True, slots=True)
class RpcCall:
    action: str | None
    version: str | None
    params: Mapping[str, str] = field(default_factory=dict)  # business parameters only
    signing: Literal["v3", "v2", "none"] = "none"
    host: str = ""

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.action or '?'} {self.version or '?'} ({shown or 'no parameters'})"


def header_value(headers: Mapping[str, object], name: str) -> str | None:
    """A header's first value, whatever the case of its name and whether it is a list."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def read_rpc_call(
    uri: str, headers: Mapping[str, object], body: bytes | str | None = None
) -> RpcCall:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    form = _form_pairs(headers, body)
    pairs = dict(query)
    action = header_value(headers, "x-acs-action") or pairs.get("Action")
    version = header_value(headers, "x-acs-version") or pairs.get("Version")
    if header_value(headers, "authorization"):
        signing: Literal["v3", "v2", "none"] = "v3"
    elif "Signature" in pairs:
        signing = "v2"
    else:
        signing = "none"
    params = {k: v for k, v in _chain(query, form) if k not in SIGNING_PARAMETERS}
    return RpcCall(action, version, params, signing, parts.hostname or "")


def _form_pairs(headers: Mapping[str, object], body: bytes | str | None) -> list[tuple[str, str]]:
    content_type = header_value(headers, "content-type") or ""
    if not body or "application/x-www-form-urlencoded" not in content_type:
        return []
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return parse_qsl(text, keep_blank_values=True)


def _chain(*groups: Iterable[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    for group in groups:
        yield from group
