"""Event provenance on the real broker: what the relay publishes is signed, a replay re-sends the same signature, a
dead letter keeps its original one (checked again on re-drive), and an unsigned record is refused before any effect.
The platform fixture signs as ingest (its events are ingest's report.withdrawn.v1)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, select, text

from jointcredit_common.events.consumer import EventConsumer
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import KEY_ID_HEADER, SIGNATURE_HEADER, EventRejected, EventVerifier
from jointcredit_common.events.relay import OutboxRelay, replay
from jointcredit_common.events.schemas import ReportWithdrawn
from jointcredit_common.tables import dead_letters
from jointcredit_common.testing.kafka import eventually


def withdrawn(n: int) -> ReportWithdrawn:
    return ReportWithdrawn(report_id=f"r{n}", department="d", subject_key="enterprise:P", reason=f"#{n}",
                           withdrawn_at=datetime.now(UTC))


async def stage_and_publish(platform, count: int) -> None:
    for n in range(count):
        async with platform.sessionmaker() as session, session.begin():
            await platform.outbox.add(session, withdrawn(n), key="enterprise:P")
    relay = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    while await relay.publish_batch():
        pass


async def raw_records(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        records: list = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < count and asyncio.get_running_loop().time() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()  # noqa: SLF001 - a topic created meanwhile
                await asyncio.sleep(0.2)
                continue
            if not consumer.assignment():
                consumer.assign([TopicPartition(topic, p) for p in partitions])
                await consumer.seek_to_beginning()
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def recorder(platform, topic: str, fail: set[str]) -> EventConsumer:
    async def record(session, event: CloudEvent) -> None:
        if event.data["report_id"] in fail:
            raise RuntimeError(f"cannot handle {event.data['report_id']}")
        await session.execute(text("INSERT INTO effects (event_id, value) VALUES (:id, :v)"),
                              {"id": event.id, "v": event.data["report_id"]})

    return EventConsumer(name="recorder", topics=[topic], handlers={ReportWithdrawn.type_name(): record},
                         sessionmaker=platform.sessionmaker, outbox=platform.outbox, settings=platform.settings)


async def test_the_relay_signs_what_it_publishes_and_a_replay_resends_the_same_signature(platform):
    topic = f"{platform.settings.topic_prefix}.reports"
    await stage_and_publish(platform, 3)
    assert await replay(platform.engine, since=datetime.now(UTC) - timedelta(hours=1)) == 3
    relay = OutboxRelay(engine=platform.engine, producer=platform.producer, settings=platform.settings)
    while await relay.publish_batch():
        pass

    records = await raw_records(platform.settings.kafka_bootstrap_servers, topic, 6)
    assert len(records) == 6
    verifier = EventVerifier.from_settings(platform.settings)
    signatures: dict[str, set[bytes]] = {}
    for record in records:
        headers = dict(record.headers)
        assert headers[KEY_ID_HEADER] == b"ingest-dev"
        assert verifier.verify(record.topic, record.key, record.value, record.headers) == "ingest"
        signatures.setdefault(headers["ce_id"].decode(), set()).add(headers[SIGNATURE_HEADER])
    assert len(signatures) == 3 and all(len(s) == 1 for s in signatures.values())  # replayed: the very same signature


async def test_a_dead_letter_keeps_its_original_signature_and_a_redrive_checks_it(platform):
    topic = f"{platform.settings.topic_prefix}.reports"
    await stage_and_publish(platform, 2)
    # And one record without provenance, as anyone on the network could send it.
    forged = CloudEvent(type=ReportWithdrawn.type_name(), source="/jointcredit/ingest", subject="enterprise:P",
                        key="enterprise:P", data=withdrawn(99).to_data())
    producer = AIOKafkaProducer(bootstrap_servers=platform.settings.kafka_bootstrap_servers)
    await producer.start()
    key, value, headers = forged.to_kafka()
    await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    await producer.stop()

    failing = {"r1"}
    consumer = recorder(platform, topic, failing)
    task = asyncio.create_task(consumer.run(platform.stop))

    async def two_dead() -> bool:
        async with platform.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(dead_letters)) == 2

    await eventually(two_dead, timeout=30)
    async with platform.sessionmaker() as session:
        letters = {row["error"].split(":")[0]: row for row in
                   (await session.execute(select(dead_letters))).mappings().all()}
        assert [v for (v,) in (await session.execute(text("SELECT value FROM effects"))).all()] == ["r0"]
    genuine = next(row for error, row in letters.items() if "RuntimeError" in error)
    refused = next(row for error, row in letters.items() if error.startswith("rejected"))
    assert SIGNATURE_HEADER in {name for name, _ in genuine["headers"]}  # stored with the record, as received
    assert refused["event_id"] == f"{refused['topic']}:{refused['partition']}:{refused['offset']}"

    failing.clear()  # "the fix is deployed": the genuine event runs again under its original signature
    assert await consumer.redrive(genuine["id"]) == "processed"
    with pytest.raises(EventRejected) as rejection:
        await consumer.redrive(refused["id"])
    assert rejection.value.reason == "unsigned"
    platform.stop.set()
    await task
    async with platform.sessionmaker() as session:
        assert sorted(v for (v,) in (await session.execute(text("SELECT value FROM effects"))).all()) == ["r0", "r1"]
    assert base64.b64decode(dict(genuine["headers"])[SIGNATURE_HEADER])
