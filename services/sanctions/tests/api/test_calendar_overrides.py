"""Feedback due dates follow the one calendar, including the city's overrides learned from repair's events."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from jointcredit_common.calendar import SHANGHAI, WorkingDayCalendar
from jointcredit_common.clock import today_in_china
from jointcredit_common.testing.kafka import calendar_override_event, publish_override
from sanctions_support import cloudevent, enterprise, eventually, listed


async def test_a_city_closure_announced_by_repair_moves_the_feedback_due_date(sanctions):
    today = today_in_china()
    national = WorkingDayCalendar()
    closed = national.next_working_day(today)  # the first working day counted for a measure issued today

    def end_of(day) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)

    async with sanctions(feedback_due_working_days=5, run_consumers=True) as h:
        admin = h.auth("admin")

        async def due_dates(subject) -> set[datetime]:
            items = (await h.client.get("/v1/measures?agency=tax_bureau", headers=admin)).json()["items"]
            return {datetime.fromisoformat(i["feedback"]["due_at"]) for i in items if i["subject"]["key"] == subject.key}

        before = enterprise(905)
        await h.send(cloudevent(listed(before, "E5"), key=before.key))
        assert await eventually(lambda: due_dates(before)) == {end_of(national.nth_working_day_after(today, 5).day)}

        await publish_override(h.bootstrap, h.runtime, calendar_override_event(closed, False))
        after = enterprise(906)
        await h.send(cloudevent(listed(after, "E5"), key=after.key))
        moved = WorkingDayCalendar({closed: False}).nth_working_day_after(today, 5).day
        assert moved == national.next_working_day(national.nth_working_day_after(today, 5).day)
        assert await eventually(lambda: due_dates(after)) == {end_of(moved)}
