"""Credential administration, one router shape for every role in every service (DESIGN §4; issue 11).

``credentials_router(role=..., path=..., principal_param=..., principal_check=...)`` serves, under ``path``
(e.g. ``/v1/admin/departments/{code}/tokens``), for admins only:

- ``GET    path``                           a principal's credentials, never the tokens (only their SHA-256 is kept);
- ``POST   path``                           issue a token, shown once (``Cache-Control: no-store``);
- ``POST   path/{credential_id}:rotate``    issue a new token with the same scopes and revoke the old one, in one
                                            transaction: there is no moment with neither or both (409 if revoked);
- ``POST   path/{credential_id}:revoke``    revoke (409 on a repeat; 404 for an id of another principal or role).

Every action is audited (``<role>.token.issue|rotate|revoke``) under the calling admin's name. Revocation takes
effect at once on this replica and within ``auth.CACHE_SECONDS`` on the others.
"""

# No ``from __future__ import annotations``: the routes below are closures, and FastAPI resolves string
# annotations against module globals, where the per-router dependencies do not live.

import inspect
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import ROLES, AdminPrincipal, issue_credential, record_audit
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.openapi import problem_response
from jointcredit_common.tables import credentials

# (session, principal) -> the scopes a new credential of that principal gets; raises NotFound for an unknown one.
PrincipalCheck = Callable[[AsyncSession, str], Awaitable[list[str]]]

# A person's or a service account's login name: admins (the audit trail names them) and reviewers.
PERSON_PATTERN = r"^[a-z][a-z0-9_.\-]{1,63}$"
DEPARTMENT_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"  # as ingest's registry codes, e.g. market_regulation
TOKEN_NOTE = "store this token now; it is kept only as a SHA-256 hash and cannot be shown again"


class CredentialIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str | None = Field(default=None, max_length=500, description="what the token is for, e.g. 主系统对接")
    expires_at: AwareDatetime | None = Field(default=None, description="optional expiry, with a time zone; in the future")
    scopes: list[str] | None = Field(
        default=None, min_length=1, max_length=20,
        description="only for roles whose scopes an admin chooses (a reviewer: the review stages it may decide); "
                    "on rotation the old credential's scopes are kept unless given",
    )


class CredentialOut(BaseModel):
    """A listed credential: what it is for and when it lapses, never the token (only its SHA-256 is kept)."""

    id: uuid.UUID
    scopes: list[str]
    description: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CredentialPage(BaseModel):
    role: str
    principal: str
    items: list[CredentialOut]


class ReplacedCredential(BaseModel):
    id: uuid.UUID
    revoked_at: datetime


