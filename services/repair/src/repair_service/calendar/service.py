"""The city's overrides (repair owns them and announces every change) and the recomputation of provisional deadlines.

An override is written with its ``calendar.override_changed.v1`` event in one transaction, keyed by the date, so rating
(objection deadlines) and sanctions (feedback due dates) follow the same calendar without reading this database.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.calendar import WorkingDayCalendar
from jointcredit_common.errors import NotFound
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas_repair import CalendarOverrideChanged, RepairDeadlinesRecomputed
from jointcredit_common.logging import get_logger
from jointcredit_common.app import ServiceRuntime
from repair_service.calendar.models import calendar_overrides
from repair_service.calendar.schemas import OverrideIn
from repair_service.repairs.models import repair_applications, sla_timers
from repair_service.repairs.service import OPEN_STATUSES, SLA_KIND

log = get_logger(__name__)
SYSTEM = Principal(role="service", principal="repair-calendar")


def _key(day: date) -> str:
    return f"calendar:{day.isoformat()}"


LIVE = calendar_overrides.c.working.is_not(None)


def _changed(row: Any) -> CalendarOverrideChanged:
    return CalendarOverrideChanged(day=row.day, working=row.working, reason=row.reason, changed_at=row.changed_at)


async def list_overrides(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (await session.execute(select(calendar_overrides).where(LIVE).order_by(calendar_overrides.c.day))).mappings().all()
    return [{"date": r["day"].isoformat(), "working": r["working"], "reason": r["reason"]} for r in rows]


async def set_override(session: AsyncSession, *, day: date, override_in: OverrideIn, admin: Principal, outbox: Outbox,
                       now: datetime, request: Any = None) -> dict[str, Any]:
    values = {"working": override_in.working, "reason": override_in.reason, "changed_at": now}
    row = (await session.execute(
        pg_insert(calendar_overrides).values(day=day, **values)
        .on_conflict_do_update(index_elements=[calendar_overrides.c.day], set_=values)
        .returning(calendar_overrides)
    )).one()
    await outbox.add(session, _changed(row), key=_key(day))
    await record_audit(session, principal=admin, action="calendar.override.set", target_type="calendar_day",
                       target_id=day.isoformat(), detail={"working": override_in.working, "reason": override_in.reason},
                       request=request)
    return {"date": day.isoformat(), "working": override_in.working, "reason": override_in.reason}


async def clear_override(session: AsyncSession, *, day: date, admin: Principal, outbox: Outbox, now: datetime,
                         request: Any = None) -> None:
    row = (await session.execute(
        update(calendar_overrides).where(calendar_overrides.c.day == day, LIVE)
        .values(working=None, reason=None, changed_at=now).returning(calendar_overrides)
    )).first()
    if row is None:
        raise NotFound(f"no override for {day.isoformat()}", field="path.day")
    await outbox.add(session, _changed(row), key=_key(day))
    await record_audit(session, principal=admin, action="calendar.override.delete", target_type="calendar_day",
                       target_id=day.isoformat(), request=request)


async def announce_overrides(runtime: ServiceRuntime) -> int:
    """Start-up: announce every override again, tombstones included, with its original ``changed_at``.

    Topics keep events for a retention window only; a service whose mirror is new (a rebuilt database, a new
    service) still learns every override this way, and a mirror that already holds them ignores nothing it needs
    (the same ``changed_at`` rewrites the same values)."""
    async with runtime.unit_of_work() as session:
        rows = (await session.execute(select(calendar_overrides).order_by(calendar_overrides.c.day))).all()
        for row in rows:
            await runtime.outbox.add(session, _changed(row), key=_key(row.day))
    return len(rows)


async def recompute_provisional_deadlines(
    runtime: ServiceRuntime, calendar: WorkingDayCalendar | None = None
) -> list[dict[str, str]]:
    """Open applications whose deadline rested on a provisional day, recomputed once the official schedule of that
    year ships (a new ``schedules/<year>.yaml``). Changed deadlines move their SLA timer, are announced in one
    ``repair.deadlines_recomputed.v1`` event and logged. Safe with several replicas (rows claimed with SKIP LOCKED).
    Decided applications keep the deadline they were decided against."""
    calendar = calendar or await runtime.calendar.get()
    changed: list[dict[str, str]] = []
    async with runtime.unit_of_work() as session:
        rows = (
            await session.execute(
                select(repair_applications.c.id, repair_applications.c.accepted_at, repair_applications.c.working_days,
                       repair_applications.c.due_at)
                .where(repair_applications.c.due_provisional, repair_applications.c.status.in_(OPEN_STATUSES))
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            deadline = calendar.due_at(row.accepted_at, row.working_days)
            if deadline.provisional:
                continue  # that year is still provisional: nothing has been published to recompute against
            await session.execute(update(repair_applications).where(repair_applications.c.id == row.id)
                                  .values(due_at=deadline.at, due_provisional=False))
            if deadline.at == row.due_at:
                continue
            await session.execute(update(sla_timers)
                                  .where(sla_timers.c.application_id == row.id, sla_timers.c.kind == SLA_KIND,
                                         sla_timers.c.fired_at.is_(None))
                                  .values(due_at=deadline.at))
            changed.append({"application_id": str(row.id), "previous_due_at": row.due_at.isoformat(),
                            "due_at": deadline.at.isoformat()})
        if changed:
            await runtime.outbox.add(session, RepairDeadlinesRecomputed(applications=changed, reason=(
                "official working-day schedule published for a year these deadlines had computed provisionally")),
                key="calendar:recomputed")
            await record_audit(session, principal=SYSTEM, action="repair.deadlines.recompute", target_type="repair_application",
                               detail={"applications": changed})
    if changed:
        log.warning("provisional_deadlines_recomputed", checked=len(rows), changed=len(changed),
                    applications=[c["application_id"] for c in changed])
    return changed
