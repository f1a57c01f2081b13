"""Dispatch: one measure per (record, measure, agency) on the agency's own topic; lifting when the basis ends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import Catalog
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas import LegalBasis, MeasureIssued, MeasureLifted, RecordEnded, SubjectListed
from sanctions_service.measures.models import measures


async def issue_measures(session: AsyncSession, listed: SubjectListed, *, catalog: Catalog, outbox: Outbox) -> int:
    issued = 0
    starts_on = listed.publicity_starts_on or datetime.now(UTC).date()
    for code in listed.measures:
        measure = catalog.measure(code)
        for route in measure.agencies:
            payload = MeasureIssued(
                measure_id=str(uuid.uuid4()), agency=route.agency, record_id=listed.record_id, subject=listed.subject,
                list=listed.list, measure=code, text_zh=route.part_zh or measure.text_zh, kind=measure.kind,
                basis=LegalBasis(catalog=listed.catalog, document=catalog.document_no, clause_codes=listed.clause_codes,
                                 evidence_document_no=listed.evidence.document_no if listed.evidence else None),
                starts_on=starts_on, planned_end_on=listed.publicity_ends_on,
            )
            inserted = await session.execute(
                pg_insert(measures)
                .values(id=uuid.UUID(payload.measure_id), record_id=uuid.UUID(listed.record_id), subject_key=listed.subject.key,
                        agency=route.agency, measure=code, list=listed.list, state="in_force",
                        payload=payload.to_data(), starts_on=starts_on, planned_end_on=listed.publicity_ends_on)
                .on_conflict_do_nothing(constraint="measures_once")
                .returning(measures.c.id)
            )
            if inserted.first() is None:
                continue
            await outbox.add(session, payload, key=listed.subject.key, agency=route.agency)
            issued += 1
    return issued


async def lift_measures(session: AsyncSession, ended: RecordEnded, *, outbox: Outbox) -> int:
    now = datetime.now(UTC)
    rows = (
        await session.execute(
            update(measures)
            .where(measures.c.record_id == uuid.UUID(ended.record_id), measures.c.state == "in_force")
            .values(state="lifted", lifted_at=now, lift_reason=ended.reason)
            .returning(measures.c.id, measures.c.agency, measures.c.measure, measures.c.subject_key)
        )
    ).mappings().all()
    for row in rows:
        await outbox.add(
            session,
            MeasureLifted(measure_id=str(row["id"]), agency=row["agency"], record_id=ended.record_id,
                          subject_key=row["subject_key"], measure=row["measure"],
                          reason=f"{type(ended).event_type.split('.')[1]}: {ended.reason}", lifted_at=now),
            key=row["subject_key"], agency=row["agency"],
        )
    return len(rows)
