from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer

from jointcredit_common.db import create_engine, create_sessionmaker, migrate
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.provenance import dev_key_id, dev_signing_seed
from jointcredit_common.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class PlatformTestSettings(ServiceSettings):
    service_name: ClassVar[str] = "platformtest"


@pytest.fixture
async def platform(jc_infra, jc_database, jc_topic_prefix):
    settings = PlatformTestSettings(
        database_url=jc_database("platform"), kafka_bootstrap_servers=jc_infra.kafka_bootstrap,
        topic_prefix=jc_topic_prefix, consumer_group_prefix=jc_topic_prefix, outbox_poll_seconds=0.2,
        consumer_retry_backoff_seconds=0.01, consumer_max_retries=3,
        consumer_session_timeout_ms=2000, consumer_heartbeat_interval_ms=400,
        # The platform plays ingest (its events are ingest's types): it signs with ingest's development key.
        event_signing_key=base64.b64encode(dev_signing_seed("ingest")).decode(), event_signing_key_id=dev_key_id("ingest"),
    )
    engine = create_engine(settings)
    await migrate(engine, MIGRATIONS)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    ns = type("Platform", (), {})()
    ns.settings, ns.engine, ns.sessionmaker, ns.producer = settings, engine, create_sessionmaker(engine), producer
    ns.outbox = Outbox(source="/jointcredit/ingest", topic_prefix=jc_topic_prefix)
    ns.stop = asyncio.Event()
    try:
        yield ns
    finally:
        ns.stop.set()
        await producer.stop()
        await engine.dispose()
