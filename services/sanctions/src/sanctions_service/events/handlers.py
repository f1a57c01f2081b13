"""What sanctions does on each incoming event type."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import RecordExpired, RecordRepaired, RecordWithdrawn, SubjectListed
from jointcredit_common.service import ServiceRuntime
from sanctions_service.measures.service import issue_measures, lift_measures


def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    catalog = load_catalog()

    async def on_listed(session: AsyncSession, event: CloudEvent) -> None:
        await issue_measures(session, SubjectListed.model_validate(event.data), catalog=catalog, outbox=runtime.outbox)

    def on_ended(model):  # noqa: ANN001, ANN202
        async def handle(session: AsyncSession, event: CloudEvent) -> None:
            await lift_measures(session, model.model_validate(event.data), outbox=runtime.outbox)

        return handle

    return {
        SubjectListed.type_name(): on_listed,
        **{model.type_name(): on_ended(model) for model in (RecordRepaired, RecordWithdrawn, RecordExpired)},
    }
