from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from jointcredit_common.auth import Principal, record_audit, require_role
from jointcredit_common.catalog import load_catalog
from jointcredit_common.service import ServiceRuntime
from ingest_service.reports import service
from ingest_service.reports.schemas import ReportIn, ReportOut, ReportPage

router = APIRouter(prefix="/v1/reports", tags=["reports"])
DepartmentPrincipal = Annotated[Principal, require_role("department")]
ReaderPrincipal = Annotated[Principal, require_role("department", "admin")]


class _KeyTaken(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


@router.post("", status_code=202, summary="Report an incident about an enterprise or a citizen",
             responses={202: {"description": "Accepted; classification follows asynchronously"}})
async def post_report(
    request: Request,
    report_in: ReportIn,
    principal: DepartmentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JSONResponse:
    if principal.role != "department":
        from jointcredit_common.errors import Forbidden

        raise Forbidden("only member departments report incidents")
    runtime = _runtime(request)
    catalog = load_catalog()
    fingerprint = service.request_fingerprint(await request.body()) if idempotency_key else ""
    for _ in range(2):
        try:
            async with runtime.sessionmaker() as session, session.begin():
                if idempotency_key:
                    replayed = await service.replay_idempotent(session, department=principal.principal, key=idempotency_key, fingerprint=fingerprint)
                    if replayed is not None:
                        return JSONResponse(replayed[1], status_code=replayed[0], headers={"Idempotent-Replayed": "true"})
                subject_id = service.validate_report(report_in, principal=principal, catalog=catalog, today=service.today_in_china())
                row = await service.create_report(
                    session, report_in=report_in, subject_id=subject_id, principal=principal,
                    cipher=runtime.cipher, hasher=runtime.hasher, outbox=runtime.outbox,
                )
                body = {
                    "id": str(row["id"]),
                    "status": "received",
                    "received_at": row["received_at"].isoformat(),
                    "subject": {"type": row["subject_type"], "key": row["subject_key"]},
                    "behavior": row["behavior"],
                    "links": {"self": f"/v1/reports/{row['id']}"},
                }
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


@router.get("/{report_id}", response_model=ReportOut, summary="A report's status and, once classified, its outcome")
async def get_report(request: Request, report_id: str, principal: ReaderPrincipal) -> ReportOut:
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
