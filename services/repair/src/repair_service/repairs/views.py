from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from jointcredit_common.auth import Principal, require_role
from jointcredit_common.catalog import load_catalog
from jointcredit_common.calendar.coverage import count_provisional
from jointcredit_common.clock import CHINA_TZ as SHANGHAI
from jointcredit_common.openapi import problem_response
from jointcredit_common.app import ServiceRuntime
from repair_service.repairs import queries, service
from repair_service.repairs.schemas import RepairAcceptedOut, RepairIn, RepairOut, RepairPage, ReviewIn

router = APIRouter(prefix="/v1/repairs", tags=["repairs"])
ApplicantPrincipal = Annotated[Principal, require_role("department")]  # admins pass every role check
ReviewerPrincipal = Annotated[Principal, require_role("reviewer", admins=False)]  # review is the service group's job
ReaderPrincipal = Annotated[Principal, require_role("department", "reviewer")]


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


@router.post(
    "", status_code=201, response_model=RepairAcceptedOut,
    summary="Accept a credit-repair application (a department or admin on behalf of the subject)",
    responses={201: {"description": "Accepted; due_at is the SLA deadline (working days, Asia/Shanghai)"},
               409: problem_response(409, "A record has ended or is in another open application")},
)
async def post_repair(request: Request, body: RepairIn, principal: ApplicantPrincipal) -> JSONResponse:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        accepted = await service.accept_application(
            session, body=body, principal=principal, settings=runtime.settings, catalog=load_catalog(),
            hasher=runtime.hasher, outbox=runtime.outbox, calendar=await runtime.calendar.get(), now=datetime.now(UTC),
        )
    count_provisional("repair", "repair_due_at", accepted["provisional"])
    out = RepairAcceptedOut(
        id=str(accepted["id"]), status="accepted", channel=accepted["channel"],
        accepted_at=accepted["accepted_at"].astimezone(SHANGHAI), due_at=accepted["due_at"].astimezone(SHANGHAI),
        provisional=accepted["provisional"], working_days=accepted["working_days"], links={"self": f"/v1/repairs/{accepted['id']}"},
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Location": out.links["self"]})


@router.post("/{application_id}/reviews", summary="Decide one review stage (初审 initial → 复核 re_review → 终审 final)",
             responses={409: problem_response(409, "Not the next stage, or the application is already decided")})
async def post_review(request: Request, application_id: uuid.UUID, body: ReviewIn, principal: ReviewerPrincipal) -> RepairOut:
    runtime = _runtime(request)
    app_id = application_id
    now = datetime.now(UTC)
    async with runtime.unit_of_work() as session:
        await service.decide_stage(session, application_id=app_id, body=body, principal=principal, catalog=load_catalog(),
                                   outbox=runtime.outbox, now=now)
    async with runtime.sessionmaker() as session:
        app = await queries.get_application(session, app_id, principal)
        return RepairOut(**await queries.application_view(session, app, settings=runtime.settings, now=now))


@router.get("/{application_id}", response_model=RepairOut, summary="An application with its steps and the cascade's progress")
async def get_repair(request: Request, application_id: uuid.UUID, principal: ReaderPrincipal) -> RepairOut:
    runtime = _runtime(request)
    async with runtime.sessionmaker() as session:
        app = await queries.get_application(session, application_id, principal)
        return RepairOut(**await queries.application_view(session, app, settings=runtime.settings, now=datetime.now(UTC)))


@router.get("", response_model=RepairPage, summary="Applications, oldest first; overdue=true for open ones past due_at")
async def list_repairs(
    request: Request,
    principal: ReaderPrincipal,
    overdue: bool | None = None,
    status: Literal["accepted", "in_review", "approved", "rejected"] | None = None,
    channel: Literal["green", "standard"] | None = None,
    next_stage: Literal["initial", "re_review", "final"] | None = Query(None, description="a reviewer's queue"),
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> RepairPage:
    runtime = _runtime(request)
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session:
        rows, next_cursor = await queries.list_applications(
            session, principal=principal, overdue=overdue, status=status, channel=channel, next_stage=next_stage, cursor=cursor, limit=limit
        )
        items = [RepairOut(**await queries.application_view(session, row, settings=runtime.settings, now=now)) for row in rows]
    return RepairPage(items=items, next_cursor=next_cursor)
