"""The registry of implementing agencies: the catalog's agencies and routes, with their delivery channels."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update

from jointcredit_common.auth import AdminPrincipal, issue_credential, record_audit, revoke_credentials
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.openapi import problem_response
from jointcredit_common.tables import credentials
from sanctions_service.deps import RuntimeDep, known_agency
from sanctions_service.measures.models import webhook_subscriptions

router = APIRouter(tags=["agencies"])


def agency_view(agency: Any, *, topic_prefix: str, entitled: set[str], webhooks: int) -> dict[str, Any]:
    catalog = load_catalog()
    return {
        "code": agency.code,
        "name_zh": agency.name_zh,
        "name_en": agency.name_en,
        "measures": [
            {"code": code, "text_zh": catalog.measure(code).text_zh, "kind": catalog.measure(code).kind,
             "part_zh": next((r.part_zh for r in catalog.measure(code).agencies if r.agency == agency.code), None)}
            for code in agency.measures
        ],
        "receives_citizen_identity": agency.code in entitled,
        "channels": {
            "kafka_topic": f"{topic_prefix}.measures.{agency.code}",
            "pull": f"/v1/agencies/{agency.code}/measures",
            "webhooks": webhooks,
        },
    }


async def _webhook_counts(runtime: RuntimeDep) -> dict[str, int]:
    async with runtime.sessionmaker() as session:
        return dict((await session.execute(
            select(webhook_subscriptions.c.agency, func.count())
            .where(webhook_subscriptions.c.deleted_at.is_(None)).group_by(webhook_subscriptions.c.agency)
        )).all())


@router.get("/v1/agencies", summary="Implementing agencies, the measures each applies and how each receives them")
async def list_agencies(runtime: RuntimeDep) -> dict[str, Any]:
    counts = await _webhook_counts(runtime)
    entitled = set(runtime.settings.identity_entitled_agencies)
    return {"items": [agency_view(a, topic_prefix=runtime.settings.topic_prefix, entitled=entitled, webhooks=counts.get(a.code, 0))
                      for a in load_catalog().agencies]}


@router.get("/v1/agencies/{agency}", summary="One implementing agency")
async def get_agency(runtime: RuntimeDep, agency: str) -> dict[str, Any]:
    known_agency(agency)
    counts = await _webhook_counts(runtime)
    entry = next(a for a in load_catalog().agencies if a.code == agency)
    return agency_view(entry, topic_prefix=runtime.settings.topic_prefix,
                       entitled=set(runtime.settings.identity_entitled_agencies), webhooks=counts.get(agency, 0))


# --- agency credentials (admin) -------------------------------------------------------------------------------------
# An agency token's scope is its own agency code: it reads and acts on that agency's measures only (DESIGN §4).


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(None, max_length=500)
    expires_at: AwareDatetime | None = None


@router.get("/v1/agencies/{agency}/tokens", summary="An agency's credentials (never the tokens themselves)")
async def list_tokens(runtime: RuntimeDep, agency: str, admin: AdminPrincipal) -> dict[str, Any]:
    known_agency(agency)
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(
            select(credentials.c.id, credentials.c.description, credentials.c.created_at, credentials.c.expires_at,
                   credentials.c.revoked_at)
            .where(credentials.c.role == "agency", credentials.c.principal == agency).order_by(credentials.c.created_at)
        )).mappings().all()
    return {"items": [{k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if isinstance(v, datetime) else v)
                       for k, v in r.items()} for r in rows]}


@router.post("/v1/agencies/{agency}/tokens", status_code=201,
             summary="Issue a token for an agency (shown once; rotate = issue a new one, then revoke the old)")
async def issue_token(request: Request, runtime: RuntimeDep, agency: str, admin: AdminPrincipal,
                      token_in: TokenIn | None = None) -> JSONResponse:
    known_agency(agency)
    token_in = token_in or TokenIn()
    if token_in.expires_at is not None and token_in.expires_at <= datetime.now(UTC):
        raise ValidationFailed("expires_at is in the past", field="body.expires_at")
    async with runtime.sessionmaker() as session, session.begin():
        credential_id, token = await issue_credential(session, role="agency", principal=agency, scopes=[agency],
                                                      description=token_in.description or f"issued by {admin.principal}")
        if token_in.expires_at is not None:
            await session.execute(update(credentials).where(credentials.c.id == uuid.UUID(credential_id))
                                  .values(expires_at=token_in.expires_at))
        await record_audit(session, principal=admin, action="agency.token.issue", target_type="credential",
                           target_id=credential_id, detail={"agency": agency, "description": token_in.description},
                           request=request)
    return JSONResponse({"id": credential_id, "agency": agency, "role": "agency", "scopes": [agency], "token": token,
                         "expires_at": token_in.expires_at.isoformat() if token_in.expires_at else None,
                         "note": "store this token now; it is kept only as a SHA-256 hash and cannot be shown again"},
                        status_code=201, headers={"Cache-Control": "no-store"})


@router.post("/v1/agencies/{agency}/tokens/{credential_id}:revoke", summary="Revoke an agency token (effective within seconds)",
             responses={409: problem_response(409, "the token was already revoked")})
async def revoke_token(request: Request, runtime: RuntimeDep, agency: str, credential_id: str, admin: AdminPrincipal) -> dict[str, Any]:
    known_agency(agency)
    try:
        cid = uuid.UUID(credential_id)
    except ValueError:
        raise NotFound(f"no token {credential_id} for agency {agency}", field="path.credential_id") from None
    async with runtime.sessionmaker() as session, session.begin():
        row = (await session.execute(select(credentials.c.revoked_at).where(
            credentials.c.id == cid, credentials.c.role == "agency", credentials.c.principal == agency).with_for_update())).first()
        if row is None:
            raise NotFound(f"no token {credential_id} for agency {agency}", field="path.credential_id")
        if row.revoked_at is not None:
            raise Conflict(f"token {credential_id} was already revoked", field="path.credential_id")
        await revoke_credentials(session, role="agency", principal=agency, credential_id=str(cid))
        await record_audit(session, principal=admin, action="agency.token.revoke", target_type="credential",
                           target_id=str(cid), detail={"agency": agency}, request=request)
    runtime.tokens.forget()
    return {"id": str(cid), "agency": agency, "revoked": True}
