"""SLA timers: rows in the database, fired by whichever replica claims them first.

Each replica runs :func:`sla_timer_loop`. A pass claims due, unfired, uncancelled timers with
``FOR UPDATE SKIP LOCKED``, marks them fired and stages ``repair.sla_breached.v1`` in the outbox in the same
transaction — so a timer fires exactly once however many replicas run, and a crash before commit leaves it
for the next pass (nothing is fired in memory). Time is the database's ``now()``, one clock for all replicas.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime, time, timedelta

from prometheus_client import Gauge
from sqlalchemy import and_, func, select, update

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.clock import CHINA_TZ as SHANGHAI
from jointcredit_common.events.schemas_repair import RepairSlaBreached
from jointcredit_common.logging import get_logger
from jointcredit_common.periodic import periodic
from jointcredit_common.app import ServiceRuntime
from repair_service.repairs.models import repair_applications, sla_timers
from repair_service.repairs.service import OPEN_STATUSES

log = get_logger(__name__)

# Every replica reports the same database-wide figures: aggregate with max(), not sum().
REPAIRS_OPEN = Gauge("jc_repair_applications_open", "Repair applications not yet decided", ["channel"])
REPAIRS_DUE_TODAY = Gauge(
    "jc_repair_applications_due_today", "Open repair applications due later today (Asia/Shanghai), not yet overdue", ["channel"]
)
REPAIRS_OVERDUE = Gauge("jc_repair_applications_overdue", "Open repair applications past their due time", ["channel"])
CHANNELS = ("green", "standard")
SYSTEM = Principal(role="service", principal="repair-sla-timer")
REPLICA = f"{socket.gethostname()}:{os.getpid()}"


async def fire_due_timers(runtime: ServiceRuntime, *, limit: int | None = None, replica: str = REPLICA) -> list[str]:
    """One pass: claim, mark and announce due timers in one transaction. Returns the application ids fired."""
    limit = limit or runtime.settings.sla_batch_size
    async with runtime.unit_of_work() as session:
        claimed = (
            await session.execute(
                select(sla_timers.c.id, sla_timers.c.application_id, sla_timers.c.due_at)
                .where(sla_timers.c.due_at <= func.now(), sla_timers.c.fired_at.is_(None), sla_timers.c.cancelled_at.is_(None))
                .order_by(sla_timers.c.due_at, sla_timers.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not claimed:
            return []
        fired_at = await session.scalar(select(func.now()))
        await session.execute(
            update(sla_timers).where(sla_timers.c.id.in_([c.id for c in claimed])).values(fired_at=fired_at, fired_by=replica)
        )
        apps = {
            a["id"]: a
            for a in (
                await session.execute(
                    select(repair_applications).where(repair_applications.c.id.in_([c.application_id for c in claimed]))
                )
            ).mappings()
        }
        fired: list[str] = []
        for timer in claimed:
            app = apps[timer.application_id]
            if app["status"] not in OPEN_STATUSES:  # decided in the same instant: nothing to announce
                continue
            await session.execute(
                update(repair_applications).where(repair_applications.c.id == app["id"]).values(breached_at=fired_at)
            )
            await runtime.outbox.add(
                session,
                RepairSlaBreached(
                    application_id=str(app["id"]), subject_key=app["subject_key"], department=app["applicant"],
                    channel=app["channel"], pending_stage=app["next_stage"], accepted_at=app["accepted_at"],
                    due_at=app["due_at"], breached_at=fired_at,
                ),
                key=app["subject_key"],
            )
            await record_audit(
                session, principal=SYSTEM, action="repair.sla_breached", target_type="repair_application",
                target_id=str(app["id"]),
                detail={"due_at": app["due_at"].isoformat(), "pending_stage": app["next_stage"], "replica": replica},
            )
            fired.append(str(app["id"]))
    if fired:
        log.warning("repair_sla_breached", count=len(fired), replica=replica)
    return fired


async def refresh_gauges(runtime: ServiceRuntime) -> dict[str, dict[str, int]]:
    now = datetime.now(SHANGHAI)
    end_of_today = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    is_open = repair_applications.c.status.in_(OPEN_STATUSES)
    due = repair_applications.c.due_at
    async with runtime.sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    repair_applications.c.channel,
                    func.count().label("open"),
                    func.count().filter(and_(due > func.now(), due < end_of_today)).label("due_today"),
                    func.count().filter(due <= func.now()).label("overdue"),
                )
                .where(is_open)
                .group_by(repair_applications.c.channel)
            )
        ).mappings().all()
    figures = {c: {"open": 0, "due_today": 0, "overdue": 0} for c in CHANNELS}
    for row in rows:
        figures[row["channel"]] = {"open": row["open"], "due_today": row["due_today"], "overdue": row["overdue"]}
    for channel, values in figures.items():
        REPAIRS_OPEN.labels(channel).set(values["open"])
        REPAIRS_DUE_TODAY.labels(channel).set(values["due_today"])
        REPAIRS_OVERDUE.labels(channel).set(values["overdue"])
    return figures


async def sla_timer_loop(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """ServiceSpec.background: fire due timers every ``sla_poll_seconds``; refresh the gauges now and then."""
    settings = runtime.settings
    loop = asyncio.get_running_loop()
    next_gauges = 0.0

    async def fire_and_count() -> bool:
        nonlocal next_gauges
        backlog = len(await fire_due_timers(runtime)) >= settings.sla_batch_size  # e.g. after downtime: drain first
        if not backlog and loop.time() >= next_gauges:
            await refresh_gauges(runtime)
            next_gauges = loop.time() + settings.metrics_refresh_seconds
        return backlog

    await periodic(stop, settings.sla_poll_seconds, fire_and_count, name="sla_timers", service=settings.service_name)
