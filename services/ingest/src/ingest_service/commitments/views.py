"""Commitments (承诺书, notice §一): departments file an enterprise's signed epidemic-prevention commitment; the
public can list and search them (the publicity the notice asks for).

The signatory is a natural person: stored AES-GCM encrypted, shown masked in public (张*三). The text (or the hash
of the signed document) is public. The same content filed twice for one enterprise is a 409 naming the first filing.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingest_service.departments.service import ReportingDepartment
from ingest_service.http import JsonWriteRoute
from ingest_service.reports.models import commitments, departments
from ingest_service.reports.schemas import IsoDate
from jointcredit_common.auth import record_audit
from jointcredit_common.clock import today_in_china
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.events.schemas_ingest import CommitmentFiled
from jointcredit_common.openapi import problem_response
from jointcredit_common.paging import decode_cursor, encode_cursor
from jointcredit_common.pii import InvalidIdentifier, mask_name, normalize_uscc
from jointcredit_common.subjects import COMMITMENT_SIGNATORY_CONTEXT

router = APIRouter(tags=["commitments"], route_class=JsonWriteRoute)


class CommitmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enterprise_id: str = Field(min_length=1, max_length=64, description="the enterprise's USCC (GB 32100)")
    enterprise_name: str = Field(min_length=1, max_length=200)
    signatory: str = Field(min_length=1, max_length=100, description="who signed (published masked)")
    signed_on: IsoDate
    text: str | None = Field(None, min_length=1, max_length=20_000, description="the commitment's text")
    document_sha256: str | None = Field(None, pattern=r"^[0-9a-fA-F]{64}$", description="SHA-256 of the signed document")


class CommitmentOut(BaseModel):
    id: str
    enterprise_id: str
    enterprise_name: str
    signatory: str  # masked
    signed_on: Any
    filed_at: datetime
    department: str
    department_name_zh: str | None = None
    text: str | None = None
    document_sha256: str | None = None


class CommitmentPage(BaseModel):
    items: list[CommitmentOut]
    next_cursor: str | None = None


def _out(row: Any) -> dict[str, Any]:
    return CommitmentOut(
        id=str(row["id"]), enterprise_id=row["enterprise_id"], enterprise_name=row["enterprise_name"],
        signatory=row["signatory_masked"], signed_on=row["signed_on"], filed_at=row["filed_at"], department=row["department"],
        department_name_zh=row.get("department_name_zh"), text=row["text"], document_sha256=row["document_sha256"],
    ).model_dump(mode="json")


@router.post("/v1/commitments", status_code=201,
             summary="File an enterprise's signed epidemic-prevention commitment (承诺书)",
             responses={409: problem_response(409, "The same commitment of this enterprise was already filed")})
async def file_commitment(request: Request, body: CommitmentIn, principal: ReportingDepartment) -> JSONResponse:
    runtime = request.app.state.runtime
    try:
        enterprise_id = normalize_uscc(body.enterprise_id)
    except InvalidIdentifier as exc:
        raise ValidationFailed(f"enterprise_id is not a valid USCC: {exc.reason}", field="body.enterprise_id") from exc
    if body.signed_on > today_in_china():
        raise ValidationFailed("signed_on is in the future", field="body.signed_on")
    if body.text is None and body.document_sha256 is None:
        raise ValidationFailed("give the commitment's text or the SHA-256 of the signed document (or both)", field="body.text")
    document_sha256 = body.document_sha256.lower() if body.document_sha256 else None
    text_sha256 = hashlib.sha256(body.text.encode()).hexdigest() if body.text is not None else None
    content_sha256 = document_sha256 or text_sha256
    row = {
        "id": uuid.uuid4(),
        "department": principal.principal,
        "enterprise_id": enterprise_id,
        "enterprise_name": body.enterprise_name,
        "signatory_encrypted": runtime.cipher.encrypt(body.signatory, context=COMMITMENT_SIGNATORY_CONTEXT),
        "signatory_masked": mask_name(body.signatory),
        "signed_on": body.signed_on,
        "text": body.text,
        "document_sha256": document_sha256,
        "content_sha256": content_sha256,
        "filed_at": datetime.now(UTC),
    }
    async with runtime.unit_of_work() as session:
        stored = (
            await session.execute(
                pg_insert(commitments).values(row)
                .on_conflict_do_nothing(constraint="commitments_enterprise_content")
                .returning(commitments.c.id)
            )
        ).first()
        if stored is None:
            existing = (
                await session.execute(
                    select(commitments.c.id).where(commitments.c.enterprise_id == enterprise_id,
                                                   commitments.c.content_sha256 == content_sha256)
                )
            ).scalar_one_or_none()
            raise Conflict(f"this commitment of {enterprise_id} was already filed as {existing}", field="body",
                           existing_id=str(existing))
        subject_key = f"enterprise:{enterprise_id}"
        await runtime.outbox.add(
            session,
            CommitmentFiled(
                commitment_id=str(row["id"]), department=principal.principal, subject_key=subject_key,
                enterprise_id=enterprise_id, enterprise_name=body.enterprise_name, signatory_masked=row["signatory_masked"],
                signatory_encrypted=row["signatory_encrypted"], signed_on=body.signed_on, document_sha256=document_sha256,
                text_sha256=text_sha256, filed_at=row["filed_at"],
            ),
            key=subject_key,
        )
        await record_audit(session, principal=principal, action="commitment.file", target_type="commitment",
                           target_id=str(row["id"]), detail={"enterprise_id": enterprise_id, "content_sha256": content_sha256},
                           request=request)
    out = _out({**row, "department_name_zh": None})
    return JSONResponse(out, status_code=201, headers={"Location": f"/v1/public/commitments/{row['id']}"})


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_PUBLIC_COLUMNS = (*commitments.c, departments.c.name_zh.label("department_name_zh"))


@router.get("/v1/public/commitments", response_model=CommitmentPage,
            summary="Public list of commitments, newest first; search by enterprise name or USCC (no credential needed)")
async def list_commitments(
    request: Request,
    q: str | None = Query(None, max_length=100, description="part of the enterprise name, or its USCC (or a prefix of it)"),
    cursor: str | None = None,
    limit: int = Query(20, ge=1, le=100),
) -> CommitmentPage:
    runtime = request.app.state.runtime
    query = (
        select(*_PUBLIC_COLUMNS)
        .select_from(commitments.outerjoin(departments, departments.c.code == commitments.c.department))
        .order_by(commitments.c.seq.desc())
        .limit(limit + 1)
    )
    q = (q or "").strip()
    if q:
        query = query.where(or_(
            commitments.c.enterprise_id.like(_like(q.upper()) + "%", escape="\\"),
            func.lower(commitments.c.enterprise_name).like("%" + _like(q.lower()) + "%", escape="\\"),
        ))
    if cursor:
        query = query.where(commitments.c.seq < decode_cursor(cursor, int)[0])
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(query)).mappings().all()
    next_cursor = encode_cursor(rows[limit - 1]["seq"]) if len(rows) > limit else None
    return CommitmentPage(items=[_out(r) for r in rows[:limit]], next_cursor=next_cursor)


@router.get("/v1/public/commitments/{commitment_id}", response_model=CommitmentOut, summary="One commitment (public)")
async def get_commitment(request: Request, commitment_id: uuid.UUID) -> dict[str, Any]:
    cid = commitment_id
    async with request.app.state.runtime.sessionmaker() as session:
        row = (
            await session.execute(
                select(*_PUBLIC_COLUMNS)
                .select_from(commitments.outerjoin(departments, departments.c.code == commitments.c.department))
                .where(commitments.c.id == cid)
            )
        ).mappings().first()
    if row is None:
        raise NotFound(f"no commitment {commitment_id}", field="path.commitment_id")
    return _out(row)
