"""Dispatch: one measure per (record, measure, agency) on the agency's own topic; lifting when the basis ends.

Every change to a measure is announced to its agency as one event that goes, with one CloudEvents id, to three
channels written in the same transaction: the outbox (→ ``<prefix>.measures.<agency>``), the agency's pull feed
(``measure_events``) and one webhook delivery row per live subscription of the agency.

States of a measure: ``in_force`` → ``lifted``; an incentive may be ``suspended`` (and resumed) while its subject has
a live dishonest record (DESIGN §2); an incentive suppressed at listing is ``withheld`` (never sent) until the
dishonest records end, or ``cancelled`` if its own basis ends first.

One owner per rule: whether a subject has a live dishonest record, and so whether its incentives pause, is rating's
decision (``suppressed_measures`` on the listing, ``record.incentives_suspended/resumed.v1``). Sanctions executes
it and never decides it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Text, bindparam, insert, literal, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.calendar import SHANGHAI, CalendarNotCovered
from jointcredit_common.calendar.coverage import count_provisional
from jointcredit_common.calendar.overrides import CalendarSource
from jointcredit_common.catalog import Catalog
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas import (
    EventData,
    LegalBasis,
    MeasureIssued,
    MeasureLifted,
    RecordEnded,
    SubjectListed,
    SubjectRef,
)
from jointcredit_common.events.schemas_rating import RecordIncentivesResumed, RecordIncentivesSuspended
from jointcredit_common.events.schemas_sanctions import MeasureResumed, MeasureSuspended
from jointcredit_common.logging import get_logger
from jointcredit_common.staging import stage
from sanctions_service.measures.models import credit_records, measure_events, measures, webhook_deliveries, webhook_subscriptions

log = get_logger(__name__)

SENT_STATES = ("in_force", "suspended")  # states an agency has been told to apply (or to pause)


@dataclass(frozen=True)
class DispatchPolicy:
    catalog: Catalog
    outbox: Outbox
    identity_entitled: frozenset[str]
    feedback_due_working_days: int
    calendar: CalendarSource

    def subject_for(self, agency: str, subject: SubjectRef) -> SubjectRef:
        """Citizens: only the masked display values, plus the encrypted identity for entitled agencies (settings)."""
        if subject.type != "citizen" or agency in self.identity_entitled:
            return subject
        return subject.model_copy(update={"id_encrypted": None, "name_encrypted": None})


async def feedback_due_at(issued_at: datetime, policy: DispatchPolicy) -> datetime | None:
    """发起-响应-反馈: 24:00 (Asia/Shanghai) of the N-th working day after the issue day; N = 0: due at issue.

    The one calendar of every service (official schedules, the provisional year, the city's overrides). A measure is
    never held back for want of a calendar: past the provisional year the due date is left open (None), which the
    coverage warning in /readyz and /metrics has announced for two months by then."""
    calendar = await policy.calendar.get()
    try:
        due = calendar.end_of_nth_working_day_after(issued_at, policy.feedback_due_working_days)
    except CalendarNotCovered as exc:
        log.warning("feedback_due_not_covered", uncovered_date=exc.date.isoformat())
        return None
    count_provisional("sanctions", "feedback_due_at", due.provisional)
    return due.at


# Built once with bind parameters (compiled once, cached): the feed row, and one pending delivery per live subscription.
_INSERT_FEED_EVENTS = insert(measure_events).returning(measure_events.c.seq, sort_by_parameter_order=True)
_FAN_OUT_TO_WEBHOOKS = insert(webhook_deliveries).from_select(
    ["subscription_id", "feed_seq", "event_id", "subject_key", "state"],
    select(
        webhook_subscriptions.c.id,
        bindparam("p_seq", type_=BigInteger),
        bindparam("p_event_id", type_=PG_UUID(as_uuid=True)),
        bindparam("p_subject_key", type_=Text),
        literal("pending", Text),
    ).where(webhook_subscriptions.c.agency == bindparam("p_agency", type_=Text), webhook_subscriptions.c.deleted_at.is_(None)),
)


@dataclass(frozen=True)
class AgencyEvent:
    data: EventData
    agency: str
    subject_key: str
    measure_id: uuid.UUID


async def emit_many(session: AsyncSession, events: list[AgencyEvent], *, outbox: Outbox) -> list[uuid.UUID]:
    """Stage agency events on all three channels (topic via the outbox, feed, webhooks) in the caller's transaction,
    in order, with three statements however many there are — per consumer batch, when staged (staging); returns
    their CloudEvents ids."""
    if not events:
        return []
    rows = [outbox.row(e.data, key=e.subject_key, agency=e.agency) for e in events]
    await outbox.add_many(session, rows)
    await stage(session, _write_feed_and_deliveries, list(zip(rows, events, strict=True)))
    return [row["id"] for row in rows]


async def _write_feed_and_deliveries(session: AsyncSession, items: list[tuple[dict, AgencyEvent]]) -> None:
    """The agencies' feed rows (in order: ``seq`` is the feed's order) and a pending delivery per subscription."""
    seqs = (
        await session.execute(_INSERT_FEED_EVENTS, [
            dict(event_id=row["id"], measure_id=e.measure_id, agency=e.agency, subject_key=e.subject_key, type=row["type"],
                 source=row["source"], time=row["time"], data=row["data"])
            for row, e in items
        ])
    ).scalars().all()
    await session.execute(_FAN_OUT_TO_WEBHOOKS, [
        {"p_seq": seq, "p_event_id": row["id"], "p_subject_key": e.subject_key, "p_agency": e.agency}
        for seq, (row, e) in zip(seqs, items, strict=True)
    ])


async def emit(
    session: AsyncSession, data: EventData, *, outbox: Outbox, agency: str, subject_key: str, measure_id: uuid.UUID
) -> uuid.UUID:
    """One agency event (see :func:`emit_many`)."""
    return (await emit_many(session, [AgencyEvent(data, agency, subject_key, measure_id)], outbox=outbox))[0]


def _now() -> datetime:
    return datetime.now(UTC)


# Built once, executed with parameters, so SQLAlchemy reuses their compiled form on every event.
_CLAIM_RECORD = pg_insert(credit_records).on_conflict_do_nothing().returning(credit_records.c.record_id)
_INSERT_MEASURE = pg_insert(measures).on_conflict_do_nothing(constraint="measures_once").returning(measures.c.id)


async def issue_measures(session: AsyncSession, listed: SubjectListed, *, policy: DispatchPolicy) -> int:
    """On ``subject.listed.v1``: issue each routed measure once; returns how many were sent to agencies."""
    catalog = policy.catalog
    now = _now()
    claimed = await session.execute(
        _CLAIM_RECORD,
        dict(record_id=uuid.UUID(listed.record_id), subject_key=listed.subject.key, list=listed.list, state="active",
             listed=listed.to_data(), listed_at=now),
    )
    if claimed.first() is None:
        return 0  # seen before: a repeated listing, or its record already ended (tombstone) — nothing to issue
    starts_on = listed.publicity_starts_on or now.astimezone(SHANGHAI).date()
    due = await feedback_due_at(now, policy)
    codes = list(dict.fromkeys([*listed.measures, *listed.suppressed_measures]))
    rows: list[dict] = []
    events: list[AgencyEvent | None] = []  # None: withheld, recorded but not sent
    for code in codes:
        measure = catalog.measure(code)
        # DESIGN §2: no incentives while the subject has a live dishonest record — rating's decision at listing time.
        withheld = code in listed.suppressed_measures
        for route in measure.agencies:
            measure_id = uuid.uuid4()
            payload = MeasureIssued(
                measure_id=str(measure_id), agency=route.agency, record_id=listed.record_id,
                subject=policy.subject_for(route.agency, listed.subject), list=listed.list, measure=code,
                text_zh=route.part_zh or measure.text_zh, kind=measure.kind,
                basis=LegalBasis(catalog=listed.catalog, document=catalog.document_no, clause_codes=listed.clause_codes,
                                 evidence_document_no=listed.evidence.document_no if listed.evidence else None),
                starts_on=starts_on, planned_end_on=listed.publicity_ends_on,
            )
            rows.append(dict(id=measure_id, record_id=uuid.UUID(listed.record_id), subject_key=listed.subject.key,
                             subject_type=listed.subject.type, agency=route.agency, measure=code, kind=measure.kind,
                             list=listed.list, state="withheld" if withheld else "in_force", payload=payload.to_data(),
                             starts_on=starts_on, planned_end_on=listed.publicity_ends_on, issued_at=now,
                             feedback_due_at=None if withheld else due))
            events.append(None if withheld else AgencyEvent(payload, route.agency, listed.subject.key, measure_id))
    if not rows:
        return 0
    # One multi-row INSERT for the listing's measures, then one emit for those sent: a handful of round trips per
    # listing instead of four per agency route.
    inserted = set((await session.execute(_INSERT_MEASURE, rows)).scalars().all())
    to_send = [e for row, e in zip(rows, events, strict=True) if e is not None and row["id"] in inserted]
    await emit_many(session, to_send, outbox=policy.outbox)
    return len(to_send)


async def suspend_incentives(session: AsyncSession, paused: RecordIncentivesSuspended, *, policy: DispatchPolicy) -> int:
    """On rating's ``record.incentives_suspended.v1``: pause the named incentives of the red record that are in force;
    idempotent by state."""
    now = _now()
    rows = (
        await session.execute(
            update(measures)
            .where(measures.c.subject_key == paused.subject_key, measures.c.record_id == uuid.UUID(paused.record_id),
                   measures.c.state == "in_force", measures.c.measure.in_(paused.measures))
            .values(state="suspended", suspended_at=now)
            .returning(measures.c.id, measures.c.seq, measures.c.agency, measures.c.measure, measures.c.record_id)
        )
    ).mappings().all()
    for row in sorted(rows, key=lambda r: r["seq"]):
        await emit(
            session,
            MeasureSuspended(measure_id=str(row["id"]), agency=row["agency"], record_id=str(row["record_id"]),
                             subject_key=paused.subject_key, measure=row["measure"], reason=paused.reason_zh,
                             because_record_id=paused.because_record_id, suspended_at=now),
            outbox=policy.outbox, agency=row["agency"], subject_key=paused.subject_key, measure_id=row["id"],
        )
    return len(rows)


async def restore_incentives(session: AsyncSession, resumed_in: RecordIncentivesResumed, *, policy: DispatchPolicy) -> int:
    """On rating's ``record.incentives_resumed.v1``: resume the named paused incentives of the red record and send
    the withheld ones — only while that record itself has not ended here; idempotent by state."""
    now = _now()
    subject_key, reason, codes = resumed_in.subject_key, resumed_in.reason_zh, resumed_in.measures
    active_record = (
        select(credit_records.c.record_id)
        .where(credit_records.c.state == "active", credit_records.c.record_id == uuid.UUID(resumed_in.record_id))
        .scalar_subquery()
    )
    only = measures.c.measure.in_(codes)
    resumed = (
        await session.execute(
            update(measures)
            .where(measures.c.subject_key == subject_key, measures.c.state == "suspended", measures.c.record_id.in_(active_record),
                   only)
            .values(state="in_force", suspended_at=None)
            .returning(measures.c.id, measures.c.seq, measures.c.agency, measures.c.measure, measures.c.record_id)
        )
    ).mappings().all()
    for row in sorted(resumed, key=lambda r: r["seq"]):
        await emit(
            session,
            MeasureResumed(measure_id=str(row["id"]), agency=row["agency"], record_id=str(row["record_id"]),
                           subject_key=subject_key, measure=row["measure"], reason=reason, resumed_at=now),
            outbox=policy.outbox, agency=row["agency"], subject_key=subject_key, measure_id=row["id"],
        )
    starts_on = now.astimezone(SHANGHAI).date()
    released = (
        await session.execute(
            update(measures)
            .where(measures.c.subject_key == subject_key, measures.c.state == "withheld", measures.c.record_id.in_(active_record),
                   only)
            .values(state="in_force", issued_at=now, starts_on=starts_on,
                    feedback_due_at=await feedback_due_at(now, policy))
            .returning(measures.c.id, measures.c.seq, measures.c.agency, measures.c.payload)
        )
    ).mappings().all()
    for row in sorted(released, key=lambda r: r["seq"]):
        payload = MeasureIssued.model_validate({**row["payload"], "starts_on": starts_on.isoformat()})
        await session.execute(update(measures).where(measures.c.id == row["id"]).values(payload=payload.to_data()))
        await emit(session, payload, outbox=policy.outbox, agency=row["agency"], subject_key=subject_key, measure_id=row["id"])
    return len(resumed) + len(released)


async def lift_measures(session: AsyncSession, ended: RecordEnded, *, policy: DispatchPolicy) -> int:
    """On repair, withdrawal or expiry: every measure built on the record is lifted, with the reason."""
    now = _now()
    end_kind = type(ended).event_type.split(".")[1] if type(ended).event_type else "ended"
    reason = f"{end_kind}: {ended.reason}"
    record_id = uuid.UUID(ended.record_id)
    closed = (
        await session.execute(
            update(credit_records)
            .where(credit_records.c.record_id == record_id, credit_records.c.state == "active")
            .values(state="ended", end_kind=end_kind, end_reason=ended.reason, ended_at=now)
            .returning(credit_records.c.subject_key, credit_records.c.list)
        )
    ).mappings().first()
    if closed is None:
        # Already ended (a repeat), or ended before we saw its listing: leave a tombstone so a late listing issues nothing.
        await session.execute(
            pg_insert(credit_records)
            .values(record_id=record_id, subject_key=ended.subject_key, list=ended.list, state="ended", end_kind=end_kind,
                    end_reason=ended.reason, ended_at=now)
            .on_conflict_do_nothing()
        )
        return 0
    lifted = (
        await session.execute(
            update(measures)
            .where(measures.c.record_id == record_id, measures.c.state.in_(SENT_STATES))
            .values(state="lifted", lifted_at=now, lift_reason=reason)
            .returning(measures.c.id, measures.c.seq, measures.c.agency, measures.c.measure, measures.c.subject_key)
        )
    ).mappings().all()
    for row in sorted(lifted, key=lambda r: r["seq"]):
        await emit(
            session,
            MeasureLifted(measure_id=str(row["id"]), agency=row["agency"], record_id=ended.record_id,
                          subject_key=row["subject_key"], measure=row["measure"], reason=reason, lifted_at=now),
            outbox=policy.outbox, agency=row["agency"], subject_key=row["subject_key"], measure_id=row["id"],
        )
    await session.execute(
        update(measures)
        .where(measures.c.record_id == record_id, measures.c.state == "withheld")
        .values(state="cancelled", lifted_at=now, lift_reason=reason)
    )
    # The red records' incentives come back on rating's record.incentives_resumed.v1, which follows this ending.
    return len(lifted)
