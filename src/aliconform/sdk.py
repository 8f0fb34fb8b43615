"""Calling an operation through the official Alibaba Cloud SDK, for the request it really sends.

aliconform never signs a request itself: the SDK packages (alibabacloud-tea-openapi and the
product packages named in each contract) build, sign and send it, so a cassette's request is
shaped exactly as users' own SDK calls are. The SDK is an optional dependency; without it the
commands that need it say so.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from aliconform.contracts import Contract
from aliconform.errors import AliconformError, SdkUnavailableError

__all__ = [
    "CanonicalRequest",
    "NoCredentialsError",
    "SdkCallOptions",
    "SdkUnavailableError",
    "credentials_source",
    "default_credential",
    "resolve_credentials",
    "sdk_actions",
    "sdk_call",
    "sdk_invoke",
    "sdk_versions",
]


@dataclass(frozen=True, slots=True)
class CanonicalRequest:
    """What the SDK's Utils.get_authorization reads from a request to compute a V3 signature:
    the request line, the query, and the headers it signs. The fuzzer signs with it and the
    twin recomputes signatures with it."""

    method: str
    pathname: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class SdkCallOptions:
    """Where and how to call. Without an access key, the credentials come from the
    alibabacloud-credentials default chain (environment, CLI profile, credentials file, OIDC,
    ECS RAM role), resolved by the SDK on every call so that STS tokens are refreshed."""

    endpoint: str  # host[:port]
    region: str
    access_key_id: str | None = None
    access_key_secret: str | None = None
    security_token: str | None = None
    protocol: Literal["https", "http"] = "https"
    signature: Literal["v3", "v2"] = "v3"
    connect_timeout_ms: int = 5_000
    read_timeout_ms: int = 30_000


def _package_module(contract: Contract) -> str:
    return contract.sources.sdk.module.rsplit(".", 1)[0]


def sdk_versions(contract: Contract) -> dict[str, str]:
    """Installed versions of the packages that shape the contract's requests."""
    names = [contract.sources.sdk.package, "alibabacloud-tea-openapi", "alibabacloud-credentials"]
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _import(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        packages = dict.fromkeys([package, "alibabacloud-tea-openapi", "alibabacloud-credentials"])
        raise SdkUnavailableError(
            f"the official SDK is needed for this ({exc.name} is not installed): "
            f"pip install 'aliconform[sdk]' (or {' '.join(packages)})"
        ) from exc


def openapi_utils() -> Any:
    """The SDK's signing helpers (alibabacloud_tea_openapi.utils): the fuzzer signs requests
    and the twin verifies them with these, never with code of their own."""
    return _import("alibabacloud_tea_openapi.utils", "alibabacloud-tea-openapi")


def default_credential() -> Any:
    """The alibabacloud-credentials client on its default chain (never a file in the repo)."""
    client = _import("alibabacloud_credentials.client", "alibabacloud-credentials")
    return client.Client()


class NoCredentialsError(AliconformError):
    """The default credentials chain found nothing to sign with."""


def credentials_source(model: Any = None) -> str:
    """Which provider of the default chain supplies credentials (e.g. 'default/env'); never the
    credentials themselves. model: credentials already resolved (else they are, here). Raises
    NoCredentialsError, naming what each provider lacked."""
    if model is None:
        model = resolve_credentials()
    return str(getattr(model, "provider_name", None) or "default chain")


def resolve_credentials() -> Any:
    """The default chain's current credentials (the SDK's credential model: access_key_id,
    access_key_secret, security_token, type). Raises NoCredentialsError, naming what each
    provider lacked."""
    credential = default_credential()
    quiet = logging.getLogger("credentials")  # the chain logs a traceback per failed provider
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return credential.get_credential()
    except Exception as exc:
        raise NoCredentialsError(
            "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or "
            "configure a CLI profile, a credentials file, OIDC (ALIBABA_CLOUD_ROLE_ARN, "
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE) or an ECS RAM "
            f"role. The chain said: {exc}"
        ) from None
    finally:
        quiet.setLevel(level)


def sdk_actions(contract: Contract) -> list[str]:
    """Every action the contract's product SDK can call (its request models, minus Request)."""
    models = _import(contract.sources.sdk.module, contract.sources.sdk.package)
    return sorted(
        name.removesuffix("Request")
        for name in dir(models)
        if name.endswith("Request") and not name.endswith("ShrinkRequest") and name != "Request"
    )


def sdk_call(contract: Contract, params: dict[str, Any], options: SdkCallOptions) -> Any:
    """Send one call of the contract's operation through the SDK (see sdk_invoke)."""
    return sdk_invoke(contract, contract.operation, params, options)


def sdk_invoke(
    contract: Contract, action: str, params: dict[str, Any], options: SdkCallOptions
) -> Any:
    """Send one call of any action of the contract's product (a query, or the create or
    submit call that sets one up) through the SDK; returns the SDK's response object and
    raises its errors. Nothing is retried here: retrying is the caller's decision."""
    sdk = contract.sources.sdk
    client_module = _import(f"{_package_module(contract)}.client", sdk.package)
    models = _import(sdk.module, sdk.package)
    openapi = _import("alibabacloud_tea_openapi.models", "alibabacloud-tea-openapi")
    util = _import("alibabacloud_tea_util.models", "alibabacloud-tea-openapi")
    credential = None if options.access_key_id else default_credential()
    config = openapi.Config(
        access_key_id=options.access_key_id,
        access_key_secret=options.access_key_secret,
        security_token=options.security_token,
        credential=credential,
        endpoint=options.endpoint,
        protocol=options.protocol,
        region_id=options.region,
        signature_algorithm="v2" if options.signature == "v2" else None,
    )
    client = client_module.Client(config)
    request_model = sdk.request_model if action == contract.operation else f"{action}Request"
    request = getattr(models, request_model)().from_map(params)
    runtime = util.RuntimeOptions(
        autoretry=False,
        max_attempts=1,
        connect_timeout=options.connect_timeout_ms,
        read_timeout=options.read_timeout_ms,
    )
    method = getattr(client, f"{_snake(action)}_with_options")
    return method(request, runtime)
