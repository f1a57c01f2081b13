"""Repair applications: eligibility (green vs standard channel), acceptance with its SLA timer, the three reviews.

Every write happens inside the caller's transaction (state + outbox event + audit row together).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.calendar import CalendarNotCovered, WorkingDayCalendar, not_covered_problem
from jointcredit_common.catalog import Catalog
from jointcredit_common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas_repair import RepairAccepted, RepairDecided
from jointcredit_common.pii import InvalidIdentifier, PiiHasher, normalize_subject_id
from jointcredit_common.subjects import subject_key
from repair_service.repairs.models import (
    listed_records,
    repair_application_records,
    repair_applications,
    review_steps,
    sla_timers,
)
from repair_service.repairs.schemas import RepairIn, ReviewIn
from repair_service.settings import RepairSettings

OPEN_STATUSES = ("accepted", "in_review")
REPAIRABLE_LISTS = ("dishonest", "key_warning")  # a red-list record is not a failing to repair
SLA_KIND = "decision"


def in_catalog(catalog: Catalog):  # noqa: ANN201 - a SQL condition
    """Records listed under this catalog (any version of it: ``dalian-2020-4@1.0.0``)."""
    return listed_records.c.catalog.like(f"{catalog.id}@%") | (listed_records.c.catalog == catalog.id)


async def choose_channel(session: AsyncSession, *, subject_type: str, key: str, catalog: Catalog) -> tuple[str, str]:
    """三(一): the green channel is for enterprises (of the epidemic-prevention domain) that became dishonest
    subjects under this catalog — every dishonest record of this catalog is an epidemic-prevention violation,
    so a live dishonest record of it makes the enterprise eligible. Everything else goes the standard way. The
    reasons are the catalog's wording (templates_zh.repair_channel), filled with its facts."""
    wording = catalog.templates_zh.repair_channel
    facts = {"document_no": catalog.document_no, "clause": catalog.measure(catalog.credit_repair.measure).clause}
    if subject_type not in catalog.credit_repair.subject_types:
        name = next((info.name_zh for info in catalog.subject_types if info.code == subject_type), subject_type)
        return "standard", wording.fill("subject_type_not_eligible", **facts, subject_type=subject_type, subject_name=name)
    dishonest = await session.scalar(
        select(
            exists().where(
                listed_records.c.subject_key == key,
                listed_records.c.list == "dishonest",
                listed_records.c.ended_at.is_(None),
                in_catalog(catalog),
            )
        )
    )
    if dishonest:
        return "green", wording.fill("green", **facts)
    return "standard", wording.fill("no_dishonest_record", **facts)


