"""Classifying reports into credit records and lists, and ending records (withdrawal, repair, expiry)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import Catalog
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas import (
    Evidence,
    RecordEnded,
    RecordExpired,
    RecordRepaired,
    RecordWithdrawn,
    ReportClassified,
    ReportReceived,
    SubjectListed,
)
from rating_service.classification import EvidenceFacts, ExemptionFacts, ReportFacts, classify
from rating_service.records.models import classifications, credit_records, subjects

LIVE_STATES = ("active", "disputed")


def today_in_china() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


async def has_active_dishonest_record(session: AsyncSession, subject_key: str) -> bool:
    return bool(
        await session.scalar(
            select(
                exists().where(
                    credit_records.c.subject_key == subject_key,
                    credit_records.c.list == "dishonest",
                    credit_records.c.state.in_(LIVE_STATES),
                )
            )
        )
    )


async def classify_report(
    session: AsyncSession, report: ReportReceived, *, catalog: Catalog, emergency_ends_on: date | None, outbox: Outbox
) -> dict[str, Any]:
    """One report → exactly one classification (and at most one credit record), announced with it."""
    subject = report.subject
    facts = ReportFacts(
        subject_type=subject.type,
        behavior=report.behavior,
        occurred_on=report.occurred_on,
        evidence=EvidenceFacts(**report.evidence.model_dump()),
        exemption=ExemptionFacts(**report.exemption.model_dump()) if report.exemption else None,
    )
    as_of = today_in_china()
    decision = classify(
        facts, catalog, as_of=as_of, emergency_ends_on=emergency_ends_on,
        subject_has_active_dishonest_record=await has_active_dishonest_record(session, subject.key),
    )
    await session.execute(
        pg_insert(subjects)
        .values(key=subject.key, type=subject.type, display_id=subject.display_id, display_name=subject.display_name,
                id_encrypted=subject.id_encrypted, name_encrypted=subject.name_encrypted)
        .on_conflict_do_nothing()
    )
    record_id = uuid.uuid4() if decision.list else None
    now = datetime.now(UTC)
    inserted = await session.execute(
        pg_insert(classifications)
        .values(report_id=uuid.UUID(report.report_id), subject_key=subject.key, department=report.department,
                behavior=report.behavior, outcome=decision.outcome, clause_codes=decision.clause_codes,
                reason_zh=decision.reason_zh, decision=decision.model_dump(mode="json"), record_id=record_id,
                catalog=decision.catalog, decided_at=now)
        .on_conflict_do_nothing()
        .returning(classifications.c.report_id)
    )
    if inserted.first() is None:  # already classified (a second delivery past the inbox): change nothing
        return {"outcome": decision.outcome, "duplicate": True}
    if decision.list:
        notice = decision.notice.model_dump(mode="json") if decision.notice else None
        evidence = decision.evidence_used.model_dump(mode="json") if decision.evidence_used else None
        await session.execute(
            insert(credit_records).values(
                id=record_id, report_id=uuid.UUID(report.report_id), subject_key=subject.key, department=report.department,
                list=decision.list, behavior=report.behavior, clause_codes=decision.clause_codes, tier=decision.tier,
                state="active", publicity_starts_on=decision.publicity_starts_on, publicity_ends_on=decision.publicity_ends_on,
                evidence=evidence, measures=decision.measures, suppressed_measures=decision.suppressed_measures,
                reason_zh=decision.reason_zh, notice=notice, catalog=decision.catalog,
            )
        )
        await outbox.add(
            session,
            SubjectListed(
                record_id=str(record_id), report_id=report.report_id, department=report.department, subject=subject,
                list=decision.list, behavior=report.behavior, clause_codes=decision.clause_codes, tier=decision.tier,
                measures=decision.measures, suppressed_measures=decision.suppressed_measures,
                publicity_starts_on=decision.publicity_starts_on, publicity_ends_on=decision.publicity_ends_on,
                evidence=Evidence(**evidence) if evidence else None, reason_zh=decision.reason_zh, notice=notice,
                catalog=decision.catalog,
            ),
            key=subject.key,
        )
    await outbox.add(
        session,
        ReportClassified(
            report_id=report.report_id, subject_key=subject.key, outcome=decision.outcome, clause_codes=decision.clause_codes,
            reason_zh=decision.reason_zh, record_id=str(record_id) if record_id else None, list=decision.list,
            catalog=decision.catalog, classified_at=now,
        ),
        key=subject.key,
    )
    return {"outcome": decision.outcome, "record_id": record_id}


_ENDINGS: dict[str, type[RecordEnded]] = {"withdrawn": RecordWithdrawn, "repaired": RecordRepaired, "expired": RecordExpired}


async def end_record(session: AsyncSession, *, record_id: uuid.UUID, state: str, reason: str, outbox: Outbox) -> bool:
    """Move a live record to ``state`` and announce it, so every listing and measure built on it is undone."""
    row = (
        await session.execute(
            update(credit_records)
            .where(credit_records.c.id == record_id, credit_records.c.state.in_(LIVE_STATES))
            .values(state=state, ended_at=datetime.now(UTC), end_reason=reason)
            .returning(credit_records)
        )
    ).mappings().first()
    if row is None:
        return False
    await outbox.add(
        session,
        _ENDINGS[state](record_id=str(row["id"]), report_id=str(row["report_id"]), subject_key=row["subject_key"],
                        list=row["list"], reason=reason, ended_at=row["ended_at"]),
        key=row["subject_key"],
    )
    return True


async def withdraw_report(session: AsyncSession, *, report_id: str, reason: str, outbox: Outbox) -> bool:
    record_id = await session.scalar(select(credit_records.c.id).where(credit_records.c.report_id == uuid.UUID(report_id)))
    if record_id is None:
        return False
    return await end_record(session, record_id=record_id, state="withdrawn", reason=reason, outbox=outbox)
