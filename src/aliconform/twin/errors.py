"""The twin's usage errors: a bad drift profile, fault spec or configuration, or a port it cannot
listen on, said in one line.

It is an AliconformError, so the command line turns it into a message and exit code 2 like
every other mistake in what a person typed.
"""

from __future__ import annotations

from aliconform.errors import AliconformError

__all__ = ["TwinConfigError", "TwinPortError"]


class TwinConfigError(AliconformError):
    """The twin cannot start as configured (unknown profile, bad fault spec, bad setting)."""


class TwinPortError(AliconformError):
    """The twin's port cannot be listened on (in use, or not allowed)."""
