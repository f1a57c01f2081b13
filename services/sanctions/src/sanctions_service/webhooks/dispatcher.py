"""Webhook delivery: rows claimed from the database, signed, POSTed, retried with backoff, dead-lettered.

At-least-once per (subscription, event) with a stable event id (receivers de-duplicate on ``X-JointCredit-Event-Id``),
in order per subject: a delivery is only attempted when no earlier delivery of the same subject to the same
subscription is still pending or dead. Safe with several replicas: claims use ``FOR UPDATE SKIP LOCKED`` and a lease.

Signature (``X-JointCredit-Signature: t=<unix seconds>,v1=<hex>``): HMAC-SHA256 with the subscription's secret over
``f"{t}.{body}"``, where body is the exact request body (a CloudEvents 1.0 structured-mode JSON document).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.logging import get_logger
from jointcredit_common.periodic import periodic
from jointcredit_common.app import ServiceRuntime
from sanctions_service.measures.models import measure_events, webhook_attempts, webhook_deliveries, webhook_subscriptions
from sanctions_service.metrics import WEBHOOK_ATTEMPTS
from sanctions_service.webhooks.targets import refused_target

log = get_logger(__name__)

SECRET_CONTEXT = "webhook.secret"
SIGNATURE_HEADER = "X-JointCredit-Signature"
HELD_BACK = "held back: an earlier delivery for this subject was dead-lettered; re-drive them together"

_HOLD_BACK_SQL = text(
    """
    UPDATE webhook_deliveries d SET state = 'dead', dead_at = now(), lease_token = NULL, last_error = :error
    WHERE d.state = 'pending' AND EXISTS (
        SELECT 1 FROM webhook_deliveries p
        WHERE p.subscription_id = d.subscription_id AND p.subject_key = d.subject_key
          AND p.feed_seq < d.feed_seq AND p.state = 'dead')
    """
)

_CLAIM_SQL = text(
    """
    WITH due AS (
        SELECT d.id FROM webhook_deliveries d
        WHERE d.state = 'pending' AND d.next_attempt_at <= now()
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries p
            WHERE p.subscription_id = d.subscription_id AND p.subject_key = d.subject_key
              AND p.feed_seq < d.feed_seq AND p.state IN ('pending', 'dead'))
        ORDER BY d.feed_seq
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    UPDATE webhook_deliveries w
    SET lease_token = :lease, next_attempt_at = now() + make_interval(secs => :lease_seconds)
    FROM due WHERE w.id = due.id
    RETURNING w.id
    """
)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance_seconds: int = 300, now: float | None = None) -> bool:
    """Receiver side (documented in the README): constant-time compare, reject stale timestamps."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random (attempts ≥ 1)."""
    step = min(cap, base * 2 ** min(attempts - 1, 40))
    return step / 2 + random.uniform(0, step / 2)


def cloudevent_body(row: Any) -> bytes:
    return orjson.dumps({
        "specversion": "1.0", "id": str(row["event_id"]), "source": row["source"], "type": row["type"],
        "subject": row["subject_key"], "time": row["time"].isoformat(), "datacontenttype": "application/json",
        "data": row["data"],
    })


async def hold_back_after_dead(session: AsyncSession) -> None:
    await session.execute(_HOLD_BACK_SQL, {"error": HELD_BACK})


async def claim(runtime: ServiceRuntime) -> tuple[uuid.UUID, list[Any]]:
    settings = runtime.settings
    lease = uuid.uuid4()
    async with runtime.unit_of_work() as session:
        await hold_back_after_dead(session)
        ids = [r[0] for r in (await session.execute(
            _CLAIM_SQL, {"batch": settings.webhook_batch_size, "lease": lease, "lease_seconds": settings.webhook_lease_seconds}
        )).all()]
        if not ids:
            return lease, []
        rows = (await session.execute(
            select(webhook_deliveries.c.id, webhook_deliveries.c.attempts, webhook_deliveries.c.window_started_at,
                   webhook_deliveries.c.subscription_id, webhook_deliveries.c.event_id, webhook_deliveries.c.feed_seq,
                   webhook_subscriptions.c.agency, webhook_subscriptions.c.url, webhook_subscriptions.c.secret_encrypted,
                   measure_events.c.type, measure_events.c.source, measure_events.c.time, measure_events.c.data,
                   measure_events.c.subject_key)
            .join(webhook_subscriptions, webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id)
            .join(measure_events, measure_events.c.seq == webhook_deliveries.c.feed_seq)
            .where(webhook_deliveries.c.id.in_(ids))
            .order_by(webhook_deliveries.c.feed_seq)
        )).mappings().all()
    return lease, list(rows)


async def attempt(runtime: ServiceRuntime, client: httpx.AsyncClient, row: Any, lease: uuid.UUID) -> bool:
    settings = runtime.settings
    body = cloudevent_body(row)
    number = row["attempts"] + 1
    headers = {
        "Content-Type": "application/cloudevents+json",
        "User-Agent": "jointcredit-sanctions-webhooks/1",
        "X-JointCredit-Event-Id": str(row["event_id"]),
        "X-JointCredit-Event-Type": row["type"],
        "X-JointCredit-Delivery-Id": str(row["id"]),
        "X-JointCredit-Attempt": str(number),
    }
    timestamp = int(time.time())
    headers["X-JointCredit-Timestamp"] = str(timestamp)
    if row["secret_encrypted"]:
        secret = runtime.cipher.decrypt(row["secret_encrypted"], context=SECRET_CONTEXT)
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        # The name may point elsewhere since the subscription was checked: refused targets are never contacted
        # (the delivery fails like any other and is retried, then dead-lettered, with the reason as its error).
        if refused := await refused_target(row["url"], settings.webhook_allowed_networks):
            error = f"refused target: {refused}"
        else:
            response = await client.post(row["url"], content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}: {response.text[:300]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000] or type(exc).__name__
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = error is None
    WEBHOOK_ATTEMPTS.labels(settings.service_name, row["agency"], "delivered" if ok else "failed").inc()
    now = datetime.now(UTC)
    async with runtime.unit_of_work() as session:
        await session.execute(insert(webhook_attempts).values(
            delivery_id=row["id"], attempt=number, at=started_at, duration_ms=duration_ms, status_code=status, error=error))
        mine = (webhook_deliveries.c.id == row["id"]) & (webhook_deliveries.c.lease_token == lease)
        if ok:
            values: dict[str, Any] = {"state": "delivered", "delivered_at": now, "last_error": None}
        elif now >= row["window_started_at"] + timedelta(hours=settings.webhook_retry_window_hours):
            values = {"state": "dead", "dead_at": now, "last_error": error}
            log.warning("webhook_dead_lettered", delivery_id=row["id"], agency=row["agency"], attempts=number, error=error)
        else:
            delay = backoff_seconds(number, base=settings.webhook_backoff_base_seconds, cap=settings.webhook_backoff_max_seconds)
            values = {"next_attempt_at": now + timedelta(seconds=delay), "last_error": error}
        await session.execute(update(webhook_deliveries).where(mine).values(
            attempts=number, last_status=status, lease_token=None, **values))
        if values.get("state") == "dead":
            await hold_back_after_dead(session)
    return ok


async def run_webhook_dispatcher(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    settings = runtime.settings
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:

        async def deliver_due() -> bool:
            lease, rows = await claim(runtime)
            await asyncio.gather(*(attempt(runtime, client, row, lease) for row in rows))
            return bool(rows)  # a full claim may leave more due: go again at once

        await periodic(stop, settings.webhook_poll_seconds, deliver_due, name="webhook_dispatcher",
                       service=settings.service_name)
