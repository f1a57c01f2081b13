"""Keyset paging, once for every service: an opaque cursor holding the sort key of the last item of a page.

A page is ``WHERE (key…) > cursor ORDER BY key…`` on an index in that order, so page 10,000 costs what page 1 costs
(OFFSET would read and throw away every earlier row). The cursor is the key's values as a JSON list in URL-safe base64
without padding; a cursor this API did not hand out is the client's error: 422, ``field: "query.cursor"``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import date, datetime
from typing import Any

import orjson

from jointcredit_common.errors import ValidationFailed

_DECODERS: dict[type, Any] = {
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    uuid.UUID: uuid.UUID,
    str: str,
}


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime | uuid.UUID):
        return value.isoformat() if isinstance(value, date | datetime) else str(value)
    return value


def encode_cursor(*values: date | datetime | uuid.UUID | int | str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in values])).decode().rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The values a cursor of :func:`encode_cursor` holds, as ``types``; anything else is a 422."""
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError("wrong shape")
        values = []
        for value, kind in zip(raw, types, strict=True):
            if kind is int:
                if type(value) is not int:
                    raise TypeError("not an integer")
                values.append(value)
            else:
                if not isinstance(value, str):
                    raise TypeError("not a string")
                values.append(_DECODERS[kind](value))
        return tuple(values)
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this API returned", field="query.cursor") from exc
