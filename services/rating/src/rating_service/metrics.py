"""Rating's own Prometheus metrics (the platform's are in jointcredit_common.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rating_service.records.models import credit_records, objections

RECORDS_EXPIRED = Counter("jc_rating_records_expired_total", "Credit records expired by the schedule", ["service"])
OBJECTIONS_OVERDUE = Gauge("jc_rating_objections_overdue", "Pending objections past their working-day deadline", ["service"])
OBJECTIONS_PENDING = Gauge("jc_rating_objections_pending", "Objections not yet decided", ["service"])
RECORDS_PUBLISHED = Gauge("jc_rating_records_live", "Live (active or disputed) credit records", ["service", "list"])


async def refresh(sessionmaker: async_sessionmaker[AsyncSession], *, today, service: str = "rating") -> None:  # noqa: ANN001
    async with sessionmaker() as session:
        pending, overdue = (await session.execute(
            select(func.count(), func.count().filter(objections.c.due_on < today)).where(objections.c.state == "pending")
        )).one()
        live = dict((await session.execute(
            select(credit_records.c.list, func.count()).where(credit_records.c.state.in_(("active", "disputed")))
            .group_by(credit_records.c.list)
        )).all())
    OBJECTIONS_PENDING.labels(service).set(pending)
    OBJECTIONS_OVERDUE.labels(service).set(overdue)
    for name in ("key_warning", "red", "dishonest"):
        RECORDS_PUBLISHED.labels(service, name).set(live.get(name, 0))
