"""Group commit (reports/writer.py): concurrent single POSTs share transactions, all-or-nothing per report."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import httpx
from sqlalchemy import text

from jointcredit_common.testing.factories import uscc


def report(n: int) -> dict:
    return {"subject": {"type": "enterprise", "id": uscc(41_000 + n), "name": f"大连{n}号贸易公司"}, "behavior": "W2",
            "occurred_on": (date.today() - timedelta(days=20)).isoformat(), "evidence": {"kind": "none"}}


async def test_concurrent_reports_share_transactions_and_each_has_its_event_and_audit_row(ingest):
    headers = ingest.auth()
    responses = await asyncio.gather(*(ingest.client.post("/v1/reports", json=report(n), headers=headers) for n in range(60)))
    assert [r.status_code for r in responses] == [202] * 60, [r.text for r in responses if r.status_code != 202]
    ids = {r.json()["id"] for r in responses}
    async with ingest.runtime.sessionmaker() as session:
        rows = (await session.execute(text(
            "SELECT r.id::text AS id, r.xmin::text AS report_tx, a.xmin::text AS audit_tx "
            "FROM reports r "
            "JOIN outbox o ON o.data->>'report_id' = r.id::text AND o.type LIKE '%report.received%' "
            "JOIN audit_log a ON a.target_id = r.id::text AND a.action = 'report.create'"
        ))).mappings().all()
    assert {row["id"] for row in rows} == ids and len(rows) == 60  # exactly one event and one audit row each
    assert all(row["report_tx"] == row["audit_tx"] for row in rows)  # stored together (the relay rewrites outbox rows)
    assert len({row["report_tx"] for row in rows}) < 60, "every request had a transaction of its own"


async def test_a_failed_shared_transaction_stores_none_of_its_reports_and_answers_each_with_a_problem(ingest):
    async with ingest.runtime.sessionmaker() as session, session.begin():
        await session.execute(text("ALTER TABLE audit_log ADD CONSTRAINT audit_frozen CHECK (false) NOT VALID"))
    before = await ingest.counts("reports", "outbox")
    # What a real client sees of a server error (the in-process transport would re-raise it instead).
    transport = httpx.ASGITransport(app=ingest.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        responses = await asyncio.gather(*(client.post("/v1/reports", json=report(100 + n), headers=ingest.auth())
                                           for n in range(10)))
    assert {r.status_code for r in responses} == {500}
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in responses)
    assert await ingest.counts("reports", "outbox") == before
    async with ingest.runtime.sessionmaker() as session, session.begin():
        await session.execute(text("ALTER TABLE audit_log DROP CONSTRAINT audit_frozen"))
    again = await ingest.client.post("/v1/reports", json=report(100), headers=ingest.auth())
    assert again.status_code == 202  # the writer kept running
