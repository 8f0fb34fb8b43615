"""Sending a generated request in the real RPC wire form, signed by the official SDK's functions.

The OpenAPI document gives every action its own path; on the wire an RPC call is `POST /` on
the product's endpoint, its parameters in the query string, the action and version in
`x-acs-action`/`x-acs-version` (V3) or in the signed parameters (V2). This module builds that
request with the headers and parameters alibabacloud-tea-openapi's own `do_request` (V3) and
`do_rpcrequest` (V2) send (tests/test_fuzz.py compares them with what the SDK sends), with the
SDK's helpers for every step that matters to the gateway: flattening values (`Utils.query`), nonces,
timestamps, the payload hash and the signature (`Utils.get_authorization`,
`Utils.get_rpcsignature`). Nothing about signing is re-implemented here.

Generated values are sent as generated: a negative case's number, list or object is flattened
as the SDK flattens it (`Name.1`, `Name.Key`), so the service sees what a careless SDK call
would send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode

import requests

from aliconform.contracts import Contract
from aliconform.errors import AliconformError
from aliconform.sdk import (
    CanonicalRequest,
    NoCredentialsError,
    openapi_utils,
    resolve_credentials,
)

__all__ = ["Credentials", "FuzzTransportError", "SignedRequest", "WireTarget", "sign_request"]

_V3_ALGORITHM = "ACS3-HMAC-SHA256"
_USER_AGENT = "aliconform-fuzz"


class FuzzTransportError(AliconformError):
    """The request could not be built or signed (no credentials, an unusable endpoint)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key (and STS token) to sign with; repr never shows the secret."""

    access_key_id: str
    access_key_secret: str
    security_token: str | None = None
    provider: str | None = None  # the chain's provider name, sent as the SDK sends it

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id[:4]}…, secret=***)"

    @classmethod
    def from_default_chain(cls) -> Credentials:
        """The alibabacloud-credentials default chain (environment, OIDC, profile, RAM role)."""
        try:
            model = resolve_credentials()
        except NoCredentialsError as exc:
            raise FuzzTransportError(str(exc)) from None
        if not model.access_key_id or not model.access_key_secret:
            raise FuzzTransportError(
                "the credentials chain gave no access key to sign with "
                f"(credential type {model.type!r})"
            )
        return cls(
            model.access_key_id,
            model.access_key_secret,
            model.security_token or None,
            getattr(model, "provider_name", None) or None,
        )


@dataclass(frozen=True, slots=True)
class WireTarget:
    """Where requests go: host[:port] per product (or one for all), the scheme, the signature."""

    hosts: dict[str, str]  # product (imm, ice) -> host[:port]
    scheme: Literal["https", "http"] = "https"
    signature: Literal["v3", "v2"] = "v3"
    timeout: float = 30.0

    def host(self, contract: Contract) -> str:
        try:
            return self.hosts[contract.product]
        except KeyError:
            raise FuzzTransportError(f"no endpoint for product {contract.product!r}") from None


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request ready to send, and the business parameters it carries (nothing secret)."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]  # the flattened business parameters, as the service reads them

    def send(self, session: requests.Session, timeout: float) -> requests.Response:
        # A redirect is the endpoint's answer, judged as such: followed, it would carry the
        # key id and STS token to another host and judge that host's body.
        return session.request(
            self.method,
            self.url,
            headers=self.headers,
            data=b"",
            timeout=timeout,
            allow_redirects=False,
        )


def sign_request(
    contract: Contract,
    query: dict[str, Any],
    target: WireTarget,
    credentials: Credentials,
) -> SignedRequest:
    """The signed RPC request for the contract's action with these (generated) parameters."""
    Utils = openapi_utils().Utils
    params: dict[str, str] = Utils.query(query)
    host = target.host(contract)
    if target.signature == "v2":
        return _sign_v2(contract, params, host, target.scheme, credentials, Utils)
    return _sign_v3(contract, params, host, target.scheme, credentials, Utils)


def _sign_v3(
    contract: Contract,
    params: dict[str, str],
    host: str,
    scheme: str,
    credentials: Credentials,
    utils: Any,
) -> SignedRequest:
    headers = _common_headers(contract, host, credentials, utils)
    headers.update(
        {
            "x-acs-date": utils.get_timestamp(),
            "x-acs-signature-nonce": utils.get_nonce(),
            "accept": "application/json",
            "x-acs-content-sha256": utils.hash(b"", _V3_ALGORITHM).hex(),
        }
    )
    if credentials.security_token:  # STS, as do_request sends it
        headers["x-acs-accesskey-id"] = credentials.access_key_id
        headers["x-acs-security-token"] = credentials.security_token
    request = CanonicalRequest("POST", "/", params, headers)
    headers["Authorization"] = utils.get_authorization(
        request,
        _V3_ALGORITHM,
        headers["x-acs-content-sha256"],
        credentials.access_key_id,
        credentials.access_key_secret,
    )
    return SignedRequest("POST", _url(scheme, host, params), headers, params)


def _sign_v2(
    contract: Contract,
    params: dict[str, str],
    host: str,
    scheme: str,
    credentials: Credentials,
    utils: Any,
) -> SignedRequest:
    signed = {
        "Action": contract.operation,
        "Format": "json",
        "Version": contract.api_version,
        "Timestamp": utils.get_timestamp(),
        "SignatureNonce": utils.get_nonce(),
        **params,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "AccessKeyId": credentials.access_key_id,
    }
    if credentials.security_token:
        signed["SecurityToken"] = credentials.security_token
    signed["Signature"] = utils.get_rpcsignature(signed, "POST", credentials.access_key_secret)
    headers = _common_headers(contract, host, credentials, utils)
    return SignedRequest("POST", _url(scheme, host, signed), headers, params)


def _common_headers(
    contract: Contract, host: str, credentials: Credentials, utils: Any
) -> dict[str, str]:
    """The headers both signature versions send (in the SDK's order)."""
    headers = {
        "host": host,
        "x-acs-version": contract.api_version,
        "x-acs-action": contract.operation,
        "user-agent": utils.get_user_agent(_USER_AGENT),
    }
    if credentials.provider:
        headers["x-acs-credentials-provider"] = credentials.provider
    return headers


def _url(scheme: str, host: str, query: dict[str, str]) -> str:
    # Percent-encode exactly as the canonical query string does, so the server decodes the
    # same values the signature covers.
    encoded = urlencode(query, quote_via=quote, safe="~")
    return f"{scheme}://{host}/" + (f"?{encoded}" if encoded else "")
