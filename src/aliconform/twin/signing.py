"""Verifying Alibaba Cloud RPC request signatures (V3 ACS3-HMAC-SHA256 and V2 HMAC-SHA1).

The twin must refuse what the real gateway refuses, or a recording made against it would
pass requests that fail in production. The signatures are computed by the official SDK's own
functions (alibabacloud_tea_openapi.utils), never re-implemented here: the twin only picks out
what was signed, asks the SDK for the signature and compares in constant time. The string to
sign is rebuilt only to quote it in SignatureDoesNotMatch messages, as the real gateway does.

Everything here is a plain function over a request's parts, usable without a server.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, quote_plus

from aliconform.sdk import CanonicalRequest, openapi_utils

__all__ = [
    "SIGNATURE_WINDOW",
    "V2_SIGNATURE_METHOD",
    "V3_ALGORITHM",
    "Authenticated",
    "NonceLedger",
    "SignatureRejected",
    "V3Authorization",
    "WireRequest",
    "authenticate",
    "check_timestamp",
    "content_sha256",
    "parse_v3_authorization",
    "signature_version",
    "v2_signature",
    "v2_string_to_sign",
    "v3_signature",
    "v3_string_to_sign",
    "verify_v2",
    "verify_v3",
]

V3_ALGORITHM = "ACS3-HMAC-SHA256"
V2_SIGNATURE_METHOD = "HMAC-SHA1"
V2_SIGNATURE_VERSION = "1.0"
#: How far a request's timestamp may be from the server's clock (the gateway's 15 minutes).
SIGNATURE_WINDOW = dt.timedelta(minutes=15)

# Headers every V3 request must sign (the V3 documentation: host and the x-acs-* headers).
_V3_REQUIRED_SIGNED = (
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
)
_V2_REQUIRED = ("AccessKeyId", "SignatureMethod", "SignatureNonce", "Timestamp")
_AUTHORIZATION = re.compile(
    r"^(?P<algorithm>\S+)\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]*),\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


class SignatureRejected(Exception):
    """The gateway refuses the request. code is a gateway error code; parameter fills its
    message template; server_string (for SignatureDoesNotMatch) is the server's string to sign."""

    def __init__(self, code: str, parameter: str = "", server_string: str | None = None) -> None:
        super().__init__(code if not parameter else f"{code} ({parameter})")
        self.code = code
        self.parameter = parameter
        self.server_string = server_string


@dataclass(frozen=True, slots=True)
class WireRequest:
    """An RPC request as it arrived: header names lower-cased, query and form decoded."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together (V2 signs both)."""
        return {**self.query, **self.form}


