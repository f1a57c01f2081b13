"""Transactional outbox: an event row written in the same transaction as the state change it announces."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.events.schemas import EventData
from jointcredit_common.staging import stage
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
        await stage(session, write_outbox_rows, [row])
        return row["id"]

    async def add_many(self, session: AsyncSession, rows: list[dict]) -> None:
        """Stage rows made by :meth:`row`, in order."""
        await stage(session, write_outbox_rows, rows)


async def write_outbox_rows(session: AsyncSession, rows: list[dict]) -> None:
    """One INSERT for any number of rows (parameters, not .values(): the compiled statement is cached). Written at
    once, or at the end of a consumer batch (jointcredit_common.staging)."""
    await session.execute(insert(outbox), rows)
