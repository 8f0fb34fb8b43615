"""The RPC error envelope the twin answers with, and documented errors as exceptions.

Every error the twin returns is shaped like the documentation-derived cassettes' error bodies
(RequestId, HostId, Code, Message, Recommend, in that order), so a cassette recorded against
the twin and one derived from the documentation read alike. Codes, HTTP statuses and message
templates come from the contract's error codes and are filled the way derive fills them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from aliconform.cassettes.envelope import error_envelope, fill_message
from aliconform.contracts import Contract
from aliconform.contracts.model import ErrorCode, code_pattern
from aliconform.drift.engine import compiled

__all__ = [
    "JSON_CONTENT_TYPE",
    "ApiError",
    "documented_error",
    "encode_json",
    "error_envelope",
    "new_request_id",
]

JSON_CONTENT_TYPE = "application/json;charset=utf-8"


class ApiError(Exception):
    """A request the twin refuses: HTTP status, error code, message and any extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def documented_error(
    contract: Contract, code: str, parameter: str = "", *, detail: str = ""
) -> ApiError:
    """The error as the contract documents it (status, message template filled with parameter).

    code may be an instance of a template (MissingTaskId for Missing{ParameterName}). A code the
    contract does not document is a mistake in the twin, not in the request: KeyError.
    """
    found = compiled(contract).lookup_code(code) or _any_instance(contract, code)
    if found is None:
        raise KeyError(f"{contract.operation}: {code} is not a documented error code")
    _, spec = found
    return ApiError(spec.http_status, code, fill_message(spec.message or "", parameter) + detail)


def _any_instance(contract: Contract, code: str) -> tuple[str, ErrorCode] | None:
    """A template's code for a parameter the query does not take: a create call's errors are
    answered with its paired query's codes (MissingInput for Missing{ParameterName})."""
    for name, spec in contract.error_codes().items():
        pattern = code_pattern(name)
        if pattern is not None and re.match(pattern, code):
            return name, spec
    return None


def new_request_id() -> str:
    """A request ID in Alibaba Cloud's form: an upper-case UUID."""
    return str(uuid.uuid4()).upper()


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON, as the service sends it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