@dataclass(frozen=True, slots=True)
class V3Authorization:
    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who signed a request that verified, and the values replay protection looks at."""

    version: Literal["v3", "v2"]
    access_key_id: str
    nonce: str
    timestamp: str


# --- V3 ------------------------------------------------------------------------------------


def content_sha256(body: bytes) -> str:
    """The hex SHA-256 of a body, as x-acs-content-sha256 must carry it."""
    return bytes(openapi_utils().Utils.hash(body, V3_ALGORITHM)).hex()


def parse_v3_authorization(value: str) -> V3Authorization:
    """Split an Authorization header; SignatureRejected(IncompleteSignature) if it is not V3."""
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise SignatureRejected("IncompleteSignature")
    signed = tuple(name for name in match["signed"].split(";") if name)
    return V3Authorization(match["algorithm"], match["credential"], signed, match["signature"])


def _v3_parts(
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
) -> CanonicalRequest:
    lowered = {name.lower(): value for name, value in headers.items()}
    chosen = {name.lower(): lowered.get(name.lower(), "") for name in signed_headers}
    return CanonicalRequest(method.upper(), pathname or "/", dict(query), chosen)


def v3_signature(
    *,
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
    access_key_id: str,
    secret: str,
) -> str:
    """The hex V3 signature the SDK computes for these parts (only signed_headers count)."""
    parts = _v3_parts(method, pathname, query, headers, signed_headers)
    authorization = openapi_utils().Utils.get_authorization(
        parts, V3_ALGORITHM, payload_hash, access_key_id, secret
    )
    return str(authorization).rsplit("Signature=", 1)[1]


def v3_string_to_sign(
    *,
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    """The V3 string to sign (algorithm, then the hex hash of the canonical request)."""
    parts = _v3_parts(method, pathname, query, headers, signed_headers)
    canonical_headers, names = openapi_utils().get_canonicalized_headers(parts.headers)
    canonical_request = "\n".join(
        (
            parts.method,
            parts.pathname,
            openapi_utils().get_canonical_query_string(parts.query),
            canonical_headers,
            names,
            payload_hash,
        )
    )
    digest = bytes(
        openapi_utils().Utils.hash(canonical_request.encode("utf-8"), V3_ALGORITHM)
    ).hex()
    return f"{V3_ALGORITHM}\n{digest}"


def verify_v3(
    *,
    method: str,
    pathname: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    authorization: str,
    secret: str,
) -> bool:
    """Whether a V3 request's Authorization verifies with secret, over the body actually sent.

    The payload hash is the body's own, so a body changed after signing (or an
    x-acs-content-sha256 that does not match it) fails. A malformed Authorization raises
    SignatureRejected.
    """
    parsed = parse_v3_authorization(authorization)
    lowered = {name.lower(): value for name, value in headers.items()}
    actual = content_sha256(body)
    if not hmac.compare_digest(lowered.get("x-acs-content-sha256", "").lower(), actual):
        return False
    expected = v3_signature(
        method=method,
        pathname=pathname,
        query=query,
        headers=lowered,
        signed_headers=parsed.signed_headers,
        payload_hash=actual,
        access_key_id=parsed.access_key_id,
        secret=secret,
    )
    return hmac.compare_digest(expected.lower(), parsed.signature.lower())


# --- V2 ------------------------------------------------------------------------------------


def v2_signature(params: Mapping[str, str], method: str, secret: str) -> str:
    """The base64 V2 signature the SDK computes (params: query and form, without Signature)."""
    signed = {name: value for name, value in params.items() if name != "Signature"}
    return str(openapi_utils().Utils.get_rpcsignature(signed, method.upper(), secret))


def v2_string_to_sign(params: Mapping[str, str], method: str) -> str:
    """The V2 string to sign: METHOD&%2F&<percent-encoded sorted parameters>."""
    pairs = sorted((name, value) for name, value in params.items() if name != "Signature")
    canonical = "&".join(
        f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in pairs
    )
    return f"{method.upper()}&%2F&{quote_plus(canonical, safe='~')}"


def verify_v2(params: Mapping[str, str], method: str, secret: str) -> bool:
    """Whether params' Signature is the V2 signature of the other params with secret."""
    given = params.get("Signature", "")
    return hmac.compare_digest(v2_signature(params, method, secret), given)


# --- a whole request -----------------------------------------------------------------------


def signature_version(request: WireRequest) -> Literal["v3", "v2"] | None:
    """V3 if the request carries Authorization, V2 if it carries a Signature parameter."""
    if "authorization" in request.headers:
        return "v3"
    if "Signature" in request.params:
        return "v2"
    return None


def authenticate(request: WireRequest, credentials: Mapping[str, str]) -> Authenticated:
    """Check a request's signature as the gateway does; SignatureRejected says why it fails.

    credentials maps access key IDs to secrets. Codes: MissingSignature (no signature at all),
    IncompleteSignature (a malformed or partial one), Missing<Parameter> (a V2 parameter left
    out), InvalidSignatureMethod, InvalidAccessKeyId.NotFound, SignatureDoesNotMatch.
    """
    version = signature_version(request)
    if version == "v3":
        return _authenticate_v3(request, credentials)
    if version == "v2":
        return _authenticate_v2(request, credentials)
    raise SignatureRejected("MissingSignature", "Signature")


