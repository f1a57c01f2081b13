"""What ingest does on each incoming event type."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import ReportClassified
from jointcredit_common.app import ServiceRuntime
from ingest_service.reports.service import apply_classification


def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    async def on_classified(session: AsyncSession, event: CloudEvent) -> None:
        await apply_classification(session, ReportClassified.model_validate(event.data))

    return {ReportClassified.type_name(): on_classified}
