"""Feedback (发起-响应-反馈): recorded by the owning agency, announced, counted; overdue measures flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jointcredit_common.tables import audit_log
from jointcredit_common.testing.kafka import read_topic
from sanctions_service.measures.models import measure_feedback
from sanctions_support import cloudevent, ended, enterprise, eventually, listed

pytestmark = pytest.mark.consumers  # events flow into the app under test


def metric(text: str, name: str, agency: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and f'agency="{agency}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_feedback_is_recorded_by_the_owning_agency_and_clears_the_overdue_flag(sanctions):
    first, second, third = enterprise(901), enterprise(902), enterprise(903)
    listings = [listed(s, "E3") for s in (first, second, third)]
    async with sanctions(feedback_due_working_days=0, metrics_refresh_seconds=0.3) as h:
        await h.send(*(cloudevent(li, key=li.subject.key) for li in listings))
        tax = h.auth("agency", "tax_bureau")

        async def overdue():
            items = (await h.client.get("/v1/measures?feedback=overdue", headers=tax)).json()["items"]
            return items if len(items) == 3 else None

        items = await eventually(overdue)
        assert {i["measure"] for i in items} == {"P1"} and all(i["feedback"]["overdue"] for i in items)

        async def gauge():
            text = (await h.client.get("/metrics")).text
            return metric(text, "jc_measures_feedback_overdue", "tax_bureau") == 3.0

        await eventually(gauge)

        target = next(i for i in items if i["record_id"] == listings[0].record_id)
        at = datetime.now(UTC) - timedelta(minutes=1)
        bad_inputs = [
            ({"result": "done", "at": at.isoformat(), "matter": "x"}, "body.result"),
            ({"result": "applied", "at": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "matter": "x"}, "body.at"),
            ({"result": "applied", "at": "2019-01-01T00:00:00+08:00", "matter": "x"}, "body.at"),
            ({"result": "applied", "at": "2020-03-20T10:00:00", "matter": "x"}, "body.at"),  # no time zone
            ({"result": "applied", "at": at.isoformat()}, "body.matter"),
            ({"result": "applied", "at": at.isoformat(), "matter": "x", "extra": 1}, "body.extra"),
        ]
        for body, field in bad_inputs:
            response = await h.client.post(f"/v1/measures/{target['id']}/feedback", json=body, headers=tax)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["field"] == field
        async with h.runtime.sessionmaker() as session:
            assert (await session.execute(select(func.count()).select_from(measure_feedback))).scalar_one() == 0

        response = await h.client.post(
            f"/v1/measures/{target['id']}/feedback", headers=tax,
            json={"result": "applied", "at": at.isoformat(), "matter": "2020年度税收优惠资格审核（大税优〔2020〕7号）",
                  "note": "已取消该企业本年度税收优惠资格"},
        )
        assert response.status_code == 201, response.text
        feedback = response.json()
        assert feedback["result"] == "applied" and feedback["reported_by"] == "tax_bureau"
        retried = await h.client.post(f"/v1/measures/{target['id']}/feedback", headers=tax, json={
            "result": "applied", "at": at.isoformat(), "matter": feedback["matter"], "note": feedback["note"]})
        assert retried.status_code == 200 and retried.json()["id"] == feedback["id"]  # a retry records nothing new
        second_target = next(i for i in items if i["record_id"] == listings[1].record_id)
        response = await h.client.post(f"/v1/measures/{second_target['id']}/feedback", headers=tax,
                                       json={"result": "not_applicable", "at": at.isoformat(), "matter": "该企业未享受税收优惠"})
        assert response.status_code == 201

        remaining = (await h.client.get("/v1/measures?feedback=overdue", headers=tax)).json()["items"]
        assert [i["record_id"] for i in remaining] == [listings[2].record_id]
        detail = (await h.client.get(f"/v1/measures/{target['id']}", headers=tax)).json()
        assert detail["feedback"]["result"] == "applied" and not detail["feedback"]["overdue"]
        assert [f["matter"] for f in detail["feedback_history"]] == [feedback["matter"]]

        stats = (await h.client.get("/v1/agencies/tax_bureau/stats", headers=tax)).json()
        assert stats["measures"] == {"issued": 3, "in_force": 3, "suspended": 0, "lifted": 0}
        assert stats["feedback"]["applied"] == 1 and stats["feedback"]["not_applicable"] == 1
        assert stats["feedback"]["failed"] == 0 and stats["feedback"]["awaiting"] == 1 and stats["feedback"]["overdue"] == 1
        assert stats["feedback"]["received"] == 2 and stats["feedback"]["response_rate"] == round(2 / 3, 4)
        assert stats["feedback"]["on_time"] == 0  # due at issue (0 working days): every answer is late
        assert stats["feedback"]["median_response_hours"] is not None

        async def gauge_drops():
            text = (await h.client.get("/metrics")).text
            return metric(text, "jc_measures_feedback_overdue", "tax_bureau") == 1.0

        await eventually(gauge_drops)

        # A lifted measure no longer waits for feedback.
        await h.send(cloudevent(ended("withdrawn", listings[2], "处罚决定被依法撤销"), key=listings[2].subject.key))

        async def cleared():
            return (await h.client.get("/v1/measures?feedback=overdue", headers=tax)).json()["items"] == []

        await eventually(cleared)

        events = await read_topic(h.bootstrap, h.topic("feedback"), until=lambda evs: len(evs) >= 2, settle=1.5)
        assert sorted(e.data["result"] for e in events) == ["applied", "not_applicable"]
        assert {e.key for e in events} == {first.key, second.key}
        assert all("note" not in e.data for e in events)  # the free-text note stays in the database
        async with h.runtime.sessionmaker() as session:
            audited = (await session.execute(select(func.count()).select_from(audit_log)
                                             .where(audit_log.c.action == "measure.feedback"))).scalar_one()
        assert audited == 2


async def test_feedback_is_not_due_before_the_configured_working_days(sanctions):
    subject = enterprise(904)
    async with sanctions(feedback_due_working_days=5) as h:
        await h.send(cloudevent(listed(subject, "E5"), key=subject.key))
        admin = h.auth("admin")

        async def issued():
            return (await h.client.get("/v1/measures?agency=tax_bureau", headers=admin)).json()["items"]

        items = await eventually(issued)
        due = datetime.fromisoformat(items[0]["feedback"]["due_at"])
        assert due - datetime.now(UTC) > timedelta(days=5)  # five working days, ending at midnight Shanghai time
        assert (await h.client.get("/v1/measures?feedback=overdue", headers=admin)).json()["items"] == []
        assert len((await h.client.get("/v1/measures?feedback=awaiting", headers=admin)).json()["items"]) >= 8
