"""Admin API of the department registry and department credentials (tokens returned once, stored hashed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from jointcredit_common.auth import AdminPrincipal, issue_credential, record_audit, revoke_credentials
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.openapi import problem_response
from jointcredit_common.tables import credentials
from ingest_service.departments.service import ReportingDepartment, check_behaviors, department_out
from ingest_service.http import JsonWriteRoute
from ingest_service.reports.models import departments

router = APIRouter(prefix="/v1/admin/departments", tags=["departments"], route_class=JsonWriteRoute)
self_router = APIRouter(tags=["departments"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DepartmentIn(_In):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$", description="stable code, e.g. market_regulation")
    name_zh: str = Field(min_length=1, max_length=200, description="e.g. 市市场监督管理局")
    behaviors: list[str] = Field(max_length=200, description='catalog behaviour codes it may report, or ["*"]')


class DepartmentPatch(_In):
    name_zh: str | None = Field(None, min_length=1, max_length=200)
    behaviors: list[str] | None = Field(None, max_length=200)
    disabled: bool | None = Field(None, description="true: every token of the department stops working for reports")


class TokenIn(_In):
    description: str | None = Field(None, max_length=500)
    expires_at: datetime | None = Field(None, description="optional expiry (with time zone)")


def _runtime(request: Request):  # noqa: ANN202
    return request.app.state.runtime


def _forget(request: Request) -> None:
    runtime = _runtime(request)
    runtime.extras["departments"].forget()
    runtime.tokens.forget()


async def _department(session, code: str, *, lock: bool = False) -> Any:  # noqa: ANN001
    query = select(departments).where(departments.c.code == code)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no department {code}", field="path.code")
    return row


@self_router.get("/v1/departments/me", summary="The calling department's registry entry: name and the codes it may report")
async def my_department(request: Request, principal: ReportingDepartment) -> dict[str, Any]:
    async with _runtime(request).sessionmaker() as session:
        return department_out(await _department(session, principal.principal))


@router.get("", summary="Every registered department")
async def list_departments(request: Request, admin: AdminPrincipal) -> dict[str, Any]:
    async with _runtime(request).sessionmaker() as session:
        rows = (await session.execute(select(departments).order_by(departments.c.code))).mappings().all()
    return {"items": [department_out(r) for r in rows]}


@router.post("", status_code=201, summary="Register a member department and the behaviour codes it may report",
             responses={409: problem_response(409, "A department with this code exists")})
async def create_department(request: Request, body: DepartmentIn, admin: AdminPrincipal) -> JSONResponse:
    behaviors = check_behaviors(body.behaviors)
    async with _runtime(request).sessionmaker() as session, session.begin():
        created = (
            await session.execute(
                pg_insert(departments)
                .values(code=body.code, name_zh=body.name_zh, behaviors=behaviors)
                .on_conflict_do_nothing()
                .returning(*departments.c)
            )
        ).mappings().first()
        if created is None:
            raise Conflict(f"department {body.code} already exists", field="body.code")
        await record_audit(session, principal=admin, action="department.create", target_type="department",
                           target_id=body.code, detail={"name_zh": body.name_zh, "behaviors": behaviors}, request=request)
    _forget(request)
    return JSONResponse(_json(department_out(created)), status_code=201,
                        headers={"Location": f"/v1/admin/departments/{body.code}"})


@router.get("/{code}", summary="One department")
async def get_department(request: Request, code: str, admin: AdminPrincipal) -> dict[str, Any]:
    async with _runtime(request).sessionmaker() as session:
        return department_out(await _department(session, code))


@router.patch("/{code}", summary="Rename a department, change its behaviour codes, or disable/enable it")
async def patch_department(request: Request, code: str, body: DepartmentPatch, admin: AdminPrincipal) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if body.name_zh is not None:
        changes["name_zh"] = body.name_zh
    if body.behaviors is not None:
        changes["behaviors"] = check_behaviors(body.behaviors)
    if body.disabled is not None:
        changes["disabled_at"] = datetime.now(UTC) if body.disabled else None
    if not changes:
        raise ValidationFailed("nothing to change", field="body")
    async with _runtime(request).sessionmaker() as session, session.begin():
        before = await _department(session, code, lock=True)
        if body.disabled and before["disabled_at"] is not None:
            changes["disabled_at"] = before["disabled_at"]
        row = (
            await session.execute(
                update(departments).where(departments.c.code == code).values(**changes, updated_at=func.now())
                .returning(*departments.c)
            )
        ).mappings().one()
        await record_audit(session, principal=admin, action="department.update", target_type="department", target_id=code,
                           detail={"before": _json(department_out(before)), "changes": _json(changes)}, request=request)
    _forget(request)
    return department_out(row)


@router.get("/{code}/tokens", summary="A department's credentials (never the tokens themselves)")
async def list_tokens(request: Request, code: str, admin: AdminPrincipal) -> dict[str, Any]:
    async with _runtime(request).sessionmaker() as session:
        await _department(session, code)
        rows = (
            await session.execute(
                select(credentials.c.id, credentials.c.description, credentials.c.created_at, credentials.c.expires_at,
                       credentials.c.revoked_at)
                .where(credentials.c.role == "department", credentials.c.principal == code)
                .order_by(credentials.c.created_at)
            )
        ).mappings().all()
    return {"items": [{**r, "id": str(r["id"])} for r in rows]}


@router.post("/{code}/tokens", status_code=201,
             summary="Issue a new token for a department (shown once; rotate = issue a new one, then revoke the old)")
async def issue_token(request: Request, code: str, admin: AdminPrincipal, body: TokenIn | None = None) -> JSONResponse:
    body = body or TokenIn()
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            raise ValidationFailed("expires_at needs a time zone", field="body.expires_at")
        if body.expires_at <= datetime.now(UTC):
            raise ValidationFailed("expires_at is in the past", field="body.expires_at")
    async with _runtime(request).sessionmaker() as session, session.begin():
        department = await _department(session, code)
        credential_id, token = await issue_credential(
            session, role="department", principal=code, scopes=list(department["behaviors"]),
            description=body.description or f"issued by {admin.principal}",
        )
        if body.expires_at is not None:
            await session.execute(
                update(credentials).where(credentials.c.id == uuid.UUID(credential_id)).values(expires_at=body.expires_at)
            )
        await record_audit(session, principal=admin, action="department.token.issue", target_type="credential",
                           target_id=credential_id, detail={"department": code, "description": body.description,
                                                            "expires_at": body.expires_at.isoformat() if body.expires_at else None},
                           request=request)
    return JSONResponse(
        {"id": credential_id, "department": code, "role": "department", "token": token,
         "expires_at": body.expires_at.isoformat() if body.expires_at else None,
         "note": "store this token now; it is kept only as a SHA-256 hash and cannot be shown again"},
        status_code=201, headers={"Cache-Control": "no-store"},
    )


@router.post("/{code}/tokens/{credential_id}:revoke", summary="Revoke one of a department's tokens (effective within seconds)",
             responses={409: problem_response(409, "The token was already revoked")})
async def revoke_token(request: Request, code: str, credential_id: str, admin: AdminPrincipal) -> dict[str, Any]:
    try:
        cid = uuid.UUID(credential_id)
    except ValueError:
        raise NotFound(f"no token {credential_id} for department {code}", field="path.credential_id") from None
    async with _runtime(request).sessionmaker() as session, session.begin():
        await _department(session, code)
        row = (
            await session.execute(
                select(credentials.c.revoked_at).where(
                    credentials.c.id == cid, credentials.c.role == "department", credentials.c.principal == code
                ).with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound(f"no token {credential_id} for department {code}", field="path.credential_id")
        if row.revoked_at is not None:
            raise Conflict(f"token {credential_id} was already revoked at {row.revoked_at.isoformat()}", field="path.credential_id")
        await revoke_credentials(session, role="department", principal=code, credential_id=str(cid))
        await record_audit(session, principal=admin, action="department.token.revoke", target_type="credential",
                           target_id=str(cid), detail={"department": code}, request=request)
    _forget(request)
    return {"id": str(cid), "department": code, "revoked": True}


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
