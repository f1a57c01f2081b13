"""Webhook subscriptions (an agency's URL + secret), the delivery log and the re-drive endpoint."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, select, update

from jointcredit_common.auth import record_audit
from jointcredit_common.errors import NotFound, ValidationFailed
from jointcredit_common.tables import MAX_BIGINT
from sanctions_service.deps import AgencyOfPath, AgencyOrAdmin, RuntimeDep, ensure_agency_access, known_agency
from sanctions_service.measures.models import webhook_attempts, webhook_deliveries, webhook_subscriptions
from sanctions_service.webhooks.dispatcher import SECRET_CONTEXT
from sanctions_service.webhooks.targets import refused_target

router = APIRouter(tags=["webhooks"])


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: str | None = Field(None, min_length=16, max_length=256,
                               description="HMAC-SHA256 key; generated and returned once if omitted")
    description: str | None = Field(None, max_length=500)


class RedriveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_ids: list[Annotated[int, Field(ge=1, le=MAX_BIGINT)]] | None = Field(
        None, max_length=10_000, description="default: every dead delivery of the subscription")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _subscription_view(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "agency": row["agency"], "url": row["url"], "description": row["description"],
            "signed": row["secret_encrypted"] is not None, "created_by": row["created_by"],
            "created_at": _iso(row["created_at"]), "deleted_at": _iso(row["deleted_at"])}


def _delivery_view(row: Any) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID) else _iso(v)) for k, v in row.items() if k != "lease_token"}


@router.post("/v1/agencies/{agency}/webhooks", status_code=201, summary="Register a webhook (admin or the agency itself)")
async def create_subscription(
    request: Request, runtime: RuntimeDep, agency: str, subscription_in: SubscriptionIn, principal: AgencyOfPath
) -> dict[str, Any]:
    known_agency(agency)
    settings = runtime.settings
    if settings.environment == "production" and subscription_in.url.scheme != "https":
        raise ValidationFailed("webhook URLs must use https in production", field="body.url")
    if refused := await refused_target(str(subscription_in.url), settings.webhook_allowed_networks, unresolvable_ok=True):
        raise ValidationFailed(f"this webhook URL may not be used: {refused}", field="body.url")
    secret = subscription_in.secret
    generated = secret is None and settings.webhook_signing_required
    if generated:
        secret = secrets.token_urlsafe(32)
    subscription_id = uuid.uuid4()
    async with runtime.unit_of_work() as session:
        row = (await session.execute(
            insert(webhook_subscriptions).values(
                id=subscription_id, agency=agency, url=str(subscription_in.url),
                secret_encrypted=runtime.cipher.encrypt(secret, context=SECRET_CONTEXT) if secret else None,
                description=subscription_in.description, created_by=f"{principal.role}:{principal.principal}",
            ).returning(webhook_subscriptions)
        )).mappings().one()
        await record_audit(session, principal=principal, action="webhook.subscribe", target_type="webhook_subscription",
                           target_id=str(subscription_id), detail={"agency": agency, "url": str(subscription_in.url)},
                           request=request)
    body = _subscription_view(row)
    if generated:
        body["secret"] = secret  # shown once; stored only encrypted
    return body


@router.get("/v1/agencies/{agency}/webhooks", summary="An agency's webhook subscriptions")
async def list_subscriptions(runtime: RuntimeDep, agency: str, principal: AgencyOrAdmin) -> dict[str, Any]:
    ensure_agency_access(principal, agency)
    known_agency(agency)
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(
            select(webhook_subscriptions).where(webhook_subscriptions.c.agency == agency, webhook_subscriptions.c.deleted_at.is_(None))
            .order_by(webhook_subscriptions.c.created_at)
        )).mappings().all()
    return {"items": [_subscription_view(r) for r in rows]}


async def _subscription(runtime: RuntimeDep, subscription_id: uuid.UUID, principal: Any) -> Any:
    async with runtime.sessionmaker() as session:
        row = (await session.execute(select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id))).mappings().first()
    if row is None:
        raise NotFound(f"no webhook subscription {subscription_id}", field="path.subscription_id")
    ensure_agency_access(principal, row["agency"], field="path.subscription_id")
    return row


@router.delete("/v1/webhooks/{subscription_id}", summary="Remove a webhook; its pending deliveries are cancelled")
async def delete_subscription(request: Request, runtime: RuntimeDep, subscription_id: uuid.UUID, principal: AgencyOrAdmin) -> dict[str, Any]:
    row = await _subscription(runtime, subscription_id, principal)
    now = datetime.now(UTC)
    async with runtime.unit_of_work() as session:
        await session.execute(update(webhook_subscriptions).where(
            webhook_subscriptions.c.id == row["id"], webhook_subscriptions.c.deleted_at.is_(None)).values(deleted_at=now))
        cancelled = (await session.execute(update(webhook_deliveries).where(
            webhook_deliveries.c.subscription_id == row["id"], webhook_deliveries.c.state.in_(("pending", "dead"))
        ).values(state="cancelled", lease_token=None))).rowcount
        await record_audit(session, principal=principal, action="webhook.unsubscribe", target_type="webhook_subscription",
                           target_id=str(row["id"]), detail={"cancelled_deliveries": cancelled}, request=request)
    return {"id": str(row["id"]), "deleted_at": now.isoformat(), "cancelled_deliveries": cancelled}


@router.get("/v1/webhooks/{subscription_id}/deliveries", summary="Delivery log of a webhook")
async def list_deliveries(
    runtime: RuntimeDep, subscription_id: uuid.UUID, principal: AgencyOrAdmin,
    state: Literal["pending", "delivered", "dead", "cancelled"] | None = None,
    after: int = Query(0, ge=0, le=MAX_BIGINT, description="cursor: the `next` of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    row = await _subscription(runtime, subscription_id, principal)
    query = select(webhook_deliveries).where(webhook_deliveries.c.subscription_id == row["id"], webhook_deliveries.c.id > after)
    if state:
        query = query.where(webhook_deliveries.c.state == state)
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(query.order_by(webhook_deliveries.c.id).limit(limit))).mappings().all()
        counts = dict((await session.execute(
            select(webhook_deliveries.c.state, func.count()).where(webhook_deliveries.c.subscription_id == row["id"])
            .group_by(webhook_deliveries.c.state))).all())
    return {"items": [_delivery_view(r) for r in rows], "next": rows[-1]["id"] if rows else after, "counts": counts}


@router.get("/v1/webhooks/{subscription_id}/deliveries/{delivery_id}", summary="One delivery with every attempt")
async def get_delivery(
    runtime: RuntimeDep, subscription_id: uuid.UUID, delivery_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)], principal: AgencyOrAdmin,
) -> dict[str, Any]:
    row = await _subscription(runtime, subscription_id, principal)
    async with runtime.sessionmaker() as session:
        delivery = (await session.execute(select(webhook_deliveries).where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.subscription_id == row["id"]))).mappings().first()
        if delivery is None:
            raise NotFound(f"no delivery {delivery_id} for this webhook", field="path.delivery_id")
        attempts = (await session.execute(select(webhook_attempts).where(webhook_attempts.c.delivery_id == delivery_id)
                                          .order_by(webhook_attempts.c.attempt))).mappings().all()
    return {**_delivery_view(delivery), "attempt_log": [_delivery_view(a) for a in attempts]}


@router.post("/v1/webhooks/{subscription_id}/deliveries:redrive",
             summary="Re-queue dead-lettered deliveries (in their original order) for a fresh retry window")
async def redrive(
    request: Request, runtime: RuntimeDep, subscription_id: uuid.UUID, principal: AgencyOrAdmin, redrive_in: RedriveIn | None = None
) -> dict[str, Any]:
    row = await _subscription(runtime, subscription_id, principal)
    if row["deleted_at"] is not None:
        raise ValidationFailed("the webhook was removed; register it again", field="path.subscription_id")
    condition = (webhook_deliveries.c.subscription_id == row["id"]) & (webhook_deliveries.c.state == "dead")
    if redrive_in and redrive_in.delivery_ids is not None:
        condition &= webhook_deliveries.c.id.in_(redrive_in.delivery_ids)
    async with runtime.unit_of_work() as session:
        requeued = (await session.execute(update(webhook_deliveries).where(condition).values(
            state="pending", next_attempt_at=func.now(), window_started_at=func.now(), dead_at=None, lease_token=None,
        ))).rowcount
        await record_audit(session, principal=principal, action="webhook.redrive", target_type="webhook_subscription",
                           target_id=str(row["id"]), detail={"requeued": requeued,
                                                             "delivery_ids": redrive_in.delivery_ids if redrive_in else None},
                           request=request)
    return {"id": str(row["id"]), "requeued": requeued}
