"""Calling an operation through the official Alibaba Cloud SDK, for the request it really sends.

aliconform never signs a request itself: the SDK packages (alibabacloud-tea-openapi and the
product packages named in each contract) build, sign and send it, so a cassette's request is
shaped exactly as users' own SDK calls are. The SDK is an optional dependency; without it the
commands that need it say so.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from dataclasses import dataclass
from typing import Any, Literal

from aliconform.contracts import Contract
from aliconform.errors import AliconformError

__all__ = ["SdkCallOptions", "SdkUnavailableError", "sdk_call", "sdk_versions"]


class SdkUnavailableError(AliconformError):
    """The official SDK packages are not installed."""


@dataclass(frozen=True, slots=True)
class SdkCallOptions:
    endpoint: str  # host[:port]
    region: str
    access_key_id: str
    access_key_secret: str
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


def sdk_call(contract: Contract, params: dict[str, Any], options: SdkCallOptions) -> Any:
    """Send one call through the SDK; returns the SDK's response object, raises its errors."""
    package = _package_module(contract)
    try:
        client_module = importlib.import_module(f"{package}.client")
        models = importlib.import_module(contract.sources.sdk.module)
        openapi = importlib.import_module("alibabacloud_tea_openapi.models")
        util = importlib.import_module("alibabacloud_tea_util.models")
    except ImportError as exc:
        raise SdkUnavailableError(
            f"the official SDK is needed for this ({exc.name} is not installed): "
            f"pip install {contract.sources.sdk.package} alibabacloud-tea-openapi"
        ) from exc
    config = openapi.Config(
        access_key_id=options.access_key_id,
        access_key_secret=options.access_key_secret,
        security_token=options.security_token,
        endpoint=options.endpoint,
        protocol=options.protocol,
        region_id=options.region,
        signature_algorithm="v2" if options.signature == "v2" else None,
    )
    client = client_module.Client(config)
    request = getattr(models, contract.sources.sdk.request_model)().from_map(params)
    runtime = util.RuntimeOptions(
        autoretry=False,
        max_attempts=1,
        connect_timeout=options.connect_timeout_ms,
        read_timeout=options.read_timeout_ms,
    )
    method = getattr(client, f"{_snake(contract.operation)}_with_options")
    return method(request, runtime)
