"""Objection endpoints (异议): file (reporting department or admin), decide (admin), list."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select, tuple_

from jointcredit_common.paging import decode_cursor, encode_cursor
from jointcredit_common.auth import AdminPrincipal, Principal, require_role
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import NotFound
from jointcredit_common.openapi import problem_response
from jointcredit_common.app import ServiceRuntime
from rating_service.objections.service import decide_objection, file_objection, may_file, objection_view
from rating_service.records.models import credit_records, objections
from rating_service.records.service import today_in_china

router = APIRouter(tags=["objections"])

FilerPrincipal = Annotated[Principal, require_role("department")]


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    grounds: str = Field(min_length=1, max_length=4000, description="The subject's written grounds (异议理由)")
    materials: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        default_factory=list, max_length=50, description="References to supporting documents (证明材料)")


class ObjectionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: Literal["upheld", "rejected"]
    reason: str = Field(min_length=1, max_length=4000)


def _working_days(runtime: ServiceRuntime) -> int:
    configured = getattr(runtime.settings, "objection_decision_working_days", None)
    return configured or load_catalog().due_process.objection_decision_working_days


@router.post("/v1/records/{record_id}/objections", status_code=201,
             summary="Enter an objection (异议): the record is marked disputed at once",
             responses={409: problem_response(409, "An objection is already pending, or the record has ended")})
async def post_objection(request: Request, record_id: uuid.UUID, objection_in: ObjectionIn, principal: FilerPrincipal) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.unit_of_work() as session:
        return await file_objection(
            session, record_id=record_id, principal=principal, grounds=objection_in.grounds,
            materials=objection_in.materials, working_days=_working_days(runtime), calendar=await runtime.calendar.get(),
            outbox=runtime.outbox, request=request,
        )


@router.post("/v1/records/{record_id}/objections/{objection_id}:decide",
             summary="Decide an objection (admin): upheld withdraws the record, rejected restores it",
             responses={409: problem_response(409, "The objection was already decided")})
async def post_objection_decision(
    request: Request, record_id: uuid.UUID, objection_id: uuid.UUID, decision_in: ObjectionDecisionIn, admin: AdminPrincipal,
) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.unit_of_work() as session:
        return await decide_objection(
            session, record_id=record_id, objection_id=objection_id, principal=admin, decision=decision_in.decision,
            reason=decision_in.reason, outbox=runtime.outbox, request=request,
        )


@router.get("/v1/records/{record_id}/objections", summary="Objections to one record (reporting department or admin)")
async def get_record_objections(request: Request, record_id: uuid.UUID, principal: FilerPrincipal) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        record = (await session.execute(select(credit_records).where(credit_records.c.id == record_id))).mappings().first()
        if record is None or not may_file(principal, record):
            raise NotFound(f"no credit record {record_id}", field="path.record_id")
        rows = (await session.execute(
            select(objections).where(objections.c.record_id == record_id).order_by(objections.c.filed_at)
        )).mappings().all()
    return {"record_id": str(record_id), "record_state": record["state"], "items": [objection_view(r) for r in rows]}


def objections_query(
    *, state: str | None, overdue: bool, today: date, limit: int, after: tuple[date, uuid.UUID] | None = None
) -> Select:
    """One page of objections, earliest deadline first: ``limit + 1`` rows (the extra one says "there is more").

    Keyset on (due_on, id), served by ``objections_state_page`` / ``objections_page`` (migration 0003)."""
    query = select(objections).order_by(objections.c.due_on, objections.c.id).limit(limit + 1)
    if state:
        query = query.where(objections.c.state == state)
    if overdue:
        query = query.where(objections.c.state == "pending", objections.c.due_on < today)
    if after is not None:
        query = query.where(tuple_(objections.c.due_on, objections.c.id) > tuple_(*after))
    return query


@router.get("/v1/objections", summary="Objections by state; overdue=true lists pending ones past their deadline (admin)")
async def list_objections(
    request: Request, admin: AdminPrincipal,
    state: Literal["pending", "upheld", "rejected", "moot"] | None = None, overdue: bool = False,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=200, description="``next_cursor`` of the previous page"),
) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    today = today_in_china()
    query = objections_query(state=state, overdue=overdue, today=today, limit=limit,
                             after=decode_cursor(cursor, date, uuid.UUID) if cursor else None)
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(query)).mappings().all()
    page, more = rows[:limit], len(rows) > limit
    return {"items": [objection_view(r, today=today) for r in page],
            "next_cursor": encode_cursor(page[-1]["due_on"], page[-1]["id"]) if more else None}
