"""The RPC error envelope and documented error messages, shared by the documentation-derived
cassettes and the twin so that both answer an error exactly alike."""

from __future__ import annotations

import re

__all__ = ["error_envelope", "fill_message"]


def fill_message(message: str, parameter: str, resource: str | None = None) -> str:
    """A documented message template with its parameter (and resource type) filled in."""
    message = message.replace("<parameter name>", parameter).replace("{ParameterName}", parameter)
    return re.sub(r"\{ResourceType\}", resource or parameter, message)


def error_envelope(
    request_id: str, host: str, code: str, message: str, product: str | None
) -> dict[str, str]:
    """The documented RPC error envelope, keys in the order real responses carry them."""
    recommend = f"https://next.api.aliyun.com/troubleshoot?q={code}"
    if product:
        recommend += f"&product={product.upper()}"
    return {
        "RequestId": request_id,
        "HostId": host,
        "Code": code,
        "Message": message,
        "Recommend": recommend,
    }
