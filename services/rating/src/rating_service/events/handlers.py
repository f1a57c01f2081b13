"""What rating does on each incoming event type."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import ReportReceived, ReportWithdrawn
from jointcredit_common.service import ServiceRuntime
from rating_service.records.service import classify_report, withdraw_report


def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    settings = runtime.settings
    catalog = load_catalog()

    async def on_report_received(session: AsyncSession, event: CloudEvent) -> None:
        await classify_report(
            session, ReportReceived.model_validate(event.data), catalog=catalog,
            emergency_ends_on=settings.emergency_ends_on, outbox=runtime.outbox,
        )

    async def on_report_withdrawn(session: AsyncSession, event: CloudEvent) -> None:
        data = ReportWithdrawn.model_validate(event.data)
        await withdraw_report(session, report_id=data.report_id, reason=data.reason, outbox=runtime.outbox)

    return {ReportReceived.type_name(): on_report_received, ReportWithdrawn.type_name(): on_report_withdrawn}
