"""Credit report endpoints: JSON, Chinese PDF, and verification of a report's id.

Access: an enterprise's report is public (三(一): "为企业提供…免费信用报告"; enterprise credit information
is public), but what has ended (withdrawn, repaired, expired, history) is only in the credit office's and the
reporting department's copy (``shows_record``). A citizen's report needs a credential (any role) until the platform can verify a citizen's own
identity; it is masked either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import select

from jointcredit_common.domain import SubjectType
from jointcredit_common.auth import record_audit
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import NotFound
from jointcredit_common.app import ServiceRuntime
from rating_service.records.models import credit_reports
from rating_service.records.service import today_in_china
from rating_service.credit_reports.pdf import render_credit_report_pdf
from rating_service.credit_reports.schemas import CreditReport
from rating_service.credit_reports.service import build_credit_report, register_report
from rating_service.records.views import Bearer, _subject_key, requester, shows_record

router = APIRouter(tags=["credit reports"])


async def _issue(request: Request, subject_type: str, subject_id: str, creds: HTTPAuthorizationCredentials | None,
                 fmt: str) -> tuple[CreditReport, list[str], str]:
    runtime: ServiceRuntime = request.app.state.runtime
    key = _subject_key(runtime, subject_type, subject_id)
    principal = await requester(request, subject_type, creds)
    async with runtime.unit_of_work() as session:
        report, record_ids = await build_credit_report(
            session, subject_key=key, catalog=load_catalog(), today=today_in_china(), now=datetime.now(UTC),
            shows=partial(shows_record, principal))
        digest = await register_report(session, report, subject_key=key, fmt=fmt)
        await record_audit(session, principal=principal, action=f"credit_report.{fmt}", target_type="subject",
                           target_id=key, detail={"verification_id": report.verification_id}, request=request)
    return report, record_ids, digest




@router.get("/v1/subjects/{subject_type}/{subject_id}/report", summary="Free credit report (免费信用报告), JSON")
async def get_report(request: Request, subject_type: SubjectType, subject_id: str, creds: Bearer) -> dict[str, Any]:
    report, record_ids, digest = await _issue(request, subject_type, subject_id, creds, "json")
    return report.model_dump(mode="json") | {
        "record_ids": record_ids,
        "content_sha256": digest,
        "verify_at": f"/v1/public/credit-reports/{report.verification_id}",
    }


@router.get("/v1/subjects/{subject_type}/{subject_id}/report.pdf", summary="Free credit report (免费信用报告), Chinese PDF",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def get_report_pdf(request: Request, subject_type: SubjectType, subject_id: str, creds: Bearer) -> Response:
    report, _, digest = await _issue(request, subject_type, subject_id, creds, "pdf")
    pdf = await run_in_threadpool(render_credit_report_pdf, report)  # ~0.45 s of CPU: keep the event loop free
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="credit-report-{report.verification_id}.pdf"',
        "X-Verification-Id": report.verification_id,
        "X-Content-SHA256": digest,
    })


@router.get("/v1/public/credit-reports/{verification_id}", summary="Check a credit report by its verification id (报告验证码)")
async def verify_report(request: Request, verification_id: str) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        row = (await session.execute(
            select(credit_reports).where(credit_reports.c.verification_id == verification_id))).mappings().first()
    if row is None:
        raise NotFound("no credit report with this verification id was issued", field="path.verification_id")
    return {"verification_id": row["verification_id"], "valid": True, "format": row["format"],
            "generated_at": row["generated_at"], "content_sha256": row["content_sha256"], "summary": row["summary"]}
