"""Idempotent consumer: effect + inbox row in one transaction, offsets committed only after it.

A redelivered event (rebalance, crash before the offset commit, relay re-publish, outbox replay) finds its
inbox row and is skipped, so every effect happens once. Failures are retried with backoff; an event that
still fails is dead-lettered — recorded in ``dead_letters`` and announced on ``<prefix>.dlq`` through the
outbox — and can be re-driven later. Offsets then move on, so one bad event never blocks a partition.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common import faults, metrics
from jointcredit_common.db import database_unavailable
from jointcredit_common.events.envelope import CloudEvent, EnvelopeError
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.provenance import EventRejected, EventVerifier
from jointcredit_common.events.schemas import EVENT_TYPES, DeadLettered
from jointcredit_common.logging import get_logger
from jointcredit_common.settings import ServiceSettings
from jointcredit_common.staging import staged_writes
from jointcredit_common.tables import dead_letters, inbox
from jointcredit_common.tracing import continue_trace, current_traceparent

log = get_logger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
_CLAIM_INBOX = pg_insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)


class EventConsumer:
    """One consumer group member: ``name`` is this consumer's identity in the inbox and group id."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: dict[str, Handler],
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        settings: ServiceSettings,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handlers = handlers
        self.sessionmaker = sessionmaker
        self.outbox = outbox
        self.settings = settings
        self.service = settings.service_name
        self.group_id = f"{settings.consumer_group}.{name}"
        self.verifier = EventVerifier.from_settings(settings)
        self.consumer: AIOKafkaConsumer | None = None
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self.consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.consumer_batch_max_records,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self.settings.consumer_heartbeat_interval_ms,
        )
        started = False
        try:
            started = await self._start_unless_stopped(stop)
            if not started:
                log.info("consumer_stopped_while_starting", consumer=self.name)
                return
            self.ready.set()
            log.info("consumer_started", consumer=self.name, topics=self.topics)
            # ``stop`` is looked at between batches only: a batch polled is processed and its offsets committed
            # (or, on failure, nothing is committed) before the loop ends.
            while not stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=500, max_records=self.settings.consumer_batch_max_records)
                if batches:
                    # Partitions side by side, each in order in its own transaction: a subject's events share a
                    # partition (the key), so their order holds, while round trips to the database overlap.
                    outcomes = await asyncio.gather(*(self._process_partition(records) for records in batches.values()),
                                                    return_exceptions=True)
                    for outcome in outcomes:  # every partition finished first; then the first failure, offsets uncommitted
                        if isinstance(outcome, BaseException):
                            raise outcome
                    # Only after every record's effect is committed in the database (aiokafka#929).
                    await self.consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
                await self._report_lag()
        finally:
            self.ready.clear()
            if not started:
                await self._abandon_join()
            await self.consumer.stop()

    async def _start_unless_stopped(self, stop: asyncio.Event) -> bool:
        """``consumer.start()`` waits for the group's assignment, which a broker may hold for seconds (tansu: half
        the session timeout). A shutdown meanwhile cancels it: nothing was polled, so nothing is left to commit.
        False if stopped before the start completed."""
        assert self.consumer is not None
        starting = asyncio.ensure_future(self.consumer.start())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((starting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not starting.done():
                starting.cancel()
                await asyncio.wait((starting,))  # let it unwind; our own cancellation (if any) still propagates
        if starting.cancelled():
            return False
        starting.result()  # a failed start raises here (the supervisor logs it and tries again)
        return True

    async def _abandon_join(self) -> None:
        """Before ``stop()`` of a consumer whose start did not complete: its group join may still be in flight in
        aiokafka's coordination task, and ``AIOKafkaConsumer.stop()`` waits for that task, i.e. for the broker's
        answer. Nothing was assigned, polled or committed yet, so the join is dropped: the task is cancelled first.
        (A member that never completed its first join has no generation, so ``stop()`` sends no LeaveGroup; the
        broker forgets the pending member after the session timeout, as after a crash.) Private aiokafka state,
        looked up defensively: without it, ``stop()`` merely waits as before."""
        coordinator = getattr(self.consumer, "_coordinator", None)
        task = getattr(coordinator, "_coordination_task", None)
        if isinstance(task, asyncio.Task) and not task.done():
            task.cancel()
            await asyncio.wait((task,))

    async def _report_lag(self) -> None:
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self.consumer.position(tp)
            metrics.CONSUMER_LAG.labels(self.service, self.name, tp.topic, tp.partition).set(max(highwater - position, 0))

    async def _process_partition(self, records: list[ConsumerRecord]) -> None:
        if not await self._process_batch(records):
            for record in records:
                await self._process(record)

    async def _process_batch(self, records: list[ConsumerRecord]) -> bool:
        """The common case, cheaply: one partition's polled records in ONE transaction — one inbox insert for all,
        every handler in order, their staged writes together, one commit. Returns False (having changed nothing)
        when anything is unusual — a malformed envelope, a handler error — and the caller then takes the records
        one by one, with retries and dead letters, in the same order. Per-key order holds either way: a partition
        is processed in order.
        """
        if len(records) < 2:
            return False
        work: list[tuple[ConsumerRecord, CloudEvent, Handler]] = []
        ignored: list[ConsumerRecord] = []
        seen: set[str] = set()
        for record in records:
            if self._not_ours(record):
                ignored.append(record)
                continue
            try:
                self.verifier.verify(record.topic, record.key, record.value, record.headers)
                event = CloudEvent.from_kafka(record.key, record.value, record.headers)
            except (EventRejected, EnvelopeError):
                return False  # the one-by-one path dead-letters it
            handler = self.handlers[event.type]
            if event.id not in seen:  # a relay re-publish can put one event twice into one poll
                seen.add(event.id)
                work.append((record, event, handler))
        results: list[tuple[str, str]] = []
        try:
            # Staged writes (outbox events, audit rows, ...) of all the batch's handlers go out at its end, one
            # statement per kind, still inside its transaction.
            async with self.sessionmaker() as session, session.begin(), staged_writes(session):
                claimed = set(
                    (
                        await session.execute(
                            _CLAIM_INBOX,  # executemany with RETURNING: one cached statement, rows sent in bulk
                            [self._inbox_row(event, record) for record, event, _ in work],
                        )
                    ).scalars()
                ) if work else set()
                for _, event, handler in work:
                    if event.id not in claimed:
                        results.append((event.type, "duplicate"))
                        continue
                    token = current_traceparent.set(continue_trace(event.traceparent))
                    try:
                        with metrics.HANDLER_LATENCY.labels(self.service, self.name, event.type).time():
                            await handler(session, event)
                    finally:
                        current_traceparent.reset(token)
                    results.append((event.type, "processed"))
        except Exception as exc:  # noqa: BLE001 - nothing was committed; the one-by-one path retries and dead-letters
            log.info("batch_fell_back", consumer=self.name, records=len(records), error=f"{type(exc).__name__}: {exc}")
            return False
        for record in ignored:
            metrics.CONSUMED.labels(self.service, self.name, _type_label(record), "ignored").inc()
        for event_type, result in results:
            metrics.CONSUMED.labels(self.service, self.name, event_type, result).inc()
        faults.crash_point("consumer_after_commit")  # crash tests: effects committed, offsets not
        return True

    def _not_ours(self, record: ConsumerRecord) -> bool:
        """A type this consumer has no handler for, read from the ``ce_type`` header alone: skipped undecoded."""
        event_type = _header(record, "ce_type")
        return event_type is not None and event_type not in self.handlers

    async def _process(self, record: ConsumerRecord) -> None:
        if self._not_ours(record):
            metrics.CONSUMED.labels(self.service, self.name, _type_label(record), "ignored").inc()
            return
        try:
            # Provenance before anything else (DESIGN.md §7): a forged record changes nothing but the dead letters.
            # Its claimed id is not trusted either — it is dead-lettered under its offset, so it cannot take the inbox
            # row of a genuine event.
            self.verifier.verify(record.topic, record.key, record.value, record.headers)
        except EventRejected as exc:
            metrics.EVENTS_REJECTED.labels(self.service, self.name, exc.reason).inc()
            error = f"malformed envelope: {exc.detail}" if exc.reason == "malformed" else f"rejected ({exc})"
            await self._dead_letter(record, None, error, attempts=0)
            return
        try:
            event = CloudEvent.from_kafka(record.key, record.value, record.headers)
        except EnvelopeError as exc:
            await self._dead_letter(record, None, f"malformed envelope: {exc}", attempts=0)
            return
        handler = self.handlers[event.type]
        token = current_traceparent.set(continue_trace(event.traceparent))
        try:
            last_error = ""
            for attempt in range(1, self.settings.consumer_max_retries + 1):
                try:
                    with metrics.HANDLER_LATENCY.labels(self.service, self.name, event.type).time():
                        result = await self._handle_once_database_up(event, record, handler)
                    metrics.CONSUMED.labels(self.service, self.name, event.type, result).inc()
                    faults.crash_point("consumer_after_commit")  # crash tests: effect committed, offset not
                    return
                except Exception as exc:  # noqa: BLE001 - anything a handler raises is retried, then dead-lettered
                    last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("handler_failed", consumer=self.name, type=event.type, event_id=event.id, attempt=attempt, error=last_error)
                    await asyncio.sleep(self.settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1))
            await self._dead_letter(record, event, last_error, attempts=self.settings.consumer_max_retries)
        finally:
            current_traceparent.reset(token)

    async def _handle_once_database_up(self, event: CloudEvent, record: ConsumerRecord, handler: Handler) -> str:
        """A lost database is not the event's fault: wait for it here — heartbeats go on, the group keeps our
        partitions — rather than use up the event's retries and dead-letter a good event."""
        while True:
            try:
                return await self.handle_once(event, record, handler)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                log.warning("database_unavailable", consumer=self.name, event_id=event.id, error=type(exc).__name__)
                await asyncio.sleep(1.0)

    def _inbox_row(self, event: CloudEvent, record: ConsumerRecord | None) -> dict:
        """The inbox row claiming ``event`` for this consumer (one statement, _CLAIM_INBOX, for one or many)."""
        return {"consumer": self.name, "event_id": event.id, "event_type": event.type,
                "topic": record.topic if record else None, "partition": record.partition if record else None,
                "offset": record.offset if record else None}

    async def handle_once(self, event: CloudEvent, record: ConsumerRecord | None, handler: Handler) -> str:
        async with self.sessionmaker() as session, session.begin():
            claimed = await session.execute(_CLAIM_INBOX, self._inbox_row(event, record))
            if claimed.first() is None:
                return "duplicate"
            await handler(session, event)
        return "processed"

    async def _dead_letter(self, record: ConsumerRecord, event: CloudEvent | None, error: str, *, attempts: int) -> None:
        event_id = event.id if event else f"{record.topic}:{record.partition}:{record.offset}"
        log.error("dead_lettered", consumer=self.name, event_id=event_id, error=error)
        async with self.sessionmaker() as session, session.begin():
            claimed = await session.execute(
                pg_insert(inbox)
                .values(consumer=self.name, event_id=event_id, event_type=event.type if event else None,
                        topic=record.topic, partition=record.partition, offset=record.offset, status="dead_lettered")
                .on_conflict_do_nothing()
                .returning(inbox.c.event_id)
            )
            if claimed.first() is None:
                return
            await session.execute(
                insert(dead_letters).values(
                    consumer=self.name,
                    event_id=event_id,
                    event_type=event.type if event else None,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    headers=[[k, base64.b64encode(v or b"").decode()] for k, v in (record.headers or ())],
                    error=error[:4000],
                    attempts=attempts,
                )
            )
            notice = DeadLettered(
                consumer=self.name,
                original_topic=record.topic,
                original_partition=record.partition,
                original_offset=record.offset,
                original_event_id=event.id if event else None,
                original_type=event.type if event else None,
                error=error[:4000],
                attempts=attempts,
            )
            await self.outbox.add(session, notice, key=event.key if event and event.key else event_id)
        metrics.DEAD_LETTERS.labels(self.service, self.name).inc()

    async def redrive(self, dead_letter_id: int) -> str:
        """Run a dead letter through its handler again (after a fix); idempotent like any delivery."""
        async with self.sessionmaker() as session:
            row = (await session.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id))).mappings().first()
        if row is None or row["consumer"] != self.name:
            raise LookupError(dead_letter_id)
        if row["redriven_at"] is not None:
            return "already_redriven"
        headers = [(k, base64.b64decode(v)) for k, v in row["headers"]]
        # A dead letter keeps its original headers: it runs again only if its original signature still holds.
        self.verifier.verify(row["topic"], row["key"], row["value"], headers)
        event = CloudEvent.from_kafka(row["key"], row["value"], headers)
        handler = self.handlers.get(event.type)
        if handler is None:
            raise LookupError(f"no handler for {event.type}")
        # One transaction: the dead letter's inbox marker becomes a processed one with the effect, or nothing changes.
        async with self.sessionmaker() as session, session.begin():
            await session.execute(delete(inbox).where(inbox.c.consumer == self.name, inbox.c.event_id == row["event_id"]))
            await session.execute(
                insert(inbox).values(consumer=self.name, event_id=row["event_id"], event_type=event.type, status="processed")
            )
            await handler(session, event)
            await session.execute(
                update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(redriven_at=func.now())
            )
        return "processed"


def _header(record: ConsumerRecord, name: str) -> str | None:
    raw = None
    for key, value in record.headers or ():
        if key == name and value is not None:
            raw = value  # the last one, as CloudEvent.from_kafka and the verifier read headers
    return raw.decode("utf-8", "replace") if raw is not None else None


def _type_label(record: ConsumerRecord) -> str:
    """A metric label from the registry only: a producer-chosen ``ce_type`` never becomes a series."""
    event_type = _header(record, "ce_type")
    return event_type if event_type in EVENT_TYPES else "unknown"
