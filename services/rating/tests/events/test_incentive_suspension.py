"""守信激励、失信惩戒: a red-list subject that becomes dishonest loses its incentives until its LAST live dishonest
record ends (red list exit conditions: "有效期内产生失信记录的，暂停全部激励措施直至信用修复完成")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

pytestmark = pytest.mark.consumers  # events flow into the app under test

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
INCENTIVES = {"I1", "I2", "I3", "I5", "I6", "I7", "F"}


def penalty(no: int) -> dict:
    return {"kind": "administrative_penalty", "document_no": f"大市监罚〔2020〕{no}号", "authority": "大连市市场监督管理局",
            "decided_on": (TODAY - timedelta(days=10)).isoformat()}


async def test_red_list_incentives_pause_while_dishonest_and_resume_when_the_last_record_ends(rating_app, kit, tokens):
    from rating_service.records.models import credit_records
    from rating_service.records.service import expire_due_records

    donor = kit.Subject("enterprise", uscc(880_001), "大连捐赠后失信测试有限公司")
    admin = kit.auth(tokens("admin"))
    async with rating_app(expiry_check_seconds=3600) as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        red = kit.report_event(donor, "G5", occurred_on=TODAY - timedelta(days=20), department="market_regulation")
        gouging = kit.report_event(donor, "E7", occurred_on=TODAY - timedelta(days=15), evidence=penalty(1))
        gathering = kit.report_event(donor, "E2", occurred_on=TODAY - timedelta(days=15), evidence=penalty(2))
        await kit.publish(bootstrap, runtime.topic("reports"), [red, gouging, gathering])
        await kit.wait_classified(runtime, [e.data["report_id"] for e in (red, gouging, gathering)])
        red_record = await kit.wait_record(runtime, red.data["report_id"])
        assert red_record["measures"] == [] and set(red_record["suppressed_measures"]) == INCENTIVES
        report = (await client.get(f"/v1/subjects/enterprise/{donor.id}/report")).json()
        assert not {m["code"] for m in report["measures"]} & INCENTIVES  # not "in force" while paused
        assert {m["key"] for m in report["lists"]} == {"red", "dishonest"}

        # The E7 penalty is revoked (objection upheld): E2 still stands, the pause goes on.
        e7 = await kit.wait_record(runtime, gouging.data["report_id"])
        filed = (await client.post(f"/v1/records/{e7['id']}/objections", json={"grounds": "处罚已撤销"}, headers=admin)).json()
        decided = await client.post(f"/v1/records/{e7['id']}/objections/{filed['id']}:decide",
                                    json={"decision": "upheld", "reason": "处罚决定已撤销"}, headers=admin)
        assert decided.json()["record_state"] == "withdrawn"
        assert (await kit.wait_record(runtime, red.data["report_id"]))["measures"] == []

        # E2's publicity ends: no live dishonest record is left, the incentives apply again.
        e2 = await kit.wait_record(runtime, gathering.data["report_id"])
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(update(credit_records).where(credit_records.c.id == e2["id"])
                                  .values(publicity_ends_on=TODAY - timedelta(days=1)))
        assert await expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=TODAY) == 1
        restored = await kit.wait_record(runtime, red.data["report_id"])
        assert set(restored["measures"]) == INCENTIVES and restored["suppressed_measures"] == []
        report = (await client.get(f"/v1/subjects/enterprise/{donor.id}/report")).json()
        assert {m["code"] for m in report["measures"]} == INCENTIVES

        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=1.0,
                                  until=lambda evs: any(e.type.endswith("incentives_resumed.v1") for e in evs))
        names = [e.type.removeprefix("cn.dalian.jointcredit.").removesuffix(".v1") for e in events if e.key == red.key]
        assert names == [
            "subject.listed", "report.classified",  # G5 → red
            "subject.listed", "record.incentives_suspended", "report.classified",  # E7 → dishonest, red paused
            "subject.listed", "report.classified",  # E2 → dishonest, nothing left to pause
            "record.disputed", "record.withdrawn", "objection.decided",  # E7 withdrawn, E2 still live
            "record.expired", "record.incentives_resumed",  # E2 expired → incentives again
        ], names
        suspended = next(e.data for e in events if e.type.endswith("incentives_suspended.v1"))
        resumed = next(e.data for e in events if e.type.endswith("incentives_resumed.v1"))
        assert suspended["record_id"] == resumed["record_id"] == str(red_record["id"])
        assert set(suspended["measures"]) == set(resumed["measures"]) == INCENTIVES
        assert suspended["because_record_id"] == str(e7["id"]) and resumed["because_record_id"] == str(e2["id"])
        assert "失信记录" in suspended["reason_zh"]
