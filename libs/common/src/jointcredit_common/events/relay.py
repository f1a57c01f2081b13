"""Outbox relay: publishes committed outbox rows to Kafka, then marks them published.

- Claims rows with ``FOR UPDATE SKIP LOCKED`` and a lease token; marks only rows it still holds.
- One active relay per database (a session advisory lock elects it), so rows go out in ``seq`` order and
  one subject's events keep their order; standby replicas take over when the leader's connection drops.
- Wakes on ``LISTEN jointcredit_outbox`` (a trigger notifies on insert), polling only as a fallback.
- Signs each record as this service (events/provenance.py) and publishes with ``acks=all``; a crash between publish and mark re-publishes, which consumers' inboxes absorb.
- Keeps published rows for ``outbox_retention_hours`` so an operator can replay after a broker loss; purges after.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from jointcredit_common import faults, metrics
from jointcredit_common.db import asyncpg_dsn
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import EventSigner
from jointcredit_common.logging import get_logger
from jointcredit_common.settings import ServiceSettings

log = get_logger(__name__)

_CLAIM = text(
    """
    WITH claimable AS (
        SELECT seq FROM outbox
        WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
        ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET lease_token = :token, lease_until = now() + make_interval(secs => :lease),
                        attempts = o.attempts + 1
    FROM claimable WHERE o.seq = claimable.seq
    RETURNING o.seq, o.id, o.topic, o.key, o.type, o.source, o.subject, o.time, o.data, o.traceparent
    """
)
_MARK_PUBLISHED = text(
    "UPDATE outbox SET published_at = now(), lease_token = NULL, lease_until = NULL, last_error = NULL "
    "WHERE seq = ANY(:seqs) AND lease_token = :token"
)
_MARK_FAILED = text(
    "UPDATE outbox SET last_error = :error, lease_until = now() + make_interval(secs => :backoff) "
    "WHERE seq = ANY(:seqs) AND lease_token = :token"
)
_PURGE = text(
    "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => :keep)"
)
_PURGE_INBOX = text("DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => :keep)")
_BACKLOG = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")


class OutboxRelay:
    def __init__(self, *, engine: AsyncEngine, producer: AIOKafkaProducer, settings: ServiceSettings) -> None:
        self.engine = engine
        self.producer = producer
        self.settings = settings
        self.service = settings.service_name
        self.signer = EventSigner.from_settings(settings)  # signed as sent, so a replay re-signs the same bytes
        self._lock_key = zlib.crc32(f"jointcredit-relay-{settings.service_name}".encode())
        self._last_purge = 0.0
        self._last_backlog = 0.0
        self.is_leader = False

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._lead(stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay_error")
                await _wait(stop, 1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.settings.database_url))
        wake = asyncio.Event()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                if await _wait(stop, 2.0):
                    return
            self.is_leader = True
            await conn.add_listener("jointcredit_outbox", lambda *_: wake.set())
            log.info("relay_leading")
            while not stop.is_set():
                wake.clear()
                published = await self.publish_batch()
                await self._housekeeping()
                if published < self.settings.outbox_batch_size:
                    waiter = asyncio.ensure_future(wake.wait())
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait(
                        {waiter, stopper}, timeout=self.settings.outbox_poll_seconds, return_when=asyncio.FIRST_COMPLETED
                    )
                    waiter.cancel()
                    stopper.cancel()
                    # Like a producer's linger: let concurrent commits land so one claim carries many rows,
                    # instead of a claim + publish + mark round per committed request.
                    await _wait(stop, self.settings.outbox_linger_seconds)
        finally:
            self.is_leader = False
            await conn.close(timeout=2)

    async def publish_batch(self) -> int:
        token = uuid.uuid4()
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    _CLAIM,
                    {"limit": self.settings.outbox_batch_size, "token": token, "lease": self.settings.outbox_lease_seconds},
                )
            ).mappings().all()
        if not rows:
            return 0
        rows = sorted(rows, key=lambda r: r["seq"])
        seqs = [r["seq"] for r in rows]
        try:
            futures = []
            for row in rows:
                key, value, headers = _event_of(row).to_kafka()
                headers += self.signer.headers(row["topic"], key, value, headers)
                futures.append(await self.producer.send(row["topic"], value=value, key=key, headers=headers))
            await asyncio.gather(*futures)
        except Exception as exc:
            metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
            log.warning("relay_publish_failed", error=repr(exc), rows=len(rows))
            async with self.engine.begin() as conn:
                await conn.execute(_MARK_FAILED, {"error": repr(exc)[:2000], "backoff": 2.0, "seqs": seqs, "token": token})
            return 0
        faults.crash_point("relay_after_publish")  # crash tests: published but not yet marked
        async with self.engine.begin() as conn:
            await conn.execute(_MARK_PUBLISHED, {"seqs": seqs, "token": token})
        metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_backlog < 1.0:  # a gauge: once a second is enough, not once per batch
            return
        self._last_backlog = now
        async with self.engine.connect() as conn:
            backlog = (await conn.execute(_BACKLOG)).scalar_one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(backlog)
        if now - self._last_purge < self.settings.outbox_purge_interval_seconds:
            return
        self._last_purge = now
        async with self.engine.begin() as conn:
            purged = (await conn.execute(_PURGE, {"keep": self.settings.outbox_retention_hours * 3600})).rowcount
            await conn.execute(_PURGE_INBOX, {"keep": self.settings.inbox_retention_hours * 3600})
        if purged:
            metrics.OUTBOX_PURGED.labels(self.service).inc(purged)
            log.info("outbox_purged", rows=purged)


async def replay(engine: AsyncEngine, *, since: datetime, until: datetime | None = None, topic: str | None = None) -> int:
    """Mark published rows in a window as unpublished again, so the relay re-sends them (after a broker loss)."""
    query = "UPDATE outbox SET published_at = NULL, lease_token = NULL, lease_until = NULL WHERE published_at >= :since"
    params: dict = {"since": since}
    if until is not None:
        query += " AND published_at < :until"
        params["until"] = until
    if topic is not None:
        query += " AND topic = :topic"
        params["topic"] = topic
    async with engine.begin() as conn:
        return (await conn.execute(text(query), params)).rowcount


def _event_of(row) -> CloudEvent:  # noqa: ANN001 - a RowMapping
    return CloudEvent(
        id=str(row["id"]),
        type=row["type"],
        source=row["source"],
        subject=row["subject"],
        time=row["time"],
        data=row["data"],
        key=row["key"],
        traceparent=row["traceparent"],
    )


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
        return True
    except TimeoutError:
        return False
