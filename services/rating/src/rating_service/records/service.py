"""Classifying reports into credit records and lists, and ending records (withdrawal, repair, expiry)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Text, bindparam, exists, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.catalog import Catalog, load_catalog
from jointcredit_common.clock import today_in_china  # noqa: F401 - re-exported for the domain's modules
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
from jointcredit_common.events.schemas_rating import RecordIncentivesResumed, RecordIncentivesSuspended
from jointcredit_common.events.schemas_repair import RepairDecided
from rating_service.classification import EvidenceFacts, ExemptionFacts, ReportFacts, classify
from rating_service.records.models import classifications, credit_records, objections, subjects

LIVE_STATES = ("active", "disputed")
# Constants in the SQL text, not parameters: the partial and expression indexes of migrations 0002/0003 must
# match in a generic (prepared) plan too, where a parameter's value is unknown to the planner — and no expanding
# IN list is rendered again on every execution.
LIVE = credit_records.c.state.in_([literal_column(f"'{state}'") for state in LIVE_STATES])
# Actors of the writes no person makes (audit trail, DESIGN §4).
CLASSIFIER_ACTOR = Principal(role="service", principal="rating.classifier")
EXPIRY_ACTOR = Principal(role="service", principal="rating.expiry")
REPAIR_ACTOR = Principal(role="service", principal="rating.repair-events")
# Why a record ended, a moot objection, resumed incentives: the catalog's wording (templates_zh.records), read
# from the catalog in force when the sentence is written.


# Statements built once, executed with parameters: SQLAlchemy caches their compiled form (per-call .values()
# would rebuild and re-key them on every event).
_INSERT_SUBJECT = pg_insert(subjects).on_conflict_do_nothing()
_INSERT_CLASSIFICATION = pg_insert(classifications).on_conflict_do_nothing().returning(classifications.c.report_id)


_HAS_LIVE_DISHONEST = select(exists().where(
    credit_records.c.subject_key == bindparam("subject_key", type_=Text), credit_records.c.list == literal_column("'dishonest'"),
    LIVE,
))


async def has_active_dishonest_record(session: AsyncSession, subject_key: str) -> bool:
    return bool(await session.scalar(_HAS_LIVE_DISHONEST, {"subject_key": subject_key}))


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
        _INSERT_SUBJECT,
        dict(key=subject.key, type=subject.type, display_id=subject.display_id, display_name=subject.display_name,
             id_encrypted=subject.id_encrypted, name_encrypted=subject.name_encrypted),
    )
    record_id = uuid.uuid4() if decision.list else None
    now = datetime.now(UTC)
    inserted = await session.execute(
        _INSERT_CLASSIFICATION,
        dict(report_id=uuid.UUID(report.report_id), subject_key=subject.key, department=report.department,
             behavior=report.behavior, outcome=decision.outcome, clause_codes=decision.clause_codes,
             reason_zh=decision.reason_zh, decision=decision.model_dump(mode="json"), record_id=record_id,
             catalog=decision.catalog, decided_at=now),
    )
    if inserted.first() is None:  # already classified (a second delivery past the inbox): change nothing
        return {"outcome": decision.outcome, "duplicate": True}
    # A report too late to list (its period over, or the notice ended: outcome history) is kept as a record in
    # state history, never published: no listing, no measures to issue and lift. Its subject may still object.
    ended_before_listing = decision.outcome == "history"
    if decision.list:
        notice = decision.notice.model_dump(mode="json") if decision.notice else None
        evidence = decision.evidence_used.model_dump(mode="json") if decision.evidence_used else None
        await session.execute(
            insert(credit_records),
            dict(
                id=record_id, report_id=uuid.UUID(report.report_id), subject_key=subject.key, department=report.department,
                list=decision.list, behavior=report.behavior, clause_codes=decision.clause_codes, tier=decision.tier,
                state="history" if ended_before_listing else "active",
                publicity_starts_on=decision.publicity_starts_on, publicity_ends_on=decision.publicity_ends_on,
                evidence=evidence, measures=decision.measures, suppressed_measures=decision.suppressed_measures,
                reason_zh=decision.reason_zh, notice=notice, catalog=decision.catalog, occurred_on=report.occurred_on,
                ended_at=now if ended_before_listing else None,
                end_reason=catalog.templates_zh.records.expired_before_listing if ended_before_listing else None,
            )
        )
    if decision.list and not ended_before_listing:
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
    # After the listing is announced: the subject's red records pause their incentives (守信激励、失信惩戒).
    if decision.list == "dishonest" and not ended_before_listing:
        await suspend_incentives(session, subject_key=subject.key, subject_type=subject.type, because=record_id,
                                 catalog=catalog, outbox=outbox)
    await outbox.add(
        session,
        ReportClassified(
            report_id=report.report_id, subject_key=subject.key, outcome=decision.outcome, clause_codes=decision.clause_codes,
            reason_zh=decision.reason_zh, record_id=str(record_id) if record_id else None, list=decision.list,
            catalog=decision.catalog, classified_at=now,
        ),
        key=subject.key,
    )
    await record_audit(session, principal=CLASSIFIER_ACTOR, action="report.classify", target_type="report",
                       target_id=report.report_id,
                       detail={"outcome": decision.outcome, "clause_codes": decision.clause_codes, "list": decision.list,
                               "record_id": str(record_id) if record_id else None, "department": report.department,
                               "evidence": decision.evidence_used.model_dump(mode="json") if decision.evidence_used else None,
                               "catalog": decision.catalog})
    return {"outcome": decision.outcome, "record_id": record_id}


_ENDINGS: dict[str, type[RecordEnded]] = {"withdrawn": RecordWithdrawn, "repaired": RecordRepaired, "expired": RecordExpired}


async def end_record(session: AsyncSession, *, record_id: uuid.UUID, state: str, reason: str, outbox: Outbox) -> bool:
    """Move a live record to ``state`` and announce it, so every listing and measure built on it is undone."""
    # A history record was never live, but its basis can still fall (objection upheld, penalty revoked).
    endable = LIVE if state != "withdrawn" else credit_records.c.state.in_([*LIVE_STATES, "history"])
    row = (
        await session.execute(
            update(credit_records)
            .where(credit_records.c.id == record_id, endable)
            .values(state=state, ended_at=datetime.now(UTC), end_reason=reason)
            .returning(credit_records)
        )
    ).mappings().first()
    if row is None:
        return False
    # An objection still pending on a record that ended otherwise has nothing left to decide.
    await session.execute(
        update(objections)
        .where(objections.c.record_id == record_id, objections.c.state == "pending")
        .values(state="moot", decided_at=row["ended_at"], decided_by="system",
                decision_reason=load_catalog().templates_zh.records.objection_moot[state])
    )
    await outbox.add(
        session,
        _ENDINGS[state](record_id=str(row["id"]), report_id=str(row["report_id"]), subject_key=row["subject_key"],
                        list=row["list"], reason=reason, ended_at=row["ended_at"]),
        key=row["subject_key"],
    )
    # The subject's last live dishonest record ended: its red records' incentives apply again.
    if row["list"] == "dishonest":
        await _lock_subject(session, row["subject_key"])
        if not await has_active_dishonest_record(session, row["subject_key"]):
            await resume_incentives(session, subject_key=row["subject_key"], because=row["id"], outbox=outbox)
    return True


async def _lock_subject(session: AsyncSession, subject_key: str) -> None:
    """Serialise a subject's dishonest-record transitions, so that "is any dishonest record still live?" is
    answered after the other transaction's change commits (suspend/resume never miss each other)."""
    await session.execute(select(subjects.c.key).where(subjects.c.key == subject_key).with_for_update())


