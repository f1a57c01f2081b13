from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from jointcredit_common.auth import Principal, require_role
from jointcredit_common.errors import Forbidden
from jointcredit_common.service import ServiceRuntime
from sanctions_service.measures.models import measures

router = APIRouter(tags=["measures"])
AgencyPrincipal = Annotated[Principal, require_role("agency", "admin")]


@router.get("/v1/agencies/{agency}/measures", summary="Pull feed of an agency's measures (issued and lifted)")
async def agency_measures(
    request: Request, agency: str, principal: AgencyPrincipal,
    since: int = Query(0, ge=0, description="cursor: the `next` of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    if principal.role == "agency" and not principal.has_scope(agency):
        raise Forbidden("an agency reads only its own measures", field="path.agency")
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(
            select(measures).where(measures.c.agency == agency, measures.c.seq > since).order_by(measures.c.seq).limit(limit)
        )).mappings().all()
    return {
        "items": [
            {"id": str(r["id"]), "state": r["state"], "measure": r["measure"], "record_id": str(r["record_id"]),
             "issued": r["payload"], "lifted_at": r["lifted_at"], "lift_reason": r["lift_reason"]}
            for r in rows
        ],
        "next": rows[-1]["seq"] if rows else since,
    }
