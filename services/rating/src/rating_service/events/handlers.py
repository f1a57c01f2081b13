"""What rating does on each incoming event type."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import ReportReceived, ReportWithdrawn
from jointcredit_common.events.schemas_repair import RepairDecided
from jointcredit_common.logging import get_logger
from jointcredit_common.app import ServiceRuntime
from rating_service.records.service import apply_repair_decision, classify_report, withdraw_report

log = get_logger(__name__)

def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    settings = runtime.settings
    catalog = load_catalog()

    async def on_report_received(session: AsyncSession, event: CloudEvent) -> None:
        await classify_report(
            session, ReportReceived.model_validate(event.data), catalog=catalog,
            emergency_ends_on=settings.emergency_end_date, outbox=runtime.outbox,
        )

    async def on_report_withdrawn(session: AsyncSession, event: CloudEvent) -> None:
        data = ReportWithdrawn.model_validate(event.data)
        await withdraw_report(session, report_id=data.report_id, reason=data.reason, outbox=runtime.outbox)

    async def on_repair_decided(session: AsyncSession, event: CloudEvent) -> None:
        # Repair's own model, strictly (extra="forbid"): a decision that does not match it raises, so the consumer
        # retries and dead-letters it (visible, re-drivable) and no record is ended on a guess.
        decision = RepairDecided.model_validate(event.data)
        ended = await apply_repair_decision(session, decision, outbox=runtime.outbox)
        log.info("repair_decision_applied", event_id=event.id, decision=decision.decision, records_ended=ended)

    return {
        ReportReceived.type_name(): on_report_received,
        ReportWithdrawn.type_name(): on_report_withdrawn,
        RepairDecided.type_name(): on_repair_decided,
    }
