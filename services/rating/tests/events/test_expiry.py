"""Expiry on a durable schedule: a record whose publicity ended leaves the lists by itself, exactly once,
with record.expired.v1 (sanctions lifts its measures) — also with several replicas expiring at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()


@pytest.mark.consumers
async def test_background_loop_expires_a_record_past_its_publicity_and_announces_it(rating_app, kit, tokens):
    from rating_service.records.models import credit_records

    shop = kit.Subject("enterprise", uscc(860_001), "大连到期测试有限公司")
    async with rating_app(expiry_check_seconds=0.5) as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        event = kit.report_event(shop, "W4", occurred_on=TODAY - timedelta(days=2))
        await kit.publish(bootstrap, runtime.topic("reports"), [event])
        record = await kit.wait_record(runtime, event.data["report_id"])
        assert record["publicity_ends_on"] > TODAY and record["state"] == "active"
        await asyncio.sleep(1.2)  # a few passes: nothing due, nothing ended
        assert (await kit.wait_record(runtime, event.data["report_id"]))["state"] == "active"

        # Its last day of publicity was yesterday (Asia/Shanghai): the next pass ends it.
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(update(credit_records).where(credit_records.c.id == record["id"])
                                  .values(publicity_ends_on=TODAY - timedelta(days=1)))
        expired = await kit.wait_record(runtime, event.data["report_id"], state="expired", timeout=15)
        assert expired["ended_at"] is not None and "公示期届满" in expired["end_reason"]
        assert (await client.get("/v1/public/lists/key_warning", params={"q": shop.id})).json()["items"] == []
        # Off public view altogether (停止公示); the credit office's file keeps it (依规保存).
        subject = (await client.get(f"/v1/subjects/enterprise/{shop.id}")).json()
        assert subject["lists"] == [] and subject["records"] == [] and subject["classifications"] == []
        kept = (await client.get(f"/v1/subjects/enterprise/{shop.id}", headers=kit.auth(tokens("admin")))).json()
        assert kept["lists"] == [] and kept["records"][0]["state"] == "expired"

        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=2.0,
                                  until=lambda evs: any(e.type.endswith("record.expired.v1") for e in evs))
        ended = [e for e in events if e.type.endswith("record.expired.v1")]
        assert len(ended) == 1
        assert ended[0].data["record_id"] == str(record["id"]) and ended[0].key == f"enterprise:{shop.id}"
        assert ended[0].data["list"] == "key_warning"


async def test_replicas_expiring_concurrently_end_each_record_exactly_once(rating_app):
    """Three "replicas" (concurrent passes on their own connections) over 120 due records: FOR UPDATE SKIP
    LOCKED hands each record to one of them; every record gets exactly one record.expired.v1 outbox row."""
    from jointcredit_common.tables import outbox
    from rating_service.records.models import credit_records, subjects
    from rating_service.records.service import expire_due_records

    async with rating_app(expiry_check_seconds=3600) as (app, _):
        runtime = app.state.runtime
        await asyncio.sleep(0.5)  # let the start-up pass run on an empty table
        ids = [uuid.uuid4() for _ in range(120)]
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(insert(subjects).values(key="enterprise:X", type="enterprise", display_id="X", display_name="X"))
            await session.execute(insert(credit_records), [
                {"id": i, "report_id": uuid.uuid4(), "subject_key": "enterprise:X", "department": "market_regulation",
                 "list": "dishonest", "behavior": "E7", "clause_codes": ["E7"], "tier": "general", "state": "active",
                 "publicity_starts_on": TODAY - timedelta(days=400), "publicity_ends_on": TODAY - timedelta(days=35),
                 "measures": ["P3"], "suppressed_measures": [], "reason_zh": "测试", "catalog": "dalian-2020-4@1.0.0"}
                for i in ids
            ])
        counts = await asyncio.gather(*(
            expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=TODAY, batch_size=7) for _ in range(3)))
        assert sum(counts) == 120
        async with runtime.sessionmaker() as session:
            states = (await session.execute(select(credit_records.c.state))).scalars().all()
            rows = (await session.execute(select(outbox.c.data).where(outbox.c.type.like("%record.expired.v1")))).scalars().all()
        assert set(states) == {"expired"}
        assert sorted(r["record_id"] for r in rows) == sorted(str(i) for i in ids)
        # Nothing is left to do: a further pass ends nothing.
        assert await expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=TODAY) == 0
