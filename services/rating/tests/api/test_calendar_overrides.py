"""Objection deadlines follow the one calendar, including the city's overrides learned from repair's events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from jointcredit_common.calendar import WorkingDayCalendar
from jointcredit_common.clock import today_in_china
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import calendar_override_event, eventually, publish_override

TODAY = today_in_china()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕78号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=10)).isoformat()}


async def test_a_city_closure_announced_by_repair_moves_the_objection_deadline(rating_app, kit, tokens):
    shop = kit.Subject("enterprise", uscc(840_101), "大连日历测试药房有限公司")
    admin = kit.auth(tokens("admin"))
    national = WorkingDayCalendar()
    closed = national.next_working_day(TODAY)  # the first working day counted for an objection filed today
    async with rating_app(run_consumers=True) as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        event = kit.report_event(shop, "E7", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
        await kit.publish(bootstrap, runtime.topic("reports"), [event])
        record = await kit.wait_record(runtime, event.data["report_id"])
        url = f"/v1/records/{record['id']}/objections"

        async def file_and_reject() -> str:
            filed = await client.post(url, json={"grounds": "企业称售价系进货成本上涨所致"}, headers=admin)
            assert filed.status_code == 201, filed.text
            objection = filed.json()
            decided = await client.post(f"{url}/{objection['id']}:decide", json={"decision": "rejected", "reason": "不成立"},
                                        headers=admin)
            assert decided.status_code == 200, decided.text
            return objection["due_on"]

        before = await file_and_reject()
        assert before == national.nth_working_day_after(TODAY, 5).day.isoformat()

        # Repair announces that the city closes that day: the deadline moves one working day later.
        changed_at = datetime.now(UTC)
        await publish_override(bootstrap, runtime, calendar_override_event(closed, False, changed_at=changed_at))
        after = await file_and_reject()
        moved = WorkingDayCalendar({closed: False}).nth_working_day_after(TODAY, 5).day
        assert after == moved.isoformat() and moved == national.next_working_day(national.nth_working_day_after(TODAY, 5).day)

        # A late, older announcement for the same day (a redelivery, a replay) cannot roll it back.
        stale = calendar_override_event(closed, None, changed_at=changed_at - timedelta(minutes=5))
        await kit.publish(bootstrap, runtime.topic("calendar"), [stale])

        async def handled() -> bool:
            async with runtime.sessionmaker() as session:
                return bool(await session.scalar(text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": stale.id}))

        await eventually(handled, timeout=30)
        assert await file_and_reject() == moved.isoformat()

        # The override is cleared: the national schedule applies again.
        cleared = calendar_override_event(closed, None, changed_at=changed_at + timedelta(seconds=1))
        await publish_override(bootstrap, runtime, cleared)
        assert await file_and_reject() == before
