"""Idempotency-Key on POST /v1/reports: a retry returns the original response; reuse with another body is 409."""

from __future__ import annotations

import asyncio
import json

from jointcredit_common.testing.factories import uscc

REPORT = {
    "subject": {"type": "enterprise", "id": uscc(11), "name": "大连某某食品有限公司"},
    "behavior": "E7",
    "occurred_on": "2020-03-02",
    "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕31号", "authority": "大连市市场监督管理局",
                 "decided_on": "2020-03-09"},
}


async def test_same_key_and_same_body_returns_the_original_response_and_stores_one_report(ingest):
    headers = {**ingest.auth(), "Idempotency-Key": "retry-1"}
    first = await ingest.client.post("/v1/reports", json=REPORT, headers=headers)
    # The same JSON value with other key order and whitespace is the same request.
    reordered = json.dumps(dict(reversed(list(REPORT.items()))), ensure_ascii=False, indent=2).encode()
    second = await ingest.client.post("/v1/reports", content=reordered, headers={**headers, "Content-Type": "application/json"})
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert await ingest.counts("reports", "outbox", "idempotency_keys") == {"reports": 1, "outbox": 1, "idempotency_keys": 1}


async def test_same_key_with_a_different_body_is_409_and_changes_nothing(ingest):
    headers = {**ingest.auth(), "Idempotency-Key": "retry-2"}
    first = await ingest.client.post("/v1/reports", json=REPORT, headers=headers)
    assert first.status_code == 202
    before = await ingest.counts("reports", "outbox", "idempotency_keys", "audit_log")
    other = {**REPORT, "occurred_on": "2020-03-03"}
    second = await ingest.client.post("/v1/reports", json=other, headers=headers)
    assert second.status_code == 409, second.text
    assert second.json()["field"] == "header.Idempotency-Key"
    assert await ingest.counts("reports", "outbox", "idempotency_keys", "audit_log") == before


async def test_keys_belong_to_one_department(ingest):
    court = {**ingest.auth("department", "intermediate_court"), "Idempotency-Key": "shared"}
    market = {**ingest.auth("department", "market_regulation"), "Idempotency-Key": "shared"}
    a = await ingest.client.post("/v1/reports", json=REPORT, headers=market)
    b = await ingest.client.post("/v1/reports", json=REPORT, headers=court)
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] != b.json()["id"]
    assert await ingest.count("reports") == 2


async def test_concurrent_retries_with_one_key_store_one_report(ingest):
    headers = {**ingest.auth(), "Idempotency-Key": "burst"}
    responses = await asyncio.gather(*(ingest.client.post("/v1/reports", json=REPORT, headers=headers) for _ in range(8)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert await ingest.counts("reports", "outbox") == {"reports": 1, "outbox": 1}


async def test_a_bad_request_does_not_burn_the_key(ingest):
    headers = {**ingest.auth(), "Idempotency-Key": "fix-and-retry"}
    bad = await ingest.client.post("/v1/reports", json={**REPORT, "behavior": "E99"}, headers=headers)
    assert bad.status_code == 422
    good = await ingest.client.post("/v1/reports", json=REPORT, headers=headers)
    assert good.status_code == 202, good.text
    assert await ingest.count("reports") == 1


async def test_a_key_reused_on_another_endpoint_is_409(ingest):
    headers = {**ingest.auth(), "Idempotency-Key": "one-key-one-request"}
    single = await ingest.client.post("/v1/reports", json=REPORT, headers=headers)
    assert single.status_code == 202
    batch = await ingest.client.post("/v1/reports:batch", json=[REPORT], headers=headers)
    assert batch.status_code == 409, batch.text
    assert await ingest.count("reports") == 1


async def test_keys_expire_after_the_documented_period(jc_app, jc_credentials):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings
    from jointcredit_common.testing.plugin import token_of

    async with jc_app("ingest", create_app, IngestSettings, idempotency_ttl_hours=1.0 / 3600) as (app, client):
        headers = {"Authorization": f"Bearer {token_of(jc_credentials[1], 'department', 'market_regulation')}",
                   "Idempotency-Key": "short-lived"}
        first = await client.post("/v1/reports", json=REPORT, headers=headers)
        await asyncio.sleep(1.5)
        second = await client.post("/v1/reports", json=REPORT, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["id"] != second.json()["id"], "an expired key starts a new request"
