"""hypothesis, the optional dependency of the response generators, or an error saying how to
install it (hypothesis is the `aliconform[hypothesis]` extra; the rest of aliconform runs
without it)."""

from __future__ import annotations

try:
    from hypothesis import reject
    from hypothesis import strategies as st
except ImportError as exc:
    raise ImportError(
        "aliconform's response generators need hypothesis: pip install 'aliconform[hypothesis]'",
        name=exc.name,
    ) from exc

__all__ = ["reject", "st"]
