"""三(一) green channel: an approved repair (repair.decided.v1 from the repair service, read defensively)
ends the record as repaired — off the dishonest list, record.repaired.v1 for sanctions, incentives resume."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.tables import dead_letters
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

pytestmark = pytest.mark.consumers  # events flow into the app under test

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕55号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=20)).isoformat()}


async def test_approved_repair_ends_the_listing_once_and_lifts_the_incentive_block(rating_app, kit):
    factory = kit.Subject("enterprise", uscc(870_001), "大连修复测试防护用品有限公司")
    other = kit.Subject("enterprise", uscc(870_002), "大连驳回修复测试有限公司")
    third = kit.Subject("enterprise", uscc(870_003), "大连另一前缀修复测试有限公司")
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        listed = kit.report_event(factory, "E4", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        kept = kit.report_event(other, "E7", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        odd_one = kit.report_event(third, "E8", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        await kit.publish(bootstrap, runtime.topic("reports"), [listed, kept, odd_one])
        record = await kit.wait_record(runtime, listed.data["report_id"])
        other_record = await kit.wait_record(runtime, kept.data["report_id"])
        third_record = await kit.wait_record(runtime, odd_one.data["report_id"])

        approved = kit.repair_event([str(record["id"]), "not-a-uuid", str(uuid.uuid4())], key=listed.key,
                                    repair_id="RP-2020-000031", reason="经初审、复核、终审，同意信用修复")
        rejected = kit.repair_event([str(other_record["id"])], "rejected", key=kept.key)
        # An approval naming another subject's record (subject_key as repair.decided.v1 carries it) ends nothing.
        wrong_subject = kit.repair_event([str(other_record["id"])], key=listed.key, subject_key=listed.key)
        # Under another type prefix, with only record_id and "approve": still understood.
        odd = CloudEvent(type="org.example.repair.decided.v1", source="/elsewhere", subject="x", key=odd_one.key,
                         data={"record_id": str(third_record["id"]), "decision": "approve"})
        garbage = CloudEvent(type="cn.dalian.jointcredit.repair.decided.v1", source="/repair", subject="y", key="y",
                             data={"record_ids": "not-a-list", "decision": None})
        # Delivered twice (same event id: the inbox skips it) and re-sent (new id: the state guard ignores it).
        resent = kit.repair_event([str(record["id"])], key=listed.key)
        await kit.publish(bootstrap, runtime.topic("repairs"), [approved, rejected, wrong_subject, odd, garbage, approved, resent])
        repaired = await kit.wait_record(runtime, listed.data["report_id"], state="repaired")
        await kit.wait_record(runtime, odd_one.data["report_id"], state="repaired")
        assert repaired["end_reason"] == "经初审、复核、终审，同意信用修复"

        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=3.0,
                                  until=lambda evs: sum(e.type.endswith("record.repaired.v1") for e in evs) >= 2)
        ended = [e for e in events if e.type.endswith("record.repaired.v1")]
        mine = [e for e in ended if e.key == listed.key]
        assert [e.data["record_id"] for e in mine] == [str(record["id"])]  # once, though delivered twice and re-sent
        assert {e.data["record_id"] for e in ended} == {str(record["id"]), str(third_record["id"])}
        assert mine[0].data["list"] == "dishonest"
        assert (await kit.wait_record(runtime, kept.data["report_id"]))["state"] == "active"  # rejection: nothing
        assert (await client.get("/v1/public/lists/dishonest", params={"q": factory.id})).json()["items"] == []
        assert len((await client.get("/v1/public/lists/dishonest", params={"q": other.id})).json()["items"]) == 1
        async with runtime.sessionmaker() as session:  # malformed decisions are ignored, not dead-lettered
            assert await session.scalar(select(func.count()).select_from(dead_letters)) == 0

        # Repaired → incentives are no longer withheld (DESIGN §2: "until it is repaired").
        red = kit.report_event(factory, "G4", occurred_on=TODAY - timedelta(days=3), department="market_regulation")
        await kit.publish(bootstrap, runtime.topic("reports"), [red])
        red_record = await kit.wait_record(runtime, red.data["report_id"])
        assert red_record["list"] == "red" and red_record["suppressed_measures"] == []
        assert set(red_record["measures"]) == {"I1", "I2", "I3", "I5", "I6", "I7", "F"}

        report = (await client.get(f"/v1/subjects/enterprise/{factory.id}/report")).json()
        assert [r["state"] for r in report["records"]] == ["repaired", "active"]
        assert report["repairs"][0]["id"] == str(record["id"]) and report["repairs"][0]["status"] == "approved"
        assert {m["key"] for m in report["lists"]} == {"red"}
