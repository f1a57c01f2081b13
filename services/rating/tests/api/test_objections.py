"""Objections (异议, DESIGN §2 due process): filed by the reporting department or the credit office (admin),
the record is disputed at once; an admin decides within N working days — upheld withdraws the record (and
every measure on it), rejected restores it. Bad requests change nothing and emit nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import func, select

from jointcredit_common.tables import audit_log, outbox
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕77号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=10)).isoformat()}


def fifth_working_day_after(day, n: int = 5):
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        try:
            counted += chinese_calendar.is_workday(day)
        except NotImplementedError:  # the provisional year: statutory holidays only; from December only 元旦 is reachable
            counted += day.weekday() < 5 and (day.month, day.day) != (1, 1)
    return day


async def outbox_count(runtime) -> int:
    async with runtime.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(outbox))


@pytest.mark.consumers
async def test_objection_disputes_at_once_then_rejection_restores_and_upholding_withdraws(rating_app, kit, tokens):
    shop = kit.Subject("enterprise", uscc(840_001), "大连异议测试药房有限公司")
    reporter = kit.auth(tokens("department", "market_regulation"))
    other_department = kit.auth(tokens("department", "public_security"))
    admin = kit.auth(tokens("admin"))
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        event = kit.report_event(shop, "E7", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        await kit.publish(bootstrap, runtime.topic("reports"), [event])
        record = await kit.wait_record(runtime, event.data["report_id"])
        url = f"/v1/records/{record['id']}/objections"

        # Who may not object, and bad bodies: 4xx and nothing changes, nothing is emitted.
        before = await outbox_count(runtime)
        assert (await client.post(url, json={"grounds": "x"})).status_code == 401
        forbidden = await client.post(url, json={"grounds": "处罚决定有误"}, headers=other_department)
        assert forbidden.status_code == 403
        empty = await client.post(url, json={"grounds": "  "}, headers=reporter)
        assert empty.status_code == 422 and empty.json()["field"].startswith("body")
        extra = await client.post(url, json={"grounds": "有误", "state": "withdrawn"}, headers=reporter)
        assert extra.status_code == 422
        missing = await client.post("/v1/records/00000000-0000-0000-0000-000000000000/objections",
                                    json={"grounds": "有误"}, headers=admin)
        assert missing.status_code == 404
        assert (await client.post("/v1/records/not-a-uuid/objections", json={"grounds": "有误"}, headers=admin)).status_code == 404
        assert await outbox_count(runtime) == before
        assert (await kit.wait_record(runtime, event.data["report_id"]))["state"] == "active"

        # The reporting department enters the subject's written objection: disputed at once.
        filed = await client.post(url, json={"grounds": "企业称售价系进货成本上涨所致", "materials": ["进货发票3张"]},
                                  headers=reporter)
        assert filed.status_code == 201, filed.text
        first = filed.json()
        assert first["record_state"] == "disputed" and first["state"] == "pending"
        assert first["due_on"] == fifth_working_day_after(TODAY).isoformat()
        assert (await kit.wait_record(runtime, event.data["report_id"]))["state"] == "disputed"
        public = (await client.get("/v1/public/lists/dishonest", params={"q": shop.id})).json()["items"]
        assert public[0]["disputed"] is True and public[0]["status_zh"] == "异议处理中"
        again = await client.post(url, json={"grounds": "再次异议"}, headers=admin)
        assert again.status_code == 409

        # Only an admin decides; rejected → active again, nothing lifted.
        decide = f"{url}/{first['id']}:decide"
        assert (await client.post(decide, json={"decision": "rejected", "reason": "x"}, headers=reporter)).status_code == 403
        assert (await client.post(decide, json={"decision": "maybe", "reason": "x"}, headers=admin)).status_code == 422
        rejected = await client.post(decide, json={"decision": "rejected", "reason": "发票不能证明成本上涨"}, headers=admin)
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["record_state"] == "active" and rejected.json()["state"] == "rejected"
        assert (await client.post(decide, json={"decision": "upheld", "reason": "x"}, headers=admin)).status_code == 409

        # A second objection, upheld → withdrawn: off the list, record.withdrawn.v1 for sanctions.
        second = (await client.post(url, json={"grounds": "处罚决定已被复议撤销"}, headers=admin)).json()
        upheld = await client.post(f"{url}/{second['id']}:decide", json={"decision": "upheld", "reason": "处罚决定已被撤销"},
                                   headers=admin)
        assert upheld.status_code == 200 and upheld.json()["record_state"] == "withdrawn"
        assert (await client.get("/v1/public/lists/dishonest", params={"q": shop.id})).json()["items"] == []
        late = await client.post(url, json={"grounds": "还有异议"}, headers=admin)
        assert late.status_code == 409

        listing = (await client.get(url, headers=reporter)).json()
        assert [o["state"] for o in listing["items"]] == ["rejected", "upheld"] and listing["record_state"] == "withdrawn"
        assert (await client.get(url, headers=other_department)).status_code == 404

        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=1.0,
                                  until=lambda evs: sum(e.type.endswith("objection.decided.v1") for e in evs) >= 2)
        mine = [e for e in events if e.data.get("record_id") == str(record["id"])]
        types = [e.type.rsplit(".", 3)[-3] + "." + e.type.rsplit(".", 2)[-2] for e in mine]
        assert types == ["subject.listed", "report.classified", "record.disputed", "objection.decided", "record.disputed",
                         "record.withdrawn", "objection.decided"], types
        assert all(e.key == event.key for e in mine)
        disputed = [e for e in mine if e.type.endswith("record.disputed.v1")]
        assert disputed[0].data["filed_by"] == "market_regulation" and disputed[1].data["filed_by"] == "ops_admin"
        decided = [e.data for e in mine if e.type.endswith("objection.decided.v1")]
        assert [(d["decision"], d["record_state"]) for d in decided] == [("rejected", "active"), ("upheld", "withdrawn")]
        withdrawn = next(e.data for e in mine if e.type.endswith("record.withdrawn.v1"))
        assert withdrawn["reason"] == "异议成立：处罚决定已被撤销"

        async with runtime.sessionmaker() as session:
            actions = (await session.execute(select(audit_log.c.action, audit_log.c.actor)
                                             .where(audit_log.c.target_id == str(record["id"])).order_by(audit_log.c.id))).all()
        assert [tuple(a) for a in actions] == [("objection.file", "market_regulation"), ("objection.rejected", "ops_admin"),
                                               ("objection.file", "ops_admin"), ("objection.upheld", "ops_admin")]


@pytest.mark.consumers
async def test_overdue_objections_are_listed_for_the_credit_office(rating_app, kit, tokens):
    shop = kit.Subject("enterprise", uscc(840_002), "大连逾期异议测试有限公司")
    admin = kit.auth(tokens("admin"))
    async with rating_app(objection_decision_working_days=1, expiry_check_seconds=0.3) as (app, client):  # the setting overrides the catalog's 5
        runtime = app.state.runtime
        event = kit.report_event(shop, "W2", occurred_on=TODAY - timedelta(days=3))
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [event])
        record = await kit.wait_record(runtime, event.data["report_id"])
        filed = (await client.post(f"/v1/records/{record['id']}/objections", json={"grounds": "已整改"}, headers=admin)).json()
        assert filed["due_on"] == fifth_working_day_after(TODAY, 1).isoformat()
        assert (await client.get("/v1/objections", params={"overdue": "true"}, headers=admin)).json()["items"] == []
        from sqlalchemy import update

        from rating_service.records.models import objections

        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(update(objections).values(due_on=TODAY - timedelta(days=1)))
        overdue = (await client.get("/v1/objections", params={"overdue": "true"}, headers=admin)).json()["items"]
        assert [o["id"] for o in overdue] == [filed["id"]] and overdue[0]["overdue"] is True

        # Ops see it too: the schedule's pass refreshes the gauge.
        async def gauge() -> bool:
            text = (await client.get("/metrics")).text
            return 'jc_rating_objections_overdue{service="rating"} 1.0' in text

        await kit.eventually(gauge, timeout=10)
        assert (await client.get("/v1/objections", headers=kit.auth(tokens("department", "market_regulation")))).status_code == 403
