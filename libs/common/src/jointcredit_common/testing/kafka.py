"""Reading topics back in tests: delivery is measured by what is on the broker, not by counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import SOURCE_PREFIX, EventSigner


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[CloudEvent]], bool] | None = None,
    timeout: float = 30.0,
    settle: float = 0.0,
) -> list[CloudEvent]:
    """Every event on ``topic`` from the beginning, waiting until ``until(events)`` holds (or ``timeout``).

    ``settle`` keeps reading that long after ``until`` first holds, to catch duplicates that would follow.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    events: list[CloudEvent] = []
    try:
        deadline = time.monotonic() + timeout
        assigned: set[TopicPartition] = set()
        satisfied_at: float | None = None
        while time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - discover a topic created meanwhile
                partitions = consumer.partitions_for_topic(topic) or set()
            wanted = {TopicPartition(topic, p) for p in partitions}
            if wanted - assigned:
                consumer.assign(sorted(wanted, key=lambda tp: tp.partition))
                for tp in wanted - assigned:
                    await consumer.seek_to_beginning(tp)
                assigned = wanted
            if assigned:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    events.extend(CloudEvent.from_kafka(r.key, r.value, r.headers) for r in records)
            else:
                await asyncio.sleep(0.2)
            if until is not None and until(events):
                satisfied_at = satisfied_at or time.monotonic()
                if time.monotonic() - satisfied_at >= settle:
                    break
        return events
    finally:
        await consumer.stop()


def signed_record(topic: str, event: CloudEvent, signer: EventSigner | None = None) -> tuple[bytes, bytes, list]:
    """(key, value, headers) of ``event`` as its producer's relay sends it: signed with the development key of the
    service its ``source`` names (``/jointcredit/<service>``), or with ``signer``."""
    key, value, headers = event.to_kafka()
    signer = signer or EventSigner.dev(event.source.removeprefix(SOURCE_PREFIX))
    return key, value, headers + signer.headers(topic, key, value, headers)


async def publish(bootstrap: str, topic: str, events: list[CloudEvent], *, signer: EventSigner | None = None,
                  unsigned: bool = False) -> None:
    """Put events on ``topic`` the way the relay does (binary-mode CloudEvents, keyed by subject, signed as their
    producer — see :func:`signed_record`), in order. ``unsigned`` sends them without provenance (attack tests)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            key, value, headers = event.to_kafka() if unsigned else signed_record(topic, event, signer)
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 25.0, interval: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy (its value); event-driven effects need a consumer join first."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def calendar_override_event(day: date, working: bool | None, *, reason: str | None = "大连市通知（测试）",
                            changed_at: datetime | None = None) -> CloudEvent:
    """``calendar.override_changed.v1`` exactly as repair publishes it (same model, key and source)."""
    from jointcredit_common.events.schemas_repair import CalendarOverrideChanged

    data = CalendarOverrideChanged(day=day, working=working, reason=reason if working is not None else None,
                                   changed_at=changed_at or datetime.now(UTC))
    key = f"calendar:{day.isoformat()}"
    return CloudEvent(type=data.type_name(), source="/jointcredit/repair", subject=key, key=key, data=data.to_data())


async def publish_override(bootstrap: str, runtime: Any, *events: CloudEvent) -> None:
    """Publish override events on the service's calendar topic and wait until its mirror holds the last of each day."""
    from sqlalchemy import text

    await publish(bootstrap, runtime.topic("calendar"), list(events))
    wanted = {e.data["day"]: e.data["changed_at"] for e in events}

    async def mirrored() -> bool:
        async with runtime.sessionmaker() as session:
            rows = (await session.execute(text("SELECT day, changed_at FROM calendar_overrides"))).all()
        held = {d.isoformat(): c for d, c in rows}
        return all(day in held and held[day] >= datetime.fromisoformat(at) for day, at in wanted.items())

    await eventually(mirrored, timeout=30)