def _authenticate_v3(request: WireRequest, credentials: Mapping[str, str]) -> Authenticated:
    parsed = parse_v3_authorization(request.headers["authorization"])
    if parsed.algorithm != V3_ALGORITHM:
        raise SignatureRejected("InvalidSignatureMethod")
    signed = set(parsed.signed_headers)
    unsigned = [name for name in _V3_REQUIRED_SIGNED if name not in signed]
    unsigned += [
        name
        for name in request.headers
        if (name.startswith("x-acs-") or name == "content-type") and name not in signed
    ]
    if unsigned or any(name not in request.headers for name in _V3_REQUIRED_SIGNED):
        raise SignatureRejected("IncompleteSignature")
    secret = credentials.get(parsed.access_key_id)
    if secret is None:
        raise SignatureRejected("InvalidAccessKeyId.NotFound")
    ok = verify_v3(
        method=request.method,
        pathname=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        authorization=request.headers["authorization"],
        secret=secret,
    )
    if not ok:
        server_string = v3_string_to_sign(
            method=request.method,
            pathname=request.path,
            query=request.query,
            headers=request.headers,
            signed_headers=parsed.signed_headers,
            payload_hash=content_sha256(request.body),
        )
        raise SignatureRejected("SignatureDoesNotMatch", server_string=server_string)
    return Authenticated(
        "v3",
        parsed.access_key_id,
        request.headers["x-acs-signature-nonce"],
        request.headers["x-acs-date"],
    )


def _authenticate_v2(request: WireRequest, credentials: Mapping[str, str]) -> Authenticated:
    params = request.params
    for name in _V2_REQUIRED:
        if not params.get(name):
            raise SignatureRejected(f"Missing{name}", name)
    if params["SignatureMethod"] != V2_SIGNATURE_METHOD:
        raise SignatureRejected("InvalidSignatureMethod")
    if params.get("SignatureVersion", V2_SIGNATURE_VERSION) != V2_SIGNATURE_VERSION:
        raise SignatureRejected("InvalidSignatureVersion", "SignatureVersion")
    secret = credentials.get(params["AccessKeyId"])
    if secret is None:
        raise SignatureRejected("InvalidAccessKeyId.NotFound")
    if not verify_v2(params, request.method, secret):
        server_string = v2_string_to_sign(params, request.method)
        raise SignatureRejected("SignatureDoesNotMatch", server_string=server_string)
    return Authenticated("v2", params["AccessKeyId"], params["SignatureNonce"], params["Timestamp"])


# --- replay protection ---------------------------------------------------------------------


def check_timestamp(value: str, now: dt.datetime) -> None:
    """A V3 x-acs-date or V2 Timestamp: well formed (UTC, to the second) and recent."""
    try:
        moment = dt.datetime.strptime(value, _TIMESTAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureRejected("InvalidTimeStamp.Format") from None
    if abs(now - moment) > SIGNATURE_WINDOW:
        raise SignatureRejected("InvalidTimeStamp.Expired")


class NonceLedger:
    """Signature nonces seen within the signature window: a nonce is accepted once."""

    def __init__(self) -> None:
        self._seen: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def use(self, nonce: str, now: dt.datetime) -> None:
        """Record a nonce; SignatureRejected(SignatureNonceUsed) if it was used already."""
        with self._lock:
            self._forget_before(now - 2 * SIGNATURE_WINDOW)
            if nonce in self._seen:
                raise SignatureRejected("SignatureNonceUsed")
            self._seen[nonce] = now

    def _forget_before(self, cutoff: dt.datetime) -> None:
        # Insertion order is arrival order, so the stale nonces are at the front.
        while self._seen:
            nonce, seen = next(iter(self._seen.items()))
            if seen >= cutoff:
                return
            del self._seen[nonce]
