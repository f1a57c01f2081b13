"""Keyset paging for rating's lists: an opaque cursor holding the (date, id) of the last item of a page.

A page is ``WHERE (date, id) < cursor ORDER BY date DESC, id DESC`` (or ``>`` for ascending lists) on an index
in that order, so page 10,000 costs what page 1 costs; OFFSET would read and throw away every earlier row.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import date

from jointcredit_common.errors import ValidationFailed


def encode_cursor(day: date, item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([day.isoformat(), str(item_id)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, uuid.UUID]:
    """The (date, id) a cursor of ``encode_cursor`` holds; anything else is the client's error (422)."""
    try:
        day, item_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return date.fromisoformat(day), uuid.UUID(item_id)
    except (binascii.Error, ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this API returned", field="query.cursor") from exc
