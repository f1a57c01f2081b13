"""Log scrubbing: resident ID numbers never reach a log line in clear."""

from __future__ import annotations

import re
from typing import Any

from jointcredit_common.pii.masking import mask_resident_id


# 17 digits + digit/X. The boundaries are ASCII letters/digits only: Python's \b treats Chinese
# characters as word characters, so "身份证号210102…1234，" would not match with \b. Checksums are
# not verified: over-masking a log line is cheaper than leaking an ID number.
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def scrub(text: str) -> str:
    """Replace every 18-character resident ID number in free text by its masked form."""
    return _RESIDENT_ID_IN_TEXT.sub(lambda m: mask_resident_id(m.group(0)), text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 18:
        return scrub(str(value))  # an ID number stored as an int still leaks
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if type(value) is tuple:
        return tuple(_scrub_value(v) for v in value)
    return value


def scrub_processor(logger: Any, method_name: str, event_dict: Any) -> Any:
    """structlog processor: scrub every string value (recursively into dicts, lists, tuples).

    Returns a new dict and never mutates the caller's objects. Place it after
    ``format_exc_info``/``StackInfoRenderer`` (so tracebacks are strings by then) and just before
    the renderer. Arbitrary objects are left alone: log their fields, not the object.
    """
    return {key: _scrub_value(value) for key, value in event_dict.items()}
