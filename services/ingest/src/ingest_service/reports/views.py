from __future__ import annotations

import uuid

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from ingest_service.departments.service import ReportingDepartment
from ingest_service.http import JsonWriteRoute, is_json_media
from ingest_service.reports import batch as batches
from ingest_service.reports import service
from ingest_service.reports.schemas import BatchResult, ReportIn, ReportOut, ReportPage, WithdrawIn
from ingest_service.reports.writer import PendingReport
from jointcredit_common.auth import Principal, audit_row, record_audit, require_role
from jointcredit_common.catalog import load_catalog
from jointcredit_common.clock import today_in_china
from jointcredit_common.errors import UnsupportedMediaType
from jointcredit_common.openapi import problem_response
from jointcredit_common.app import ServiceRuntime

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=JsonWriteRoute)
ReaderPrincipal = Annotated[Principal, require_role("department", "admin")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200,
           description="Retry safely: the same key with the same body returns the original response for "
                       "idempotency_ttl_hours (default 24 h); the same key with another body is 409."),
]


KEY_REUSED = problem_response(409, "The Idempotency-Key was already used with another body or path")


class _KeyTaken(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


@router.post("", status_code=202, summary="Report an incident about an enterprise or a citizen",
             responses={202: {"description": "Accepted; classification follows asynchronously"}, 409: KEY_REUSED})
async def post_report(
    request: Request,
    principal: ReportingDepartment,
    report_in: ReportIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    runtime = _runtime(request)
    catalog = load_catalog()
    if not idempotency_key:
        return await _post_report_grouped(request, runtime, principal, report_in, catalog)
    fingerprint = service.request_fingerprint(await request.body(), path=request.url.path)
    for _ in range(2):
        try:
            async with runtime.unit_of_work() as session:
                if idempotency_key:
                    replayed = await service.replay_idempotent(session, department=principal.principal, key=idempotency_key, fingerprint=fingerprint)
                    if replayed is not None:
                        headers = {"Idempotent-Replayed": "true"}
                        if isinstance(replayed[1], dict) and "links" in replayed[1]:
                            headers["Location"] = replayed[1]["links"]["self"]
                        return JSONResponse(replayed[1], status_code=replayed[0], headers=headers)
                subject_id = service.validate_report(report_in, principal=principal, catalog=catalog, today=today_in_china())
                row = await service.create_report(
                    session, report_in=report_in, subject_id=subject_id, principal=principal,
                    cipher=runtime.cipher, hasher=runtime.hasher, outbox=runtime.outbox,
                )
                body = service.accepted_body(row)
                if idempotency_key and not await service.remember_idempotent(
                    session, department=principal.principal, key=idempotency_key, fingerprint=fingerprint,
                    status_code=202, response=body, ttl_hours=runtime.settings.idempotency_ttl_hours,
                ):
                    raise _KeyTaken
                await record_audit(session, principal=principal, action="report.create", target_type="report",
                                   target_id=body["id"], detail={"behavior": row["behavior"], "subject_key": row["subject_key"]},
                                   request=request)
            return JSONResponse(body, status_code=202, headers={"Location": body["links"]["self"]})
        except _KeyTaken:
            continue  # the transaction rolled back; the next pass replays the winner's response
    raise RuntimeError("idempotency key race did not settle")


async def _post_report_grouped(
    request: Request, runtime: ServiceRuntime, principal: Principal, report_in: ReportIn, catalog: Any
) -> JSONResponse:
    """Without an Idempotency-Key: validated here, stored by the group-commit writer (writer.py), 202 after commit."""
    subject_id = service.validate_report(report_in, principal=principal, catalog=catalog, today=today_in_china())
    row = service.report_row(report_in, subject_id, principal=principal, cipher=runtime.cipher, hasher=runtime.hasher)
    body = service.accepted_body(row)
    await runtime.extras["report_writer"].store(PendingReport(
        report=row,
        event=runtime.outbox.row(service.received_event(row, subject_id, report_in.subject.name), key=row["subject_key"]),
        audit=audit_row(principal=principal, action="report.create", target_type="report", target_id=body["id"],
                        detail={"behavior": row["behavior"], "subject_key": row["subject_key"]}, request=request),
    ))
    return JSONResponse(body, status_code=202, headers={"Location": body["links"]["self"]})


@router.post(
    ":batch", response_model=BatchResult, summary="Report many incidents at once (JSON array or NDJSON), per-item results",
    responses={409: KEY_REUSED},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ReportIn"}}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one report (JSON object) per line"}},
    }}},
)
async def post_batch(request: Request, principal: ReportingDepartment, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    runtime = _runtime(request)
    settings = runtime.settings
    media = batches.media_type(request)
    if media not in batches.NDJSON_TYPES and not is_json_media(media):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (an array) or application/x-ndjson, not {media or 'missing'}",
            field="header.Content-Type",
        )
    body = await request.body()
    items = batches.parse_batch(body, media, max_items=settings.max_batch_items)
    fingerprint = service.request_fingerprint(body, path=request.url.path)
    if idempotency_key:
        replayed = await batches.reserve_key(runtime, department=principal.principal, key=idempotency_key, fingerprint=fingerprint)
        if replayed is not None:
            return JSONResponse(replayed[1], status_code=replayed[0], headers={"Idempotent-Replayed": "true"})
    result = await batches.store_batch(
        runtime, request, principal=principal, items=items, catalog=load_catalog(), today=today_in_china(),
        key=idempotency_key, fingerprint=fingerprint,
    )
    if idempotency_key:
        await batches.finish_key(runtime, department=principal.principal, key=idempotency_key, status_code=200, response=result)
    return JSONResponse(result, status_code=200)


@router.post("/{report_id}/withdraw", response_model=ReportOut,
             summary="Withdraw a report (e.g. the penalty was revoked on appeal); everything built on it is undone",
             responses={409: problem_response(409, "The report was already withdrawn")})
async def withdraw_report(request: Request, report_id: uuid.UUID, body: WithdrawIn, principal: ReportingDepartment) -> ReportOut:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        row = await service.withdraw_report(session, report_id, principal=principal, reason=body.reason, outbox=runtime.outbox)
        await record_audit(session, principal=principal, action="report.withdraw", target_type="report",
                           target_id=str(row["id"]), detail={"reason": body.reason, "subject_key": row["subject_key"]},
                           request=request)
    return service.to_out(row, viewer=principal, cipher=runtime.cipher)


@router.get("/{report_id}", response_model=ReportOut, summary="A report's status and, once classified, its outcome")
async def get_report(request: Request, report_id: uuid.UUID, principal: ReaderPrincipal) -> ReportOut:
    runtime = _runtime(request)
    async with runtime.sessionmaker() as session:
        row = await service.get_report(session, report_id, viewer=principal)
    return service.to_out(row, viewer=principal, cipher=runtime.cipher)


@router.get("", response_model=ReportPage, summary="Reports, oldest first, keyset-paginated")
async def list_reports(
    request: Request,
    principal: ReaderPrincipal,
    department: str | None = None,
    status: Literal["received", "classified", "withdrawn"] | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> ReportPage:
    runtime = _runtime(request)
    async with runtime.sessionmaker() as session:
        rows, next_cursor = await service.list_reports(
            session, viewer=principal, department=department, status=status, since=since, cursor=cursor, limit=limit
        )
    return ReportPage(items=[service.to_out(r, viewer=principal, cipher=runtime.cipher) for r in rows], next_cursor=next_cursor)
