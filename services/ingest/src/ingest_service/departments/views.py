"""Admin API of the department registry; department and admin credentials through the common credential router."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from jointcredit_common.auth import AdminPrincipal, record_audit
from jointcredit_common.credentials import admin_credentials_router, credentials_router
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.openapi import problem_response
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
    async with _runtime(request).unit_of_work() as session:
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
    async with _runtime(request).unit_of_work() as session:
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


# Department tokens: the common credential router, at the paths departments' integrators already use. A new token's
# scopes are the department's behaviour codes at issue time; the registry stays the effective scope (reports/service).
async def _department_scopes(session, code: str) -> list[str]:  # noqa: ANN001
    return list((await _department(session, code))["behaviors"])


tokens_router = credentials_router(
    role="department", path="/v1/admin/departments/{code}/tokens", principal_param="code",
    principal_check=_department_scopes, tags=["departments"], route_class=JsonWriteRoute,
)
admins_router = admin_credentials_router(route_class=JsonWriteRoute)


def _json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
