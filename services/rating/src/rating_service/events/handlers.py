"""What rating does on each incoming event type."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import TYPE_PREFIX, CloudEvent
from jointcredit_common.events.schemas import ReportReceived, ReportWithdrawn
from jointcredit_common.logging import get_logger
from jointcredit_common.service import ServiceRuntime
from rating_service.records.service import apply_repair_decision, classify_report, withdraw_report

log = get_logger(__name__)

# The repair service owns ``repair.decided.v1`` (schemas_repair.py). Rating does not import its class: it
# reacts to any type ending in this suffix and reads only {record_ids: [...], decision: "approved"}.
REPAIR_DECIDED_SUFFIX = "repair.decided.v1"


class Handlers(dict[str, Handler]):
    """Handlers by exact type, plus suffix matches (so a repair event under any type prefix is handled)."""

    def __init__(self, exact: dict[str, Handler], suffixes: dict[str, Handler]) -> None:
        super().__init__(exact)
        self.suffixes = suffixes

    def get(self, key: str, default: Any = None) -> Any:  # noqa: ANN401 - dict.get's contract
        found = super().get(key)
        if found is not None:
            return found
        return next((h for suffix, h in self.suffixes.items() if isinstance(key, str) and key.endswith(suffix)), default)


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

    async def on_repair_decided(session: AsyncSession, event: CloudEvent) -> None:
        # Defensive: a decision we cannot read, a rejection or unknown record ids change nothing.
        data = event.data if isinstance(event.data, dict) else {}
        ended = await apply_repair_decision(session, data, outbox=runtime.outbox)
        log.info("repair_decision_applied", event_id=event.id, decision=str(data.get("decision")), records_ended=ended)

    return Handlers(
        {
            ReportReceived.type_name(): on_report_received,
            ReportWithdrawn.type_name(): on_report_withdrawn,
            TYPE_PREFIX + REPAIR_DECIDED_SUFFIX: on_repair_decided,
        },
        {REPAIR_DECIDED_SUFFIX: on_repair_decided},
    )