async def _live_red_records(session: AsyncSession, subject_key: str) -> list[Any]:
    return list((await session.execute(
        select(credit_records)
        .where(credit_records.c.subject_key == subject_key, credit_records.c.list == "red",
               LIVE)
        .order_by(credit_records.c.created_at, credit_records.c.id)
        .with_for_update()
    )).mappings().all())


async def suspend_incentives(
    session: AsyncSession, *, subject_key: str, subject_type: str, because: uuid.UUID, catalog: Catalog, outbox: Outbox
) -> int:
    """守信激励、失信惩戒: a subject on the red list that becomes dishonest loses its incentives until the dishonest
    record ends (red list exit conditions in the catalog). The red record stays; its incentives move to
    ``suppressed_measures`` and sanctions is told to lift them."""
    suspended = 0
    await _lock_subject(session, subject_key)
    for red in await _live_red_records(session, subject_key):
        pause = [m for m in red["measures"] if catalog.measure(m).suppressed_while_dishonest]
        if not pause:
            continue
        keep = [m for m in red["measures"] if m not in pause]
        await session.execute(update(credit_records).where(credit_records.c.id == red["id"])
                              .values(measures=keep, suppressed_measures=list(red["suppressed_measures"]) + pause))
        reason = catalog.templates_zh.suppressed.format_map(
            {"subject": catalog.templates_zh.subject[subject_type], "measures": "、".join(pause)})
        await outbox.add(session, RecordIncentivesSuspended(
            record_id=str(red["id"]), report_id=str(red["report_id"]), subject_key=subject_key, list="red", measures=pause,
            because_record_id=str(because), reason_zh=reason, at=datetime.now(UTC)), key=subject_key)
        suspended += 1
    return suspended


