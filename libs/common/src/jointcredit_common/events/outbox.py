"""Transactional outbox: an event row written in the same transaction as the state change it announces."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.events.schemas import EventData
from jointcredit_common.tables import outbox
from jointcredit_common.tracing import child_traceparent


class Outbox:
    """Writes events for one service: ``source`` is the service, topics are under ``topic_prefix``."""

    def __init__(self, *, source: str, topic_prefix: str) -> None:
        self.source = source
        self.topic_prefix = topic_prefix

    def topic_for(self, data: EventData, **topic_args: str) -> str:
        return f"{self.topic_prefix}.{type(data).topic.format(**topic_args)}"

    def row(self, data: EventData, *, key: str, topic: str | None = None, **topic_args: str) -> dict:
        return {
            "id": uuid.uuid4(),
            "topic": topic or self.topic_for(data, **topic_args),
            "key": key,
            "type": data.type_name(),
            "source": self.source,
            "subject": key,
            "time": datetime.now(UTC),
            "data": data.to_data(),
            "traceparent": child_traceparent(),
        }

    async def add(
        self, session: AsyncSession, data: EventData, *, key: str, topic: str | None = None, **topic_args: str
    ) -> uuid.UUID:
        """Stage one event in ``session``'s transaction; the relay publishes it after commit."""
        row = self.row(data, key=key, topic=topic, **topic_args)
        # Parameters rather than .values(): the compiled INSERT is cached instead of rebuilt per event.
        await session.execute(insert(outbox), row)
        return row["id"]

    async def add_many(self, session: AsyncSession, rows: list[dict]) -> None:
        if rows:
            await session.execute(insert(outbox), rows)
