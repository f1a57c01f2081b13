"""The registry of implementing agencies: the catalog's agencies and routes, with their delivery channels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import load_catalog
from jointcredit_common.credentials import credentials_router
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


async def _agency_scopes(session: AsyncSession, agency: str) -> list[str]:
    return [known_agency(agency)]


tokens_router = credentials_router(role="agency", path="/v1/agencies/{agency}/tokens", principal_param="agency",
                                   principal_check=_agency_scopes, tags=["agencies"])
