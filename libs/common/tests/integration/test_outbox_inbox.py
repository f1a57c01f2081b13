"""The outbox, relay and idempotent consumer against a real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import event, func, select, text

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.events.consumer import EventConsumer
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.relay import OutboxRelay, replay
from jointcredit_common.events.schemas import DeadLettered, ReportWithdrawn
from jointcredit_common.staging import staged_writes
from jointcredit_common.tables import audit_log, dead_letters, outbox
from jointcredit_common.testing.kafka import read_topic


def withdrawn(n: int, subject: str) -> ReportWithdrawn:
    return ReportWithdrawn(report_id=f"r{n}", department="d", subject_key=subject, reason=f"#{n}", withdrawn_at=datetime.now(UTC))


async def stage(platform, count: int, subjects: int = 3) -> list[str]:
    ids = []
    for n in range(count):
        async with platform.sessionmaker() as session, session.begin():
            ids.append(str(await platform.outbox.add(session, withdrawn(n, f"enterprise:S{n % subjects}"), key=f"enterprise:S{n % subjects}")))
    return ids


async def run_relay_until_drained(platform) -> OutboxRelay:
    relay = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    while await relay.publish_batch():
        pass
    return relay


async def test_relay_publishes_committed_events_once_in_order_per_subject(platform):
    ids = await stage(platform, 30)
    async with platform.sessionmaker() as session:
        await session.begin()
        await platform.outbox.add(session, withdrawn(999, "enterprise:S0"), key="enterprise:S0")
        await session.rollback()  # a rolled-back state change announces nothing
    await run_relay_until_drained(platform)

    topic = f"{platform.settings.topic_prefix}.reports"
    events = await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 30, settle=1.0)
    assert sorted(e.id for e in events) == sorted(ids)
    assert all(e.type == "cn.dalian.jointcredit.report.withdrawn.v1" and e.source == "/jointcredit/ingest" for e in events)
    for subject in ("enterprise:S0", "enterprise:S1", "enterprise:S2"):
        numbers = [int(e.data["report_id"][1:]) for e in events if e.key == subject]
        assert numbers == sorted(numbers), f"{subject} out of order: {numbers}"
    async with platform.sessionmaker() as session:
        pending = (await session.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))).scalar_one()
    assert pending == 0


async def test_relay_wakes_on_notify_without_waiting_for_the_poll(platform):
    platform.settings.outbox_poll_seconds = 30.0  # only LISTEN/NOTIFY can make this fast
    relay = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    task = asyncio.create_task(relay.run(platform.stop))
    for _ in range(50):
        if relay.is_leader:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # let it settle into its wait
    started = asyncio.get_running_loop().time()
    ids = await stage(platform, 1)
    topic = f"{platform.settings.topic_prefix}.reports"
    events = await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 1, timeout=10)
    elapsed = asyncio.get_running_loop().time() - started
    platform.stop.set()
    await task
    assert [e.id for e in events] == ids
    assert elapsed < 10, "the relay did not wake on NOTIFY"


async def test_a_second_relay_stands_by_while_the_leader_holds_the_lock(platform):
    first = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    second = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    tasks = [asyncio.create_task(first.run(platform.stop)), asyncio.create_task(second.run(platform.stop))]
    await asyncio.sleep(1.5)
    assert [first.is_leader, second.is_leader].count(True) == 1
    platform.stop.set()
    await asyncio.gather(*tasks)


def recording_consumer(platform, topics: list[str], fail_for: set[str] | None = None) -> EventConsumer:
    async def record(session, event: CloudEvent) -> None:
        if fail_for is not None and event.data["report_id"] in fail_for:
            raise RuntimeError(f"cannot handle {event.data['report_id']}")
        await session.execute(text("INSERT INTO effects (event_id, value) VALUES (:id, :v)"), {"id": event.id, "v": event.data["report_id"]})

    return EventConsumer(
        name="recorder", topics=topics, handlers={ReportWithdrawn.type_name(): record},
        sessionmaker=platform.sessionmaker, outbox=platform.outbox, settings=platform.settings,
    )


async def effects(platform) -> list[tuple[str, str]]:
    async with platform.sessionmaker() as session:
        return [tuple(r) for r in (await session.execute(text("SELECT event_id, value FROM effects ORDER BY n"))).all()]


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError


async def test_consumer_applies_each_event_once_even_when_the_outbox_is_replayed(platform):
    ids = await stage(platform, 20)
    await run_relay_until_drained(platform)
    # An operator's replay after a "broker loss" publishes every event a second time.
    assert await replay(platform.engine, since=datetime.now(UTC) - timedelta(hours=1)) == 20
    await run_relay_until_drained(platform)
    topic = f"{platform.settings.topic_prefix}.reports"
    on_topic = await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 40)
    assert len(on_topic) == 40  # the broker really holds duplicates

    consumer = recording_consumer(platform, [topic])
    task = asyncio.create_task(consumer.run(platform.stop))

    async def all_seen() -> bool:
        async with platform.sessionmaker() as session:
            return (await session.execute(text("SELECT count(*) FROM inbox WHERE consumer='recorder'"))).scalar_one() >= 20

    await wait_for(all_seen)
    await asyncio.sleep(1.0)
    platform.stop.set()
    await task
    seen = await effects(platform)
    assert sorted(event_id for event_id, _ in seen) == sorted(ids)


async def test_an_event_that_keeps_failing_is_dead_lettered_then_redriven_once(platform):
    ids = await stage(platform, 5)
    await run_relay_until_drained(platform)
    topic = f"{platform.settings.topic_prefix}.reports"
    failing = {"r2"}
    consumer = recording_consumer(platform, [topic], fail_for=failing)
    task = asyncio.create_task(consumer.run(platform.stop))

    async def four_done_one_dead() -> bool:
        async with platform.sessionmaker() as session:
            dead = (await session.execute(select(func.count()).select_from(dead_letters))).scalar_one()
        return dead == 1 and len(await effects(platform)) == 4

    await wait_for(four_done_one_dead)
    dlq = await read_topic(platform.settings.kafka_bootstrap_servers, f"{platform.settings.topic_prefix}.dlq",
                           until=lambda e: len(e) >= 1, timeout=15) if await _relay_once(platform) else []
    assert [e.type for e in dlq] == [DeadLettered.type_name()]
    assert dlq[0].data["original_event_id"] == ids[2] and "cannot handle r2" in dlq[0].data["error"]

    failing.clear()  # "the fix is deployed"
    async with platform.sessionmaker() as session:
        dead_id = (await session.execute(select(dead_letters.c.id))).scalar_one()
    assert await consumer.redrive(dead_id) == "processed"
    assert await consumer.redrive(dead_id) == "already_redriven"
    platform.stop.set()
    await task
    assert sorted(v for _, v in await effects(platform)) == ["r0", "r1", "r2", "r3", "r4"]


async def _relay_once(platform) -> bool:
    await run_relay_until_drained(platform)
    return True


async def test_a_record_that_is_not_a_cloudevent_goes_to_the_dead_letter_table(platform):
    topic = f"{platform.settings.topic_prefix}.reports"
    producer = AIOKafkaProducer(bootstrap_servers=platform.settings.kafka_bootstrap_servers)
    await producer.start()
    await producer.send_and_wait(topic, value=b"not json at all", key=b"x")
    await producer.stop()
    consumer = recording_consumer(platform, [topic])
    task = asyncio.create_task(consumer.run(platform.stop))

    async def dead() -> bool:
        async with platform.sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(dead_letters))).scalar_one() == 1

    await wait_for(dead)
    platform.stop.set()
    await task
    async with platform.sessionmaker() as session:
        error = (await session.execute(select(dead_letters.c.error))).scalar_one()
    assert "missing CloudEvents headers" in error


async def test_one_poll_is_applied_in_one_transaction_in_partition_order(platform):
    """The consumer's fast path: a poll's events share one transaction (one xmin), and per-key order holds."""
    ids = await stage(platform, 60)
    await run_relay_until_drained(platform)
    topic = f"{platform.settings.topic_prefix}.reports"
    await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 60)
    consumer = recording_consumer(platform, [topic])
    task = asyncio.create_task(consumer.run(platform.stop))
    await wait_for(lambda: _count_effects(platform, 60))
    platform.stop.set()
    await task
    assert consumer.consumer._fetch_max_wait_ms == platform.settings.consumer_fetch_max_wait_ms == 50  # the setting is used
    async with platform.sessionmaker() as session:
        rows = (await session.execute(text("SELECT value, xmin::text::bigint FROM effects ORDER BY n"))).all()
    assert sorted(v for v, _ in rows) == sorted(f"r{n}" for n in range(60)) and len(ids) == 60
    assert len({xmin for _, xmin in rows}) < 10, "events were committed one transaction each"
    for subject in range(3):  # stage() gave report n to subject n % 3
        numbers = [int(v[1:]) for v, _ in rows if int(v[1:]) % 3 == subject]
        assert numbers == sorted(numbers)


async def test_a_failing_event_inside_a_poll_changes_nothing_of_the_batch_then_the_rest_apply_once(platform):
    """A handler error mid-batch rolls the whole batch back; one-by-one processing then applies the others once."""
    await stage(platform, 12)
    await run_relay_until_drained(platform)
    topic = f"{platform.settings.topic_prefix}.reports"
    await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 12)
    platform.settings.consumer_max_retries = 1
    consumer = recording_consumer(platform, [topic], fail_for={"r6"})
    task = asyncio.create_task(consumer.run(platform.stop))
    await wait_for(lambda: _count_effects(platform, 11))
    await asyncio.sleep(1.0)
    platform.stop.set()
    await task
    values = [v for _, v in await effects(platform)]
    assert sorted(values) == sorted(f"r{n}" for n in range(12) if n != 6)  # each once, r6 dead-lettered
    async with platform.sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(dead_letters))).scalar_one() == 1


async def _count_effects(platform, at_least: int) -> bool:
    return len(await effects(platform)) >= at_least


# --- staged writes (jointcredit_common.staging): outbox events and audit rows of a consumer batch reach PostgreSQL
# as one statement per kind at the end of its transaction, in order; outside a batch they are written at once.

ACTOR = Principal(role="service", principal="platformtest")


@contextmanager
def inserts_into(engine):
    """Counts the INSERT statements sent per table while the block runs (executemany counts once)."""
    seen: Counter[str] = Counter()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        if statement.lstrip().upper().startswith("INSERT INTO"):
            seen[statement.split()[2]] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def rows_of(session, table) -> int:
    return (await session.execute(select(func.count()).select_from(table))).scalar_one()


async def test_outside_a_block_every_write_goes_out_at_once(platform):
    with inserts_into(platform.engine) as seen:
        async with platform.sessionmaker() as session, session.begin():
            for n in range(3):
                await platform.outbox.add(session, withdrawn(n, "enterprise:S"), key="enterprise:S")
                await record_audit(session, principal=ACTOR, action="test.write", target_id=str(n))
            assert await rows_of(session, outbox) == 3 and await rows_of(session, audit_log) == 3
    assert seen["outbox"] == 3 and seen["audit_log"] == 3


async def test_json_columns_go_through_orjson_both_ways(platform):
    """The engine's JSON codec is orjson (jointcredit_common.db): values json.dumps cannot write (a UUID, a
    datetime) are stored as their JSON text, non-string keys become strings, Chinese text comes back as text."""
    at, ident = datetime(2026, 11, 26, 8, 30, tzinfo=UTC), uuid.UUID(int=7)
    async with platform.sessionmaker() as session, session.begin():
        await record_audit(session, principal=ACTOR, action="test.json", target_id="json",
                           detail={"at": at, "id": ident, 3: "三", "text": "大连市信用办"})
    async with platform.sessionmaker() as session:
        detail = (await session.execute(select(audit_log.c.detail).where(audit_log.c.target_id == "json"))).scalar_one()
    assert detail == {"at": "2026-11-26T08:30:00+00:00", "id": str(ident), "3": "三", "text": "大连市信用办"}


async def test_a_block_writes_each_kind_once_at_its_end_in_the_staged_order(platform):
    with inserts_into(platform.engine) as seen:
        async with platform.sessionmaker() as session, session.begin():
            async with staged_writes(session):
                ids = [await platform.outbox.add(session, withdrawn(n, f"enterprise:S{n % 2}"), key=f"enterprise:S{n % 2}")
                       for n in range(25)]
                for n in range(25):
                    await record_audit(session, principal=ACTOR, action="test.write", target_id=str(n))
                assert await rows_of(session, outbox) == 0 and await rows_of(session, audit_log) == 0  # held back
            assert await rows_of(session, outbox) == 25  # written before the transaction ends
    assert seen["outbox"] == 1 and seen["audit_log"] == 1
    async with platform.sessionmaker() as session:
        assert list((await session.execute(select(outbox.c.id).order_by(outbox.c.seq))).scalars()) == ids
        assert list((await session.execute(select(audit_log.c.target_id).order_by(audit_log.c.id))).scalars()) == \
            [str(n) for n in range(25)]
        assert "jc_staged_writes" not in session.info


async def test_an_error_in_the_block_writes_nothing_and_blocks_do_not_nest(platform):
    with pytest.raises(RuntimeError, match="boom"):
        async with platform.sessionmaker() as session, session.begin(), staged_writes(session):
            await platform.outbox.add(session, withdrawn(1, "enterprise:S"), key="enterprise:S")
            raise RuntimeError("boom")
    async with platform.sessionmaker() as session:
        assert await rows_of(session, outbox) == 0
        assert "jc_staged_writes" not in session.info
        with pytest.raises(RuntimeError, match="do not nest"):
            async with staged_writes(session), staged_writes(session):
                pass


async def test_a_consumer_batch_stages_its_handlers_events_into_its_one_transaction(platform):
    """Each consumed event emits one outbox event: a poll's emitted events are written with one INSERT, in the
    batch's transaction (the effects' xmin), once each, in the order of the events that caused them."""
    await stage(platform, 40, subjects=1)  # one subject: one partition, one ordered stream
    await run_relay_until_drained(platform)
    topic = f"{platform.settings.topic_prefix}.reports"
    await read_topic(platform.settings.kafka_bootstrap_servers, topic, until=lambda e: len(e) >= 40)
    async with platform.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE outbox SET topic = 'consumed.' || topic"))  # tell the inputs apart below

    async def react(session, event: CloudEvent) -> None:
        await session.execute(text("INSERT INTO effects (event_id, value) VALUES (:id, :v)"),
                              {"id": event.id, "v": event.data["report_id"]})
        await platform.outbox.add(session, withdrawn(int(event.data["report_id"][1:]) + 1000, "enterprise:R"),
                                  key="enterprise:R", topic="reactions")

    consumer = EventConsumer(name="reactor", topics=[topic], handlers={ReportWithdrawn.type_name(): react},
                             sessionmaker=platform.sessionmaker, outbox=platform.outbox, settings=platform.settings)
    with inserts_into(platform.engine) as seen:
        task = asyncio.create_task(consumer.run(platform.stop))

        async def all_done() -> bool:
            return len(await effects(platform)) >= 40

        await wait_for(all_done)
        platform.stop.set()
        await task
    async with platform.sessionmaker() as session:
        reactions = (await session.execute(text(
            "SELECT data->>'report_id', xmin::text::bigint FROM outbox WHERE topic = 'reactions' ORDER BY seq"))).all()
        effect_tx = dict((await session.execute(text("SELECT value, xmin::text::bigint FROM effects"))).all())
    assert [r for r, _ in reactions] == [f"r{n + 1000}" for n in range(40)]  # once each, in the consumed order
    assert all(effect_tx[f"r{int(r[1:]) - 1000}"] == tx for r, tx in reactions), "an event left its cause's transaction"
    assert seen["outbox"] < 40 / 2, f"outbox rows were written one statement per event: {seen}"