class IssuedCredential(BaseModel):
    """The token, shown this once. Also carries the principal under the role's name (``"department": code``…)."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    role: str
    principal: str
    scopes: list[str]
    token: str
    description: str | None
    expires_at: datetime | None
    replaces: ReplacedCredential | None = Field(None, description="on rotation: the credential revoked in the same step")
    note: str


class RevokedCredential(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    role: str
    principal: str
    revoked: bool
    revoked_at: datetime


_ISSUED = {"model": IssuedCredential, "description": "The token, shown once",
           "headers": {"Cache-Control": {"description": "no-store: the token must not be cached",
                                         "schema": {"type": "string"}}}}


def any_name(scopes: Sequence[str]) -> PrincipalCheck:
    """A principal with no registry of its own (admins, reviewers): any well-formed name; new tokens get ``scopes``."""

    async def check(session: AsyncSession, principal: str) -> list[str]:
        return list(scopes)

    return check


def _principal_dependency(param: str, pattern: str | None, description: str) -> Callable[..., Awaitable[str]]:
    """A dependency reading the path parameter named ``param`` (``code``, ``agency``…), so each service keeps its paths."""

    async def principal_in_path(**values: str) -> str:
        return values[param]

    principal_in_path.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY,
                          annotation=Annotated[str, Path(pattern=pattern, max_length=64, description=description)]),
    ])
    return principal_in_path


def credentials_router(
    *,
    role: str,
    path: str,
    principal_param: str,
    principal_check: PrincipalCheck,
    principal_pattern: str | None = None,
    scope_choices: Collection[str] | None = None,
    tags: Sequence[str] = ("credentials",),
    route_class: type[APIRoute] = APIRoute,
) -> APIRouter:
    """The admin routes for ``role``'s credentials under ``path`` (which holds ``{principal_param}``).

    ``principal_check`` says whether the principal exists and which scopes its new tokens get; with ``scope_choices``
    the admin chooses the scopes instead (a subset, required on issue) and the check's scopes are ignored.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if f"{{{principal_param}}}" not in path:
        raise ValueError(f"{path} has no {{{principal_param}}}")
    router = APIRouter(tags=list(tags), route_class=route_class)
    choices = tuple(scope_choices) if scope_choices is not None else None
    PrincipalName = Annotated[str, Depends(_principal_dependency(principal_param, principal_pattern, f"the {role}"))]

    def sessionmaker(request: Request) -> Any:  # noqa: ANN401
        return request.app.state.runtime.sessionmaker

    def scopes_for(default: list[str], credential_in: CredentialIn, previous: list[str] | None = None) -> list[str]:
        if choices is None:
            if credential_in.scopes is not None:
                raise ValidationFailed(f"the scopes of a {role} credential follow from its registry entry; do not send them",
                                       field="body.scopes")
            return default
        chosen = credential_in.scopes if credential_in.scopes is not None else previous
        if chosen is None:
            raise ValidationFailed(f"choose the scopes of this {role} credential among {', '.join(choices)}", field="body.scopes")
        for i, scope in enumerate(chosen):
            if scope not in choices:
                raise ValidationFailed(f"unknown scope {scope!r}; choose among {', '.join(choices)}", field=f"body.scopes.{i}")
        if len(set(chosen)) != len(chosen):
            raise ValidationFailed("a scope is listed twice", field="body.scopes")
        return list(chosen)

    def check_expiry(credential_in: CredentialIn) -> None:
        if credential_in.expires_at is not None and credential_in.expires_at <= datetime.now(UTC):
            raise ValidationFailed("expires_at is in the past", field="body.expires_at")

    async def locked_credential(session: AsyncSession, principal: str, credential_id: uuid.UUID) -> Any:  # noqa: ANN401
        row = (await session.execute(
            select(credentials.c.scopes, credentials.c.description, credentials.c.revoked_at)
            .where(credentials.c.id == credential_id, credentials.c.role == role, credentials.c.principal == principal)
            .with_for_update()
        )).first()
        if row is None:
            raise NotFound(f"no token {credential_id} for {role} {principal}", field="path.credential_id")
        if row.revoked_at is not None:
            raise Conflict(f"token {credential_id} was already revoked at {row.revoked_at.isoformat()}",
                           field="path.credential_id")
        return row

    async def revoke(session: AsyncSession, credential_id: uuid.UUID) -> datetime:
        return (await session.execute(
            update(credentials).where(credentials.c.id == credential_id).values(revoked_at=func.now())
            .returning(credentials.c.revoked_at)
        )).scalar_one()

    def issued(credential_id: str, principal: str, scopes: list[str], token: str, description: str | None,
               expires_at: datetime | None, **extra: Any) -> JSONResponse:
        return JSONResponse(
            {"id": credential_id, "role": role, "principal": principal, role: principal, "scopes": scopes, "token": token,
             "description": description, "expires_at": expires_at.isoformat() if expires_at else None, **extra,
             "note": TOKEN_NOTE},
            status_code=201, headers={"Cache-Control": "no-store"},
        )

    @router.get(path, response_model=CredentialPage, summary=f"A {role}'s credentials (never the tokens themselves)")
    async def list_credentials(request: Request, principal: PrincipalName, admin: AdminPrincipal) -> dict[str, Any]:
        async with sessionmaker(request)() as session:
            await principal_check(session, principal)
            rows = (await session.execute(
                select(credentials.c.id, credentials.c.scopes, credentials.c.description, credentials.c.created_at,
                       credentials.c.expires_at, credentials.c.revoked_at)
                .where(credentials.c.role == role, credentials.c.principal == principal)
                .order_by(credentials.c.created_at, credentials.c.id)
            )).mappings().all()
        return {"role": role, "principal": principal, "items": [_listed(r) for r in rows]}

    @router.post(path, status_code=201, summary=f"Issue a token for a {role} (shown once)", responses={201: _ISSUED})
    async def issue_token(request: Request, principal: PrincipalName, admin: AdminPrincipal,
                          credential_in: CredentialIn | None = None) -> JSONResponse:
        credential_in = credential_in or CredentialIn()
        check_expiry(credential_in)
        async with sessionmaker(request)() as session, session.begin():
            scopes = scopes_for(await principal_check(session, principal), credential_in)
            description = credential_in.description or f"issued by {admin.principal}"
            credential_id, token = await issue_credential(session, role=role, principal=principal, scopes=scopes,
                                                          description=description, expires_at=credential_in.expires_at)
            await record_audit(session, principal=admin, action=f"{role}.token.issue", target_type="credential",
                               target_id=credential_id, detail=_detail(role, principal, scopes, credential_in), request=request)
        return issued(credential_id, principal, scopes, token, description, credential_in.expires_at)

    @router.post(f"{path}/{{credential_id}}:rotate", status_code=201,
                 summary=f"Replace a {role}'s token: a new one (shown once) and the old one revoked, in one step",
                 responses={201: _ISSUED, 409: problem_response(409, "The token was already revoked")})
    async def rotate_token(request: Request, principal: PrincipalName, credential_id: uuid.UUID, admin: AdminPrincipal,
                           credential_in: CredentialIn | None = None) -> JSONResponse:
        credential_in = credential_in or CredentialIn()
        check_expiry(credential_in)
        async with sessionmaker(request)() as session, session.begin():
            default = await principal_check(session, principal)  # 404 for an unknown principal first
            old = await locked_credential(session, principal, credential_id)
            scopes = scopes_for(default, credential_in, previous=list(old.scopes))
            description = credential_in.description or old.description
            new_id, token = await issue_credential(session, role=role, principal=principal, scopes=scopes,
                                                   description=description, expires_at=credential_in.expires_at)
            revoked_at = await revoke(session, credential_id)
            await record_audit(session, principal=admin, action=f"{role}.token.rotate", target_type="credential",
                               target_id=new_id, detail={**_detail(role, principal, scopes, credential_in),
                                                         "replaces": str(credential_id)}, request=request)
        request.app.state.runtime.tokens.forget()
        return issued(new_id, principal, scopes, token, description, credential_in.expires_at,
                      replaces={"id": str(credential_id), "revoked_at": revoked_at.isoformat()})

    @router.post(f"{path}/{{credential_id}}:revoke", response_model=RevokedCredential,
                 summary=f"Revoke a {role}'s token (effective within seconds)",
                 responses={409: problem_response(409, "The token was already revoked")})
    async def revoke_token(request: Request, principal: PrincipalName, credential_id: uuid.UUID,
                           admin: AdminPrincipal) -> dict[str, Any]:
        async with sessionmaker(request)() as session, session.begin():
            await principal_check(session, principal)
            await locked_credential(session, principal, credential_id)
            revoked_at = await revoke(session, credential_id)
            await record_audit(session, principal=admin, action=f"{role}.token.revoke", target_type="credential",
                               target_id=str(credential_id), detail={role: principal, "principal": principal},
                               request=request)
        request.app.state.runtime.tokens.forget()
        return {"id": str(credential_id), "role": role, "principal": principal, role: principal, "revoked": True,
                "revoked_at": revoked_at.isoformat()}

    return router


