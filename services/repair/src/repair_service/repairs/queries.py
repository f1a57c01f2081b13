"""Reading repair applications: who may see one, the list with its filters and cursor, and an application described
with its steps, decision and the cascade's progress (every time in Asia/Shanghai)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal
from jointcredit_common.calendar import SHANGHAI
from jointcredit_common.errors import NotFound
from jointcredit_common.paging import decode_cursor, encode_cursor
from repair_service.repairs.models import (
    listed_records,
    repair_application_records,
    repair_applications,
    review_steps,
)
from repair_service.settings import RepairSettings

from repair_service.repairs.service import OPEN_STATUSES

def _local(value: datetime | None) -> datetime | None:
    """Every time in a response is shown in Asia/Shanghai, the zone the SLA is counted in."""
    return value.astimezone(SHANGHAI) if value is not None else None


def can_read(app: dict[str, Any], principal: Principal) -> bool:
    return principal.is_admin or principal.role == "reviewer" or (
        principal.role == app["applicant_role"] and principal.principal == app["applicant"]
    )


async def get_application(session: AsyncSession, application_id: uuid.UUID, principal: Principal) -> dict[str, Any]:
    app = (await session.execute(select(repair_applications).where(repair_applications.c.id == application_id))).mappings().first()
    if app is None or not can_read(app, principal):
        raise NotFound(f"no repair application {application_id}", field="path.application_id")
    return dict(app)


async def list_applications(
    session: AsyncSession, *, principal: Principal, overdue: bool | None, status: str | None, channel: str | None,
    cursor: str | None, limit: int, next_stage: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    query = select(repair_applications).order_by(repair_applications.c.seq).limit(limit + 1)
    if not (principal.is_admin or principal.role == "reviewer"):
        query = query.where(repair_applications.c.applicant_role == principal.role, repair_applications.c.applicant == principal.principal)
    if overdue is not None:
        is_overdue = and_(repair_applications.c.status.in_(OPEN_STATUSES), repair_applications.c.due_at <= func.now())
        query = query.where(is_overdue if overdue else ~is_overdue)
    if status:
        query = query.where(repair_applications.c.status == status)
    if channel:
        query = query.where(repair_applications.c.channel == channel)
    if next_stage:
        query = query.where(repair_applications.c.next_stage == next_stage)
    if cursor:
        query = query.where(repair_applications.c.seq > decode_cursor(cursor, int)[0])
    rows = [dict(r) for r in (await session.execute(query)).mappings()]
    next_cursor = encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def application_view(session: AsyncSession, app: dict[str, Any], *, settings: RepairSettings, now: datetime) -> dict[str, Any]:
    """The API view: records with their state, steps, decision and the cascade's progress.

    Read from repair's own tables only. The decision event counts as published once it is committed to the outbox in
    the decision's own transaction (``decided_event_id``, ``decided_at``): from there the relay sends it at least
    once. The outbox row itself is no witness, since the relay purges published rows after ``outbox_retention_hours``.
    What happened downstream is learned from the events repair consumes (``record.repaired.v1``)."""
    app_id = app["id"]
    recs = (
        await session.execute(
            select(repair_application_records, listed_records.c.list, listed_records.c.behavior, listed_records.c.clause_codes,
                   listed_records.c.tier, listed_records.c.ended_at, listed_records.c.end_state)
            .join(listed_records, listed_records.c.record_id == repair_application_records.c.record_id, isouter=True)
            .where(repair_application_records.c.application_id == app_id)
            .order_by(repair_application_records.c.position)
        )
    ).mappings().all()
    steps = (
        await session.execute(select(review_steps).where(review_steps.c.application_id == app_id).order_by(review_steps.c.id))
    ).mappings().all()
    records = [
        {"record_id": r["record_id"], "list": r["list"], "behavior": r["behavior"], "clause_codes": r["clause_codes"],
         "tier": r["tier"], "state": r["end_state"] or "live", "ended_at": _local(r["ended_at"]),
         "rating_confirmed_at": _local(r["rating_confirmed_at"])}
        for r in recs
    ]
    is_open = app["status"] in OPEN_STATUSES
    decision = None
    cascade = None
    if not is_open:
        decision = {"decision": app["status"], "reason": app["decision_reason"], "decided_at": _local(app["decided_at"]),
                    "within_sla": app["decided_at"] <= app["due_at"]}
        published_at = app["decided_at"] if app["decided_event_id"] is not None else None
        cascade = {"decision_event": {"id": str(app["decided_event_id"]) if app["decided_event_id"] else None,
                                      "published": published_at is not None, "published_at": _local(published_at)}}
        if app["status"] == "approved":
            confirmed = [r for r in records if r["rating_confirmed_at"] is not None]
            ended_otherwise = [r for r in records if r["rating_confirmed_at"] is None and r["state"] in ("withdrawn", "expired")]
            settled = len(confirmed) + len(ended_otherwise)
            cascade["steps"] = [
                {"step": "decision_published", "by": "repair",
                 "meaning": "repair.decided.v1 committed to the outbox with the decision; the relay sends it at least once",
                 "confirmed": published_at is not None, "at": _local(published_at)},
                {"step": "records_repaired", "by": "rating",
                 "meaning": "停止公示: rating ended the records as repaired (record.repaired.v1)",
                 "confirmed": settled == len(records), "records_confirmed": len(confirmed),
                 "records_ended_otherwise": len(ended_otherwise), "records_total": len(records),
                 "at": max((r["rating_confirmed_at"] for r in confirmed), default=None)},
                {"step": "measures_lifted", "by": "sanctions",
                 "meaning": "停止共享、解除惩戒: sanctions lifts every measure on each agency's topic (measure.lifted.v1)",
                 "confirmed": None, "observed": False,
                 "note": "follows record.repaired.v1; per-agency topics are not read by repair (least privilege)"},
            ]
            cascade["complete"] = all(s["confirmed"] for s in cascade["steps"] if s["confirmed"] is not None)
    links = {"self": f"/v1/repairs/{app_id}"}
    if app["status"] == "approved" and app["subject_type"] == "enterprise":
        uscc = app["subject_key"].split(":", 1)[1]
        base = settings.rating_public_url.rstrip("/")
        links["credit_report"] = f"{base}/v1/subjects/enterprise/{uscc}/report"  # 三(一) 免费信用报告, regenerated
        links["credit_report_pdf"] = f"{base}/v1/subjects/enterprise/{uscc}/report.pdf"
    return {
        "id": str(app_id),
        "status": app["status"],
        "channel": app["channel"],
        "channel_reason": app["channel_reason"],
        "subject": {"type": app["subject_type"], "key": app["subject_key"], "id": app["display_id"], "name": app["display_name"]},
        "applicant": {"role": app["applicant_role"], "principal": app["applicant"]},
        "record_ids": [r["record_id"] for r in records],
        "records": records,
        "correction": app["correction"],
        "accepted_at": app["accepted_at"].astimezone(SHANGHAI),
        "backdated": app["backdated"],
        "working_days": app["working_days"],
        "due_at": app["due_at"].astimezone(SHANGHAI),
        "provisional": app["due_provisional"],
        "overdue": is_open and app["due_at"] <= now,
        "breached_at": _local(app["breached_at"]),
        "next_stage": app["next_stage"],
        "steps": [{"stage": s["stage"], "decision": s["decision"], "reason": s["reason"], "reviewer": s["reviewer"],
                   "decided_at": _local(s["decided_at"])} for s in steps],
        "decision": decision,
        "cascade": cascade,
        "links": links,
    }
