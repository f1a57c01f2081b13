"""What repair does on each incoming event type (from rating, on ``<prefix>.ratings``).

- subject.listed.v1 → a local copy of the credit record: who is a dishonest subject under this catalog
  (green-channel eligibility) and which records an application may name.
- record.repaired/withdrawn/expired.v1 → the record has ended; record.repaired.v1 also confirms the cascade's
  rating step on the approved application that named the record.
All effects are idempotent (ON CONFLICT DO NOTHING, "only if not yet ended" guards) on top of the inbox.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import RecordEnded, RecordExpired, RecordRepaired, RecordWithdrawn, SubjectListed
from jointcredit_common.app import ServiceRuntime
from repair_service.repairs.models import listed_records, repair_application_records, repair_applications

_END_STATES: dict[type[RecordEnded], str] = {RecordRepaired: "repaired", RecordWithdrawn: "withdrawn", RecordExpired: "expired"}


async def on_listed(session: AsyncSession, event: CloudEvent) -> None:
    data = SubjectListed.model_validate(event.data)
    await session.execute(
        pg_insert(listed_records)
        .values(
            record_id=data.record_id, report_id=data.report_id, subject_key=data.subject.key, subject_type=data.subject.type,
            display_id=data.subject.display_id, display_name=data.subject.display_name, list=data.list, behavior=data.behavior,
            clause_codes=list(data.clause_codes), tier=data.tier, department=data.department, catalog=data.catalog,
            listed_at=event.time,
        )
        .on_conflict_do_nothing(index_elements=[listed_records.c.record_id])
    )


def on_ended(model: type[RecordEnded]) -> Handler:
    state = _END_STATES[model]

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        data = model.model_validate(event.data)
        await session.execute(
            update(listed_records)
            .where(listed_records.c.record_id == data.record_id, listed_records.c.ended_at.is_(None))
            .values(ended_at=data.ended_at, end_state=state, end_reason=data.reason)
        )
        if state == "repaired":
            await session.execute(
                update(repair_application_records)
                .where(
                    repair_application_records.c.record_id == data.record_id,
                    repair_application_records.c.rating_confirmed_at.is_(None),
                    repair_application_records.c.application_id == repair_applications.c.id,
                    repair_applications.c.status == "approved",
                )
                .values(rating_confirmed_at=data.ended_at)
            )

    return handle


def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    return {
        SubjectListed.type_name(): on_listed,
        **{model.type_name(): on_ended(model) for model in _END_STATES},
    }
