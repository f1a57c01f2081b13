"""A batch's JSON array is read item by item: the 10,000-item cap holds while it is parsed (security review M9)."""

from __future__ import annotations

import pytest

from ingest_service.reports.batch import parse_batch
from jointcredit_common.errors import MalformedBody, PayloadTooLarge, ValidationFailed


def test_items_are_read_as_json_values():
    assert parse_batch(b' [{"behavior": "E7", "n": 1.5}, {"x": [1, null]}]', "application/json", max_items=10) == [
        {"behavior": "E7", "n": 1.5}, {"x": [1, None]}]


def test_the_cap_is_enforced_before_the_rest_of_the_array_is_parsed():
    # 11 items then garbage: refused for its size at the 11th item, never reaching the garbage (a whole-body parse
    # would have failed on the garbage — or, for 32 MiB of '{},', built millions of objects first).
    body = b"[" + b"{}," * 11 + b"garbage"
    with pytest.raises(PayloadTooLarge) as err:
        parse_batch(body, "application/json", max_items=10)
    assert err.value.status == 413 and err.value.extra["limit_items"] == 10


@pytest.mark.parametrize(("body", "problem", "status"), [
    (b'{"behavior": "E7"}', ValidationFailed, 422),
    (b"not json", MalformedBody, 400),
    (b'[{"a": 1},', MalformedBody, 400),
    (b"[]", ValidationFailed, 422),
])
def test_bad_bodies_keep_their_problems(body, problem, status):
    with pytest.raises(problem) as err:
        parse_batch(body, "application/json", max_items=10)
    assert err.value.status == status and err.value.field == "body"
    assert "\n" not in err.value.detail
