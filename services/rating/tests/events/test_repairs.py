"""三(一) green channel: an approved repair (repair.decided.v1 from the repair service, read strictly through its
model) ends the record as repaired — off the dishonest list, record.repaired.v1 for sanctions, incentives resume."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.tables import dead_letters, inbox
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

pytestmark = pytest.mark.consumers  # events flow into the app under test

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕55号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=20)).isoformat()}


async def test_approved_repair_ends_the_listing_once_and_lifts_the_incentive_block(rating_app, kit, tokens):
    factory = kit.Subject("enterprise", uscc(870_001), "大连修复测试防护用品有限公司")
    other = kit.Subject("enterprise", uscc(870_002), "大连驳回修复测试有限公司")
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        listed = kit.report_event(factory, "E4", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        kept = kit.report_event(other, "E7", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        await kit.publish(bootstrap, runtime.topic("reports"), [listed, kept])
        record = await kit.wait_record(runtime, listed.data["report_id"])
        other_record = await kit.wait_record(runtime, kept.data["report_id"])

        # An unknown record id (not rating's, or long gone) ends nothing and is no error.
        approved = kit.repair_event([str(record["id"]), str(uuid.uuid4())], key=listed.key,
                                    reason="经初审、复核、终审，同意信用修复")
        rejected = kit.repair_event([str(other_record["id"])], "rejected", key=kept.key)
        # An approval naming another subject's record (subject_key as repair.decided.v1 carries it) ends nothing.
        wrong_subject = kit.repair_event([str(other_record["id"])], key=listed.key)
        # Delivered twice (same event id: the inbox skips it) and re-sent (new id: the state guard ignores it).
        resent = kit.repair_event([str(record["id"])], key=listed.key)
        await kit.publish(bootstrap, runtime.topic("repairs"), [approved, rejected, wrong_subject, approved, resent])
        repaired = await kit.wait_record(runtime, listed.data["report_id"], state="repaired")
        assert repaired["end_reason"] == "经初审、复核、终审，同意信用修复"

        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=3.0,
                                  until=lambda evs: any(e.type.endswith("record.repaired.v1") for e in evs))
        ended = [e for e in events if e.type.endswith("record.repaired.v1")]
        assert [e.data["record_id"] for e in ended] == [str(record["id"])]  # once, though delivered twice and re-sent
        assert ended[0].data["list"] == "dishonest" and ended[0].key == listed.key
        assert (await kit.wait_record(runtime, kept.data["report_id"]))["state"] == "active"  # rejection: nothing
        assert (await client.get("/v1/public/lists/dishonest", params={"q": factory.id})).json()["items"] == []
        assert len((await client.get("/v1/public/lists/dishonest", params={"q": other.id})).json()["items"]) == 1
        async with runtime.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(dead_letters)) == 0

        # Repaired → incentives are no longer withheld (DESIGN §2: "until it is repaired").
        red = kit.report_event(factory, "G4", occurred_on=TODAY - timedelta(days=3), department="market_regulation")
        await kit.publish(bootstrap, runtime.topic("reports"), [red])
        red_record = await kit.wait_record(runtime, red.data["report_id"])
        assert red_record["list"] == "red" and red_record["suppressed_measures"] == []
        assert set(red_record["measures"]) == {"I1", "I2", "I3", "I5", "I6", "I7", "F"}

        # The repaired record is off the free public report (停止公示), kept in the credit office's (依规保存).
        report = (await client.get(f"/v1/subjects/enterprise/{factory.id}/report")).json()
        assert [r["state"] for r in report["records"]] == ["active"] and report["repairs"] == []
        assert report["record_ids"] == [str(red_record["id"])] and {m["key"] for m in report["lists"]} == {"red"}
        report = (await client.get(f"/v1/subjects/enterprise/{factory.id}/report", headers=kit.auth(tokens("admin")))).json()
        assert [r["state"] for r in report["records"]] == ["repaired", "active"]
        assert report["repairs"][0]["id"] == str(record["id"]) and report["repairs"][0]["status"] == "approved"
        assert {m["key"] for m in report["lists"]} == {"red"}


async def test_a_repair_decision_off_its_model_is_dead_lettered_and_ends_nothing(rating_app, kit):
    """rating reads repair.decided.v1 by its exact type and through RepairDecided (extra="forbid"): no suffix match,
    no loose keys (record_id / "approve" / status), no guessing about a decision that would end a listing."""
    subject = kit.Subject("enterprise", uscc(870_011), "大连严格契约测试有限公司")
    async with rating_app(consumer_retry_backoff_seconds=0.01) as (app, _client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        listed = kit.report_event(subject, "E8", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        await kit.publish(bootstrap, runtime.topic("reports"), [listed])
        record_id = str((await kit.wait_record(runtime, listed.data["report_id"]))["id"])

        # The right suffix under another type prefix: not repair's event type, so not a decision rating acts on.
        other_prefix = kit.repair_event([record_id], key=listed.key, type_name="org.example.repair.decided.v1")
        # The exact type with loose keys (the old tolerant reading accepted these).
        loose = CloudEvent(type=kit.repair_event([], key=listed.key).type, source="/jointcredit/repair", subject=listed.key,
                           key=listed.key, data={"record_id": record_id, "decision": "approve", "subject_key": listed.key})
        # Every field of the model, plus one it does not have.
        extra_field = kit.repair_event([record_id], key=listed.key, approved=True)
        # A record id that is not one of rating's (a UUID): the contract is broken, not merely an unknown record.
        not_ours = kit.repair_event([record_id, "not-a-uuid"], key=listed.key)
        # Last on the same partition (same key): once it is processed, everything before it has been.
        marker = kit.repair_event([record_id], "rejected", key=listed.key)
        await kit.publish(bootstrap, runtime.topic("repairs"), [other_prefix, loose, extra_field, not_ours, marker])

        async def marker_processed() -> bool:
            async with runtime.sessionmaker() as session:
                return bool(await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == marker.id)))

        await kit.eventually(marker_processed, timeout=60)
        async with runtime.sessionmaker() as session:
            dead = (await session.execute(select(dead_letters.c.event_id, dead_letters.c.error))).mappings().all()
            other_prefix_seen = await session.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.event_id == other_prefix.id))
        assert {d["event_id"] for d in dead} == {loose.id, extra_field.id, not_ours.id}
        assert all("RepairDecided" in d["error"] or "UUID" in d["error"] or "uuid" in d["error"] for d in dead), dead
        assert other_prefix_seen == 0  # not handled at all
        assert (await kit.wait_record(runtime, listed.data["report_id"]))["state"] == "active"
        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=10, settle=1.0)
        assert not [e for e in events if e.type.endswith("record.repaired.v1")]
