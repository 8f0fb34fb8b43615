"""Scrubbing: no credential, signature, nonce or signed-URL secret is ever written to a file.

Every hook is idempotent: vcrpy runs `before_record_request` again on each request it plays
back (to match it), so scrubbing scrubbed data must change nothing. Placeholders are stable
strings, so a re-recorded cassette differs from the last one only where the service did.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vcr.request import Request

__all__ = [
    "PLACEHOLDER",
    "scrub_headers",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "scrub_uri",
]

PLACEHOLDER = "scrubbed"

# V3 (ACS3-HMAC-SHA256) and V2 (HMAC-SHA1) secrets in headers, by lower-cased header name.
_SECRET_HEADERS = {
    "x-acs-security-token": "scrubbed-security-token",
    "x-acs-bearer-token": "scrubbed-bearer-token",
    "x-acs-signature-nonce": "scrubbed-nonce",
    "x-acs-accesskey-id": "scrubbed-access-key-id",
    "cookie": PLACEHOLDER,
    "set-cookie": PLACEHOLDER,
}
_AUTHORIZATION = re.compile(r"(Credential=)[^,\s]*|(Signature=)[^,\s]*|^(acs )[^:\s]+:\S+$")

# V2 signing parameters in a request's query string.
_QUERY_SECRETS = re.compile(
    r"(?<=[?&])(AccessKeyId|Signature|SignatureNonce|SecurityToken|BearerToken)=[^&#]*"
)

# Signed OSS (and CDN) URLs inside response bodies, also when the body is JSON-escaped
# (\u0026 for &) or HTML-escaped (&amp;), and inside JSON strings nested in JSON strings.
_SIGNED_URL_PARAMS = re.compile(
    r"(?P<sep>[?&]|\\u0026|\\\\u0026|&amp;)"
    r"(?P<name>OSSAccessKeyId|Signature|Expires|security-token|auth_key|x-oss-[A-Za-z0-9-]+)="
    r"(?P<value>[^&\"'\s\\<>#]*)",
    re.IGNORECASE,
)


def scrub_text(text: str) -> str:
    """Replace the secret query parameters of every signed URL in a text."""

    def replace(match: re.Match[str]) -> str:
        return f"{match['sep']}{match['name']}={PLACEHOLDER}"

    return _SIGNED_URL_PARAMS.sub(replace, text)


def scrub_uri(uri: str) -> str:
    return scrub_text(_QUERY_SECRETS.sub(lambda m: f"{m[1]}={PLACEHOLDER}", uri))


def _scrub_authorization(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[1]:
            return f"{match[1]}scrubbed-access-key-id"
        if match[2]:
            return f"{match[2]}{PLACEHOLDER}"
        return f"{match[3]}scrubbed-access-key-id:{PLACEHOLDER}"

    return _AUTHORIZATION.sub(replace, value)


def _scrub_header(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        return _scrub_authorization(value)
    if lowered in _SECRET_HEADERS:
        return _SECRET_HEADERS[lowered]
    return scrub_text(value)


def scrub_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Headers as vcrpy stores them (a value or a list of values per name), scrubbed."""
    scrubbed: dict[str, Any] = {}
    for name, value in headers.items():
        if isinstance(value, list | tuple):
            scrubbed[name] = [_scrub_header(name, str(v)) for v in value]
        else:
            scrubbed[name] = _scrub_header(name, str(value))
    return scrubbed


def _scrub_body(body: Any) -> Any:
    if isinstance(body, bytes):
        try:
            return scrub_text(body.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return body  # binary: no URL of ours can hide in it undecoded
    if isinstance(body, str):
        return scrub_text(body)
    return body


def scrub_request(request: Request) -> Request:
    """vcrpy's before_record_request hook (also run on playback, hence idempotent)."""
    request.uri = scrub_uri(request.uri)
    for name in list(request.headers):
        request.headers[name] = _scrub_header(name, str(request.headers[name]))
    request.body = _scrub_body(request.body)
    # A V2 POST carries its signing parameters in a form body.
    if isinstance(request.body, bytes) and b"Signature=" in request.body:
        request.body = _QUERY_SECRETS.sub(
            lambda m: f"{m[1]}={PLACEHOLDER}", "?" + request.body.decode("utf-8", "replace")
        )[1:].encode("utf-8")
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """vcrpy's before_record_response hook: response headers and signed URLs in the body."""
    response["headers"] = scrub_headers(response.get("headers") or {})
    body = response.get("body")
    if isinstance(body, dict) and "string" in body:
        body["string"] = _scrub_body(body["string"])
    return response
