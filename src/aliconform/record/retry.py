"""Which failed calls are worth another attempt, and how long to wait before it.

Retried: throttling (the codes Throttling, Throttling.User, Throttling.Api, RequestsTooFrequent,
and HTTP 429), an unavailable or failing server (HTTP 500, 502, 503, 504, ServiceUnavailable,
InternalError), a connection that dropped or timed out, and a success response whose body is
not the JSON the SDK expects (a truncated or garbled answer is transient far more often than
it is the service's real behaviour). Everything else (a documented client error such as
ResourceNotFound, a bad signature) is an answer, and is recorded as one.

A call that creates a task or job is retried only when it was throttled or its connection could
not be opened (refused, unresolved, timed out while connecting): after a 5xx, a dropped
connection or a garbled answer the task may exist already, and a second call would start (and
bill) another.

Waits grow exponentially with full jitter, are capped, and honour the service's own hint
(`x-acs-retry-after`, in milliseconds, which the SDK exposes as `retry_after`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from aliconform.errors import error_chain

__all__ = [
    "CALLER_REFUSALS",
    "RetryPolicy",
    "connection_not_opened",
    "is_refused_before_processing",
    "is_transient",
    "refuses_the_caller",
    "retry_delay",
    "status_and_code",
]

THROTTLING_CODES = frozenset(
    {"Throttling", "Throttling.User", "Throttling.Api", "RequestsTooFrequent"}
)
# Answers about the caller (credentials, signature, clock, permissions), not the operation: a
# recording never keeps one as the operation's behaviour, and a property-based run that meets
# one has not tested the operation.
CALLER_REFUSALS = (
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId",
    "InvalidSecurityToken",
    "InvalidTimeStamp",
    "SignatureNonceUsed",
    "Forbidden",
    "NoPermission",
)
SERVER_CODES = frozenset({"InternalError", "ServiceUnavailable", "ServiceUnavailableTemporary"})
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# requests' and urllib3's own classes, named rather than imported
_TRANSIENT_CLASS_NAMES = frozenset(
    {"ConnectionError", "ReadTimeout", "ConnectTimeout", "ChunkedEncodingError", "ProtocolError"}
)
_TRANSIENT_SIGNS = (
    "RemoteDisconnected",
    "Connection aborted",
    "Connection reset",
    "Failed to parse the value as json",  # darabonba's message for a garbled body
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0  # seconds
    max_delay: float = 20.0


def status_and_code(error: BaseException) -> tuple[int | None, str | None]:
    """The HTTP status and error code the SDK attached to an exception, when it did."""
    status = getattr(error, "status_code", None) or getattr(error, "statusCode", None)
    code = getattr(error, "code", None)
    return (status if isinstance(status, int) else None), (
        code if isinstance(code, str) and code not in ("", "None") else None
    )


def _throttled(error: BaseException) -> bool:
    status, code = status_and_code(error)
    hint = getattr(error, "retry_after", None)  # the SDK sets it from x-acs-retry-after
    return (
        status == 429
        or hint is not None
        or code in THROTTLING_CODES
        or (code or "").startswith("Throttling")
    )


def is_transient(error: BaseException) -> bool:
    status, code = status_and_code(error)
    if _throttled(error) or code in SERVER_CODES:
        return True
    if status in TRANSIENT_STATUSES:
        return True
    if status is not None or code is not None:
        return False  # an answer from the service: record it, do not retry it
    return _is_connection_or_body_error(error)


def refuses_the_caller(code: str | None) -> bool:
    """Whether an error code is about the caller (see CALLER_REFUSALS; prefixes included, as
    in InvalidAccessKeyId.NotFound)."""
    return code is not None and code.startswith(CALLER_REFUSALS)


def is_refused_before_processing(error: BaseException) -> bool:
    """Throttling, or a connection that could not even be opened: the service did nothing, so
    even a call that creates something (a task, a job) can be sent again without creating it
    twice."""
    return _throttled(error) or connection_not_opened(error) is not None


# urllib3's and requests' classes for a connection never established, named, not imported
_UNOPENED_CLASS_NAMES = frozenset(
    {"NewConnectionError", "NameResolutionError", "ConnectTimeoutError", "ConnectTimeout"}
)


def connection_not_opened(error: BaseException) -> str | None:
    """Why no connection could be opened ("Connection refused", "Name or service not known"),
    when that is what happened; then nothing was sent. None for any other failure."""
    chain = list(error_chain(error))
    if not any(
        isinstance(e, ConnectionRefusedError) or type(e).__name__ in _UNOPENED_CLASS_NAMES
        for e in chain
    ):
        return None
    reasons = [e.strerror for e in chain if isinstance(e, OSError) and e.strerror]
    return reasons[-1] if reasons else "could not connect"


def _is_connection_or_body_error(error: BaseException) -> bool:
    for current in error_chain(error):
        if isinstance(current, ConnectionError | TimeoutError | json.JSONDecodeError):
            return True
        if type(current).__name__ in _TRANSIENT_CLASS_NAMES:
            return True
        text = str(current)
        if any(sign in text for sign in _TRANSIENT_SIGNS):
            return True
    return False


def retry_delay(
    error: BaseException, attempt: int, policy: RetryPolicy, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the given (1-based) failed attempt."""
    hint = getattr(error, "retry_after", None)
    if isinstance(hint, int | float) and hint > 0:
        return min(hint / 1000.0, policy.max_delay)
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return (rng or random).uniform(0, ceiling)
