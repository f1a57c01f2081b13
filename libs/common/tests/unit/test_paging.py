"""One cursor codec: values round-trip; anything the API did not hand out is a 422 on query.cursor."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import pytest

from jointcredit_common.errors import ValidationFailed
from jointcredit_common.paging import decode_cursor, encode_cursor


def test_values_round_trip_and_the_cursor_is_url_safe_without_padding():
    item = uuid.uuid4()
    at = datetime(2026, 12, 4, 9, 30, 1, 123456, tzinfo=UTC)
    for values, types in [((date(2026, 12, 4), item), (date, uuid.UUID)), ((at, item), (datetime, uuid.UUID)),
                          ((9_007_199_254_740_993,), (int,)), (("E7", 3), (str, int))]:
        cursor = encode_cursor(*values)
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
        assert decode_cursor(cursor, *types) == values


ITEM = "b37b6070-0011-446a-9971-242f8ac9d61b"  # fixed: test ids must be the same in every xdist worker


@pytest.mark.parametrize("cursor", [
    "not-base64!!", "", base64.urlsafe_b64encode(b"{}").decode(), base64.urlsafe_b64encode(b'["2026-12-04"]').decode(),
    encode_cursor("2026-13-40", ITEM), encode_cursor("2026-12-04", "not-a-uuid"), encode_cursor("12"),
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
], ids=["not-base64", "empty", "object", "one-value", "bad-date", "bad-uuid", "int-for-date", "not-utf8"])
def test_a_cursor_the_api_did_not_hand_out_is_a_422_on_query_cursor(cursor):
    with pytest.raises(ValidationFailed) as err:
        decode_cursor(cursor, date, uuid.UUID) if cursor != encode_cursor("12") else decode_cursor(cursor, int)
    assert err.value.status == 422 and err.value.field == "query.cursor"
