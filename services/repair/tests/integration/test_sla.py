"""SLA timers: rows in the database, fired once across replicas, visible in ?overdue=true and in metrics."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from jointcredit_common.clock import CHINA_TZ as SHANGHAI
from jointcredit_common.testing.factories import uscc
from repair_service.repairs.sla import fire_due_timers

pytestmark = pytest.mark.consumers  # events flow into the app under test

BREACHED = "cn.dalian.jointcredit.repair.sla_breached.v1"


async def file(repair, n: int, accepted_at: str | None = None, record: str | None = None) -> dict:
    enterprise = uscc(n)
    record = record or await repair.list_record(f"enterprise:{enterprise}")
    extra = {"accepted_at": accepted_at} if accepted_at else {}
    response = await repair.post(repair.application(enterprise, [record], **extra), repair.admin if accepted_at else None)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(repair, numbers: range) -> list[str]:
    """The records ``file`` needs for ``numbers``: every listing emitted at once, then each waited for."""
    records = [await repair.list_record(f"enterprise:{uscc(n)}", wait=False) for n in numbers]
    for record in records:
        await repair.wait_record(record)
    return records


async def test_an_overdue_application_breaches_once_and_is_listed_as_overdue(repair):
    # A paper application accepted Friday 2020-03-06 16:30 was due Monday 2020-03-09 16:30: long overdue.
    late = await file(repair, 8001, accepted_at="2020-03-06T16:30:00+08:00")
    assert late["due_at"] == "2020-03-09T16:30:00+08:00"
    fresh = await file(repair, 8002)

    async def fired() -> bool:
        return await repair.scalar("SELECT count(*) FROM sla_timers WHERE fired_at IS NOT NULL") == 1

    await repair.wait_until(fired, what="the overdue timer to fire")
    events = await repair.read("repairs", until=lambda evs: any(e.type == BREACHED for e in evs), settle=2.0)
    breached = [e.data for e in events if e.type == BREACHED]
    assert len(breached) == 1
    assert breached[0]["application_id"] == late["id"] and breached[0]["pending_stage"] == "initial"
    assert datetime.fromisoformat(breached[0]["due_at"]) == datetime.fromisoformat(late["due_at"])

    overdue = (await repair.client.get("/v1/repairs?overdue=true", headers=repair.reviewer("initial"))).json()
    assert [i["id"] for i in overdue["items"]] == [late["id"]]
    assert overdue["items"][0]["overdue"] is True and overdue["items"][0]["breached_at"] is not None
    on_time = (await repair.client.get("/v1/repairs?overdue=false", headers=repair.reviewer("initial"))).json()
    assert [i["id"] for i in on_time["items"]] == [fresh["id"]]

    # Deciding late is still possible; the decision records that the SLA was missed; no second breach.
    for stage in ("initial", "re_review", "final"):
        assert (await repair.review(late["id"], stage)).status_code == 200
    view = (await repair.client.get(f"/v1/repairs/{late['id']}", headers=repair.admin)).json()
    assert view["decision"]["within_sla"] is False and view["overdue"] is False
    assert (await repair.client.get("/v1/repairs?overdue=true", headers=repair.admin)).json()["items"] == []
    await asyncio.sleep(1.0)
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type = :t", t=BREACHED) == 1


async def test_a_decided_application_never_breaches(repair):
    app = await file(repair, 8003)
    for stage in ("initial", "re_review", "final"):
        assert (await repair.review(app["id"], stage)).status_code == 200
    # Pretend the deadline passed: the cancelled timer stays silent.
    async with repair.runtime.sessionmaker() as session, session.begin():
        from sqlalchemy import text

        await session.execute(text("UPDATE sla_timers SET due_at = now() - interval '1 hour'"))
    assert await fire_due_timers(repair.runtime) == []
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type = :t", t=BREACHED) == 0


async def test_two_replicas_on_one_database_fire_each_timer_exactly_once(open_repair):
    async with open_repair(sla_poll_seconds=0.05) as one, open_repair(sla_poll_seconds=0.05) as two:
        assert one.runtime is not two.runtime and one.runtime.engine is not two.runtime.engine
        # Stop neither loop: both hunt for due timers while 30 overdue applications arrive.
        ids = []
        records = await listed(one, range(8100, 8130))
        for n in range(30):
            ids.append((await file(one if n % 2 else two, 8100 + n, accepted_at="2020-03-06T16:30:00+08:00",
                                   record=records[n]))["id"])

        async def all_fired() -> bool:
            return await one.scalar("SELECT count(*) FROM sla_timers WHERE fired_at IS NOT NULL") == 30

        await one.wait_until(all_fired, what="all timers fired")
        # And hammer the claim from both replicas at once for good measure: nothing is left to fire twice.
        results = await asyncio.gather(*(fire_due_timers(r.runtime) for r in (one, two) for _ in range(5)))
        assert all(r == [] for r in results)
        events = await one.read("repairs", until=lambda evs: sum(e.type == BREACHED for e in evs) >= 30, settle=2.0)
        breached = [e.data["application_id"] for e in events if e.type == BREACHED]
        assert sorted(breached) == sorted(ids)  # each exactly once
        assert await one.scalar("SELECT count(*) FROM audit_log WHERE action = 'repair.sla_breached'") == 30


async def test_concurrent_claims_split_the_work_without_overlap(open_repair):
    async with open_repair(sla_poll_seconds=3600) as one, open_repair(sla_poll_seconds=3600) as two:
        await asyncio.sleep(0.5)  # let each loop's first (empty) pass finish
        records = await listed(one, range(8200, 8220))
        ids = [(await file(one, 8200 + n, accepted_at="2020-03-06T16:30:00+08:00", record=records[n]))["id"] for n in range(20)]
        # Small batches from both replicas in parallel: SKIP LOCKED hands each timer to exactly one of them.
        fired = await asyncio.gather(*(fire_due_timers(r.runtime, limit=3, replica=f"r{i}-{k}")
                                       for i, r in enumerate((one, two)) for k in range(8)))
        flat = [a for batch in fired for a in batch]
        assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))
        assert await one.scalar("SELECT count(DISTINCT fired_by) FROM sla_timers") > 1


async def test_timers_survive_a_restart(open_repair):
    async with open_repair(sla_poll_seconds=3600) as first:
        await asyncio.sleep(0.5)
        app = await file(first, 8300, accepted_at="2020-03-06T16:30:00+08:00")
        assert await first.scalar("SELECT fired_at FROM sla_timers") is None  # the loop slept; nothing fired yet
    async with open_repair() as second:  # a new process on the same database
        async def fired() -> bool:
            return await second.scalar("SELECT count(*) FROM sla_timers WHERE fired_at IS NOT NULL") == 1

        await second.wait_until(fired, what="the timer to fire after the restart")
        events = await second.read("repairs", until=lambda evs: any(e.type == BREACHED for e in evs), settle=1.0)
        assert [e.data["application_id"] for e in events if e.type == BREACHED] == [app["id"]]


async def test_metrics_show_open_due_today_and_overdue(repair):
    from sqlalchemy import text

    late = await file(repair, 8401, accepted_at="2020-03-06T16:30:00+08:00")
    normal = await file(repair, 8402)
    # Make one application due later today (Asia/Shanghai) by moving its deadline: the gauge reads the database.
    now = datetime.now(SHANGHAI)
    due_today = now + timedelta(seconds=90)  # (just after 23:58:30 this is tomorrow, and the expectation follows)
    async with repair.runtime.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE repair_applications SET due_at = :d WHERE id = :id"), {"d": due_today, "id": normal["id"]})

    async def gauges() -> dict:
        text_ = (await repair.client.get("/metrics")).text
        values = {}
        for name in ("open", "due_today", "overdue"):
            line = next(ln for ln in text_.splitlines() if ln.startswith(f'jc_repair_applications_{name}{{channel="green"}}'))
            values[name] = float(line.split()[-1])
        return values

    expected = {"open": 2.0, "due_today": 1.0 if due_today.date() == now.date() else 0.0, "overdue": 1.0}

    async def settled() -> bool:
        return await gauges() == expected

    await repair.wait_until(settled, timeout=15, what=f"gauges {expected}")
    for stage in ("initial", "re_review", "final"):
        assert (await repair.review(late["id"], stage)).status_code == 200
    expected = {**expected, "open": 1.0, "overdue": 0.0}
    await repair.wait_until(settled, timeout=15, what=f"gauges {expected}")
