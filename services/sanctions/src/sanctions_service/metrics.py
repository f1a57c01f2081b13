"""Sanctions' own Prometheus metrics (the platform's are in jointcredit_common.metrics)."""

from __future__ import annotations


from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, text

from jointcredit_common.catalog import load_catalog
from jointcredit_common.periodic import every
from jointcredit_common.app import ServiceRuntime
from sanctions_service.measures.models import measures, webhook_deliveries, webhook_subscriptions

FEEDBACK_OVERDUE = Gauge(
    "jc_measures_feedback_overdue", "Measures in force without agency feedback past the due date", ["service", "agency"]
)
MEASURES_IN_FORCE = Gauge("jc_measures_in_force", "Measures an agency currently applies", ["service", "agency"])
WEBHOOK_DELIVERIES = Gauge("jc_webhook_deliveries", "Webhook deliveries by state", ["service", "agency", "state"])
WEBHOOK_ATTEMPTS = Counter("jc_webhook_attempts_total", "Webhook delivery attempts", ["service", "agency", "result"])


def overdue_condition():  # noqa: ANN201 - a SQLAlchemy boolean clause
    """A measure still applied, with no feedback, whose due time has passed (发起-响应-反馈)."""
    return (
        measures.c.state.in_(("in_force", "suspended"))
        & measures.c.feedback_at.is_(None)
        & (measures.c.feedback_due_at < func.now())
    )


async def refresh_gauges(runtime: ServiceRuntime) -> None:
    service = runtime.settings.service_name
    async with runtime.sessionmaker() as session:
        overdue = dict((await session.execute(
            select(measures.c.agency, func.count()).where(overdue_condition()).group_by(measures.c.agency)
        )).all())
        in_force = dict((await session.execute(
            select(measures.c.agency, func.count()).where(measures.c.state == "in_force").group_by(measures.c.agency)
        )).all())
        deliveries = (await session.execute(
            select(webhook_subscriptions.c.agency, webhook_deliveries.c.state, func.count())
            .join(webhook_subscriptions, webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id)
            .where(webhook_deliveries.c.state.in_(("pending", "dead")))
            .group_by(webhook_subscriptions.c.agency, webhook_deliveries.c.state)
        )).all()
    for agency in (a.code for a in load_catalog().agencies):
        FEEDBACK_OVERDUE.labels(service, agency).set(overdue.get(agency, 0))
        MEASURES_IN_FORCE.labels(service, agency).set(in_force.get(agency, 0))
        for state in ("pending", "dead"):
            WEBHOOK_DELIVERIES.labels(service, agency, state).set(0)
    for agency, state, count in deliveries:
        WEBHOOK_DELIVERIES.labels(service, agency, state).set(count)


_PURGE_SQL = text(
    """
    WITH old AS (
        SELECT id FROM webhook_deliveries
        WHERE state IN ('delivered', 'cancelled') AND created_at < now() - make_interval(secs => :seconds)
        LIMIT 5000
    ), attempts AS (
        DELETE FROM webhook_attempts a USING old WHERE a.delivery_id = old.id
    )
    DELETE FROM webhook_deliveries d USING old WHERE d.id = old.id
    """
)


async def purge_webhook_log(runtime: ServiceRuntime) -> None:
    """Finished deliveries and their attempts grow forever otherwise (STYLE: purge on a schedule)."""
    async with runtime.unit_of_work() as session:
        await session.execute(_PURGE_SQL, {"seconds": runtime.settings.webhook_log_retention_days * 86400})


async def refresh_and_purge(runtime: ServiceRuntime) -> None:
    await refresh_gauges(runtime)
    await purge_webhook_log(runtime)


refresh_gauges_loop = every(lambda r: r.settings.metrics_refresh_seconds, refresh_and_purge, name="refresh_gauges")
