"""W3C trace context: a ``traceparent`` travels from the HTTP request through every event it causes."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
current_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def parse_trace_id(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if not match or match.group(1) == "0" * 32:
        return None
    return match.group(1)


def continue_trace(incoming: str | None) -> str:
    """A child span of ``incoming`` when it is valid, else a new trace."""
    return new_traceparent(parse_trace_id(incoming))


def child_traceparent() -> str:
    return continue_trace(current_traceparent.get())