def _listed(row: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"id": str(row["id"]), "scopes": list(row["scopes"]), "description": row["description"],
            **{k: row[k].isoformat() if row[k] else None for k in ("created_at", "expires_at", "revoked_at")}}


def _detail(role: str, principal: str, scopes: list[str], credential_in: CredentialIn) -> dict[str, Any]:
    return {role: principal, "principal": principal, "scopes": scopes, "description": credential_in.description,
            "expires_at": credential_in.expires_at.isoformat() if credential_in.expires_at else None}


def admin_credentials_router(*, route_class: type[APIRoute] = APIRoute) -> APIRouter:
    """Named admins, in every service: one person per principal, so the audit trail says who did what (H5).
    The first one is issued with the bootstrap token; after that, admins issue and revoke each other's."""
    return credentials_router(role="admin", path="/v1/admin/admins/{name}/tokens", principal_param="name",
                              principal_pattern=PERSON_PATTERN, principal_check=any_name(["*"]), route_class=route_class)


def department_credentials_router(*, route_class: type[APIRoute] = APIRoute) -> APIRouter:
    """Department tokens for a service without the department registry (rating: objections; repair: applications).
    Their scopes are empty: these services check who the department is, not which behaviour codes it reports."""
    return credentials_router(role="department", path="/v1/admin/departments/{code}/tokens", principal_param="code",
                              principal_pattern=DEPARTMENT_PATTERN, principal_check=any_name([]), route_class=route_class)