async def resume_incentives(session: AsyncSession, *, subject_key: str, because: uuid.UUID, outbox: Outbox) -> int:
    """The subject's last live dishonest record ended: withheld incentives of its live red records apply again
    (also those withheld since listing: "待信用修复后恢复")."""
    resumed = 0
    reason = load_catalog().templates_zh.records.incentives_resumed
    for red in await _live_red_records(session, subject_key):
        withheld = list(red["suppressed_measures"])
        if not withheld:
            continue
        await session.execute(update(credit_records).where(credit_records.c.id == red["id"])
                              .values(measures=list(red["measures"]) + withheld, suppressed_measures=[]))
        await outbox.add(session, RecordIncentivesResumed(
            record_id=str(red["id"]), report_id=str(red["report_id"]), subject_key=subject_key, list="red",
            measures=withheld, because_record_id=str(because), reason_zh=reason, at=datetime.now(UTC)), key=subject_key)
        resumed += 1
    return resumed


async def expire_due_records(
    sessionmaker: async_sessionmaker[AsyncSession], *, outbox: Outbox, today: date, batch_size: int = 200
) -> int:
    """End every live record whose publicity ended before ``today``, in batches, one transaction each.

    ``FOR UPDATE SKIP LOCKED``: several replicas may run this at once; each claims different rows and a
    row is expired (and ``record.expired.v1`` emitted) exactly once, because ``end_record`` only moves live rows.
    """
    reason = load_catalog().templates_zh.records.expired
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            due = (
                await session.execute(
                    select(credit_records.c.id)
                    .where(LIVE, credit_records.c.publicity_ends_on < today)
                    .order_by(credit_records.c.publicity_ends_on, credit_records.c.id)
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).scalars().all()
            for record_id in due:
                if await end_record(session, record_id=record_id, state="expired", reason=reason, outbox=outbox):
                    await record_audit(session, principal=EXPIRY_ACTOR, action="record.expire", target_type="credit_record",
                                       target_id=str(record_id), detail={"today": today.isoformat(), "reason": reason})
                    total += 1
        if len(due) < batch_size:
            return total


async def apply_repair_decision(session: AsyncSession, decision: RepairDecided, *, outbox: Outbox) -> int:
    """三(一) green channel: an approved repair ends each named live record of its subject as ``repaired`` (publicity
    stops, sharing stops, sanctions lifts the measures). A rejection, a record of another subject, an unknown record
    or one already ended changes nothing, so a redelivery is harmless. A record id that is not one of ours (not a
    UUID) breaks the contract: it raises, and the event is dead-lettered."""
    if decision.decision != "approved":
        return 0
    reason = decision.reason.strip() or load_catalog().templates_zh.records.repaired
    record_ids = list(dict.fromkeys(uuid.UUID(r) for r in decision.record_ids))
    owners = dict((await session.execute(
        select(credit_records.c.id, credit_records.c.subject_key).where(credit_records.c.id.in_(record_ids))
    )).all())
    ended = 0
    for record_id in record_ids:
        if owners.get(record_id) != decision.subject_key:
            continue  # unknown here, or another subject's record: a repair of one subject never ends another's
        if await end_record(session, record_id=record_id, state="repaired", reason=reason, outbox=outbox):
            await record_audit(session, principal=REPAIR_ACTOR, action="record.repair", target_type="credit_record",
                               target_id=str(record_id),
                               detail={"reason": reason, "repair": {"application_id": decision.application_id,
                                                                    "stage": decision.stage, "decided_by": decision.decided_by}})
            ended += 1
    return ended


async def withdraw_report(session: AsyncSession, *, report_id: str, reason: str, outbox: Outbox) -> bool:
    record_id = await session.scalar(select(credit_records.c.id).where(credit_records.c.report_id == uuid.UUID(report_id)))
    if record_id is None:
        return False
    return await end_record(session, record_id=record_id, state="withdrawn", reason=reason, outbox=outbox)
