"""Objections (异议) against credit records — DESIGN §2 due process, catalog ``due_process``.

Who may file: the department that reported the record (报送部门) and an admin of the credit office
(大连市社会信用体系建设领导小组办公室), exactly the two addresses the catalog's ``objection_zh`` names; a
subject files in writing with one of them, which enters it here. Filing marks the record ``disputed`` at
once (``record.disputed.v1``); an admin decides within N working days (catalog, overridable by setting):
upheld → the record is withdrawn (``record.withdrawn.v1``, measures lifted); rejected → active again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, Literal

from fastapi import Request
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.calendar import CalendarNotCovered, WorkingDayCalendar, not_covered_problem
from jointcredit_common.calendar.coverage import count_provisional
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import Conflict, Forbidden, NotFound
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas_rating import ObjectionDecided, RecordDisputed
from rating_service.records.models import credit_records, objections
from rating_service.records.service import end_record, today_in_china

Decision = Literal["upheld", "rejected"]


def objection_view(row: Any, *, today: date | None = None) -> dict[str, Any]:
    today = today or today_in_china()
    return {
        "id": str(row["id"]),
        "record_id": str(row["record_id"]),
        "state": row["state"],
        "filed_by_role": row["filed_by_role"],
        "filed_by": row["filed_by"],
        "grounds": row["grounds"],
        "materials": row["materials"],
        "filed_at": row["filed_at"],
        "due_on": row["due_on"],
        "overdue": row["state"] == "pending" and row["due_on"] < today,
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by"],
        "decision_reason": row["decision_reason"],
    }


def may_file(principal: Principal, record: Any) -> bool:
    return principal.is_admin or (principal.role == "department" and principal.principal == record["department"])


async def file_objection(
    session: AsyncSession, *, record_id: uuid.UUID, principal: Principal, grounds: str, materials: list[str],
    working_days: int, calendar: WorkingDayCalendar, outbox: Outbox, request: Request | None = None,
) -> dict[str, Any]:
    record = (
        await session.execute(select(credit_records).where(credit_records.c.id == record_id).with_for_update())
    ).mappings().first()
    if record is None:
        raise NotFound(f"no credit record {record_id}", field="path.record_id")
    if not may_file(principal, record):
        # Record ids are public (the lists show them); who may act on one is not.
        raise Forbidden("only the reporting department or the credit office (admin) may enter an objection to this record")
    if record["state"] == "disputed":
        raise Conflict("an objection to this record is already pending; it must be decided first", field="path.record_id")
    # A history record (too late to list) was never published, but it is kept in the subject's file: its subject may
    # object to it. It is not marked disputed (that would publish it); one pending objection at a time all the same.
    history = record["state"] == "history"
    if history and await session.scalar(select(objections.c.id).where(
            objections.c.record_id == record_id, objections.c.state == "pending").limit(1)):
        raise Conflict("an objection to this record is already pending; it must be decided first", field="path.record_id")
    if record["state"] not in ("active", "history"):
        raise Conflict(f"the record has ended ({record['state']}); there is nothing to object to", field="path.record_id")
    filed_on = today_in_china()
    try:  # the filing day itself is not counted (民法典第二百零一条)
        due = calendar.nth_working_day_after(filed_on, working_days)
    except CalendarNotCovered as exc:
        raise not_covered_problem(exc, "path.record_id") from exc
    due_on = due.day
    count_provisional("rating", "objection_due_on", due.provisional)
    objection_id = uuid.uuid4()
    now = datetime.now(UTC)
    row = (
        await session.execute(
            insert(objections)
            .values(id=objection_id, record_id=record_id, subject_key=record["subject_key"], filed_by_role=principal.role,
                    filed_by=principal.principal, grounds=grounds, materials=materials, state="pending", filed_at=now,
                    due_on=due_on)
            .returning(objections)
        )
    ).mappings().one()
    if not history:
        await session.execute(update(credit_records).where(credit_records.c.id == record_id).values(state="disputed"))
        await outbox.add(
            session,
            RecordDisputed(record_id=str(record_id), report_id=str(record["report_id"]), subject_key=record["subject_key"],
                           list=record["list"], objection_id=str(objection_id), filed_by_role=principal.role,
                           filed_by=principal.principal, due_on=due_on, disputed_at=now),
            key=record["subject_key"],
        )
    await record_audit(session, principal=principal, action="objection.file", target_type="credit_record",
                       target_id=str(record_id),
                       detail={"objection_id": str(objection_id), "due_on": due_on.isoformat(),
                               "working_days": working_days, "provisional": due.provisional},
                       request=request)
    # official_calendar: the name this answer had before the provisional calendar; kept for clients that read it
    return objection_view(row) | {"record_state": "history" if history else "disputed", "provisional": due.provisional,
                                  "official_calendar": not due.provisional}


async def decide_objection(
    session: AsyncSession, *, record_id: uuid.UUID, objection_id: uuid.UUID, principal: Principal, decision: Decision,
    reason: str, outbox: Outbox, request: Request | None = None,
) -> dict[str, Any]:
    objection = (
        await session.execute(
            select(objections).where(objections.c.id == objection_id, objections.c.record_id == record_id).with_for_update()
        )
    ).mappings().first()
    if objection is None:
        raise NotFound(f"no objection {objection_id} on record {record_id}", field="path.objection_id")
    if objection["state"] != "pending":
        raise Conflict(f"the objection was already decided ({objection['state']})", field="path.objection_id")
    now = datetime.now(UTC)
    decided = (
        await session.execute(
            update(objections).where(objections.c.id == objection_id)
            .values(state=decision, decided_at=now, decided_by=principal.principal, decision_reason=reason)
            .returning(objections)
        )
    ).mappings().one()
    if decision == "upheld":
        # The record's basis does not stand: withdraw it, so every listing and measure on it is undone.
        upheld = load_catalog().templates_zh.records.fill("objection_upheld", reason=reason)
        await end_record(session, record_id=record_id, state="withdrawn", reason=upheld, outbox=outbox)
    else:
        await session.execute(
            update(credit_records).where(credit_records.c.id == record_id, credit_records.c.state == "disputed")
            .values(state="active")
        )
    record = (await session.execute(select(credit_records).where(credit_records.c.id == record_id))).mappings().one()
    await outbox.add(
        session,
        ObjectionDecided(objection_id=str(objection_id), record_id=str(record_id), report_id=str(record["report_id"]),
                         subject_key=record["subject_key"], list=record["list"], decision=decision, reason=reason,
                         record_state=record["state"], decided_by=principal.principal, decided_at=now),
        key=record["subject_key"],
    )
    await record_audit(session, principal=principal, action=f"objection.{decision}", target_type="credit_record",
                       target_id=str(record_id),
                       detail={"objection_id": str(objection_id), "reason": reason, "record_state": record["state"]},
                       request=request)
    return objection_view(decided) | {"record_state": record["state"]}