async def accept_application(
    session: AsyncSession,
    *,
    body: RepairIn,
    principal: Principal,
    settings: RepairSettings,
    catalog: Catalog,
    hasher: PiiHasher,
    outbox: Outbox,
    calendar: WorkingDayCalendar,
    now: datetime,
) -> dict[str, Any]:
    """Validate, choose the channel, compute due_at on China's calendar, store + timer + event. Raises problems."""
    # --- who and when -------------------------------------------------------------------------------
    backdated = body.accepted_at is not None
    if backdated:
        if not principal.is_admin:
            raise Forbidden("only an admin may set accepted_at (backdating a paper application)", field="body.accepted_at")
        if body.accepted_at.tzinfo is None or body.accepted_at.utcoffset() is None:
            raise ValidationFailed("accepted_at needs a UTC offset (e.g. 2020-03-06T16:30:00+08:00)", field="body.accepted_at")
        if body.accepted_at > now + timedelta(seconds=settings.accepted_at_future_tolerance_seconds):
            raise ValidationFailed("accepted_at lies in the future", field="body.accepted_at")
        accepted_at = body.accepted_at.astimezone(UTC)
    else:
        accepted_at = now
    try:
        subject_id = normalize_subject_id(body.subject.type, body.subject.id)
    except InvalidIdentifier as exc:
        raise ValidationFailed(str(exc), field="body.subject.id") from exc
    key = subject_key(body.subject.type, subject_id, hasher)

    # --- the records -----------------------------------------------------------------------------------
    if len(body.record_ids) > settings.max_records_per_application:
        raise ValidationFailed(f"at most {settings.max_records_per_application} records per application", field="body.record_ids")
    seen: set[str] = set()
    for i, record_id in enumerate(body.record_ids):
        if not record_id or len(record_id) > 64:
            raise ValidationFailed("a record id is 1-64 characters", field=f"body.record_ids.{i}")
        if record_id in seen:
            raise ValidationFailed(f"record {record_id} is named twice", field=f"body.record_ids.{i}")
        seen.add(record_id)
    rows = {
        r["record_id"]: r
        for r in (await session.execute(select(listed_records).where(listed_records.c.record_id.in_(body.record_ids)))).mappings()
    }
    for i, record_id in enumerate(body.record_ids):
        row = rows.get(record_id)
        if row is None or row["subject_key"] != key:
            raise ValidationFailed(
                f"record {record_id} is not a credit record of this subject known to the repair service "
                "(unknown id, another subject's record, or its listing has not reached repair yet)",
                field=f"body.record_ids.{i}",
            )
        if row["list"] not in REPAIRABLE_LISTS:
            raise ValidationFailed(f"record {record_id} is on the {row['list']} list; only failings are repaired", field=f"body.record_ids.{i}")
        if row["ended_at"] is not None:
            raise Conflict(f"record {record_id} has already ended ({row['end_state']})", field=f"body.record_ids.{i}")
    open_elsewhere = (
        await session.execute(
            select(repair_application_records.c.record_id, repair_application_records.c.application_id)
            .where(repair_application_records.c.record_id.in_(body.record_ids), repair_application_records.c.open)
        )
    ).first()
    if open_elsewhere is not None:
        raise Conflict(
            f"record {open_elsewhere.record_id} is already in the open application {open_elsewhere.application_id}",
            field="body.record_ids", application_id=str(open_elsewhere.application_id),
        )

    # --- channel and deadline ------------------------------------------------------------------------
    channel, channel_reason = await choose_channel(session, subject_type=body.subject.type, key=key, catalog=catalog)
    working_days = settings.green_channel_working_days if channel == "green" else settings.standard_channel_working_days
    try:
        deadline = calendar.due_at(accepted_at, working_days)
    except CalendarNotCovered as exc:
        raise not_covered_problem(exc, "body.accepted_at") from exc
    due_at = deadline.at

    # --- store ---------------------------------------------------------------------------------------
    first = rows[body.record_ids[0]]
    application_id = uuid.uuid4()
    stages = catalog.credit_repair.stages
    await session.execute(
        insert(repair_applications).values(
            id=application_id, subject_key=key, subject_type=body.subject.type, display_id=first["display_id"],
            display_name=first["display_name"], applicant_role=principal.role, applicant=principal.principal,
            correction=body.correction.model_dump(), channel=channel, channel_reason=channel_reason,
            working_days=working_days, status="accepted", next_stage=stages[0], accepted_at=accepted_at,
            backdated=backdated, due_at=due_at, due_provisional=deadline.provisional,
        )
    )
    try:
        async with session.begin_nested():
            await session.execute(
                insert(repair_application_records),
                [{"application_id": application_id, "record_id": r, "position": i, "open": True} for i, r in enumerate(body.record_ids)],
            )
    except IntegrityError as exc:  # a concurrent application took one of the records first
        raise Conflict("one of the records is already in another open application", field="body.record_ids") from exc
    await session.execute(insert(sla_timers).values(application_id=application_id, kind=SLA_KIND, due_at=due_at))
    await outbox.add(
        session,
        RepairAccepted(
            application_id=str(application_id), subject_key=key, subject_type=body.subject.type, display_id=first["display_id"],
            department=principal.principal, record_ids=list(body.record_ids), channel=channel, working_days=working_days,
            accepted_at=accepted_at, due_at=due_at,
        ),
        key=key,
    )
    await record_audit(
        session, principal=principal, action="repair.accept", target_type="repair_application", target_id=str(application_id),
        detail={"subject_key": key, "record_ids": list(body.record_ids), "channel": channel, "accepted_at": accepted_at.isoformat(),
                "backdated": backdated, "due_at": due_at.isoformat(), "working_days": working_days},
    )
    return {"id": application_id, "channel": channel, "accepted_at": accepted_at, "due_at": due_at,
            "provisional": deadline.provisional, "working_days": working_days}


