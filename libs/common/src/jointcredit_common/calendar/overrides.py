"""The city's overrides of the national schedule: one owner (repair's admin API), learned by the others by event.

Repair owns the override table and publishes every change as ``calendar.override_changed.v1`` on ``<prefix>.calendar``,
keyed by the date (a compacted topic in production keeps the last change of every date). Rating and sanctions keep a
mirror of it in their own database (``calendar_overrides`` below, created by their migrations) through the consumer
that :func:`calendar_consumer` builds; a change is applied only if it is newer than what the mirror holds, so a
replay or an out-of-order redelivery cannot roll a date back. A cleared override stays in the mirror as a tombstone
(``working`` NULL) for the same reason. Repair announces every override again when it starts, so a mirror that is
newer than the topic's retention still learns them all.

Each service reads its calendar through a :class:`CalendarSource`: the overrides are cached for ``ttl`` seconds
(a deadline is computed per listing on sanctions' hot path) and reloaded at once after this process commits a change.
Another replica of the same service sees the change within ``ttl``.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, Date, DateTime, MetaData, Table, Text, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.calendar.working_days import WorkingDayCalendar
from jointcredit_common.events.schemas_repair import CALENDAR_TOPIC, CalendarOverrideChanged

if TYPE_CHECKING:
    from jointcredit_common.events.envelope import CloudEvent
    from jointcredit_common.app import ConsumerSpec, ServiceRuntime

mirror_metadata = MetaData()

# The mirror in rating's and sanctions' databases (their migrations create it with these columns).
calendar_overrides_mirror = Table(
    "calendar_overrides",
    mirror_metadata,
    Column("day", Date, primary_key=True),
    Column("working", Boolean),  # NULL: the override was cleared (tombstone)
    Column("reason", Text),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)


async def apply_override_change(
    session: AsyncSession, change: CalendarOverrideChanged, table: Table = calendar_overrides_mirror
) -> bool:
    """Upsert the change into the mirror unless the mirror already holds a newer one. True if applied."""
    insert = pg_insert(table).values(day=change.day, working=change.working, reason=change.reason, changed_at=change.changed_at)
    upsert = insert.on_conflict_do_update(
        index_elements=[table.c.day],
        set_={"working": insert.excluded.working, "reason": insert.excluded.reason, "changed_at": insert.excluded.changed_at},
        where=table.c.changed_at <= insert.excluded.changed_at,
    ).returning(table.c.day)
    return (await session.execute(upsert)).first() is not None


@functools.cache
def _national_calendar() -> WorkingDayCalendar:
    return WorkingDayCalendar()


class CalendarSource:
    """The service's working-day calendar: shipped schedules plus the overrides in its own database, cached."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession] | None, table: Table | None, ttl: float = 30.0) -> None:
        self._sessionmaker = sessionmaker
        self._table = table
        self._ttl = ttl
        self._calendar: WorkingDayCalendar | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> WorkingDayCalendar:
        if self._calendar is not None and time.monotonic() - self._loaded_at < self._ttl:
            return self._calendar
        async with self._lock:
            if self._calendar is None or time.monotonic() - self._loaded_at >= self._ttl:
                self._calendar = WorkingDayCalendar(await self._load_overrides())
                self._loaded_at = time.monotonic()
        return self._calendar

    def national(self) -> WorkingDayCalendar:
        """The national calendar without the city's overrides (coverage does not depend on them); one per process."""
        return _national_calendar()

    def invalidate(self) -> None:
        self._loaded_at = 0.0

    def invalidate_after_commit(self, session: AsyncSession) -> None:
        """Reload on the next read once ``session`` commits (before would let a read cache the old overrides)."""
        event.listen(session.sync_session, "after_commit", lambda _s: self.invalidate(), once=True)

    async def _load_overrides(self) -> dict[date, bool]:
        if self._table is None or self._sessionmaker is None:
            return {}
        async with self._sessionmaker() as session:
            query = select(self._table.c.day, self._table.c.working).where(self._table.c.working.is_not(None))
            return {day: working for day, working in (await session.execute(query)).all()}


def calendar_consumer(service_name: str) -> ConsumerSpec:
    """The consumer that keeps a service's override mirror in step with repair's table."""
    from jointcredit_common.app import ConsumerSpec

    def handlers(runtime: ServiceRuntime) -> dict[str, Any]:
        async def on_override_changed(session: AsyncSession, event: CloudEvent) -> None:
            change = CalendarOverrideChanged.model_validate(event.data)
            if await apply_override_change(session, change):
                runtime.calendar.invalidate_after_commit(session)

        return {CalendarOverrideChanged.type_name(): on_override_changed}

    return ConsumerSpec(name=f"{service_name}-calendar", topics=[CALENDAR_TOPIC], handlers=handlers)


def create_override_mirror(op: Any) -> None:
    """For a consuming service's migration: the mirror table (same shape everywhere, as the platform tables)."""
    import sqlalchemy as sa

    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("working", sa.Boolean),
        sa.Column("reason", sa.Text),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