async def decide_stage(
    session: AsyncSession,
    *,
    application_id: uuid.UUID,
    body: ReviewIn,
    principal: Principal,
    catalog: Catalog,
    outbox: Outbox,
    now: datetime,
) -> dict[str, Any]:
    """One review step. The application row is locked, so two reviewers racing for one stage serialise."""
    app = (
        await session.execute(select(repair_applications).where(repair_applications.c.id == application_id).with_for_update())
    ).mappings().first()
    if app is None:
        raise NotFound(f"no repair application {application_id}", field="path.application_id")
    if principal.role != "reviewer":
        raise Forbidden("only reviewers (信用修复绿色通道服务保障小组) decide review stages", field="header.Authorization")
    if not principal.has_scope(body.stage):
        raise Forbidden(f"your credential has no scope for the {body.stage} stage", field="body.stage")
    if app["status"] not in OPEN_STATUSES:
        raise Conflict(f"the application is already {app['status']}", field="body.stage", status_now=app["status"])
    if body.stage != app["next_stage"]:
        raise Conflict(f"stages go in order; the next stage is {app['next_stage']}", field="body.stage", next_stage=app["next_stage"])
    earlier = (
        await session.execute(select(review_steps.c.stage).where(review_steps.c.application_id == application_id,
                                                                review_steps.c.reviewer == principal.principal))
    ).scalar_one_or_none()
    if earlier is not None:
        raise Forbidden(f"you already decided the {earlier} stage of this application; another reviewer must decide {body.stage}")
    await session.execute(
        insert(review_steps).values(application_id=application_id, stage=body.stage, decision=body.decision, reason=body.reason,
                                    reviewer=principal.principal, credential_id=principal.credential_id, decided_at=now)
    )
    stages = list(catalog.credit_repair.stages)
    is_last = body.stage == stages[-1]
    values: dict[str, Any]
    outcome: str | None = None
    if body.decision == "reject":
        outcome = "rejected"
    elif is_last:
        outcome = "approved"
    if outcome is None:
        values = {"status": "in_review", "next_stage": stages[stages.index(body.stage) + 1]}
    else:
        values = {"status": outcome, "next_stage": None, "decided_at": now, "decision_reason": body.reason}
        await session.execute(
            update(repair_application_records).where(repair_application_records.c.application_id == application_id).values(open=False)
        )
        await session.execute(
            update(sla_timers)
            .where(sla_timers.c.application_id == application_id, sla_timers.c.fired_at.is_(None), sla_timers.c.cancelled_at.is_(None))
            .values(cancelled_at=now)
        )
        record_ids = list(
            (await session.execute(
                select(repair_application_records.c.record_id)
                .where(repair_application_records.c.application_id == application_id)
                .order_by(repair_application_records.c.position)
            )).scalars()
        )
        event_id = await outbox.add(
            session,
            RepairDecided(
                application_id=str(application_id), subject_key=app["subject_key"], subject_type=app["subject_type"],
                department=app["applicant"], record_ids=record_ids, decision=outcome, reason=body.reason, stage=body.stage,
                decided_by=principal.principal, channel=app["channel"], accepted_at=app["accepted_at"], due_at=app["due_at"],
                decided_at=now, within_sla=now <= app["due_at"],
            ),
            key=app["subject_key"],
        )
        values["decided_event_id"] = event_id
    await session.execute(update(repair_applications).where(repair_applications.c.id == application_id).values(**values))
    await record_audit(
        session, principal=principal, action=f"repair.review.{body.stage}", target_type="repair_application",
        target_id=str(application_id), detail={"stage": body.stage, "decision": body.decision, "reason": body.reason,
                                               "outcome": outcome},
    )
    return {"status": values["status"], "next_stage": values["next_stage"], "outcome": outcome}
