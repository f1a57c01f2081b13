"""Group commit for single-report POSTs: concurrent requests share one transaction.

A report is answered 202 only after its row, its outbox event and its audit row are committed — that does not
change. What changes is how many requests one commit carries: instead of BEGIN, three INSERTs and COMMIT per
request (five round trips and a WAL flush each), requests that arrive while a transaction is in flight queue up
and the next transaction inserts all of them with one executemany per table. Under light load a batch is one
request and nothing waits; under heavy load a few hundred requests share the round trips. If a transaction fails,
every request in it fails (the database was away: 503) and none of them was stored.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.auth import write_audit_rows
from jointcredit_common.events.outbox import write_outbox_rows
from ingest_service.reports.models import reports


@dataclass
class PendingReport:
    report: dict[str, Any]
    event: dict[str, Any]  # an outbox row (Outbox.row)
    audit: dict[str, Any]  # an audit_log row (auth.audit_row)
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommitWriter:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, writers: int = 2, max_batch: int = 500) -> None:
        self.sessionmaker = sessionmaker
        self.writers = writers
        self.max_batch = max_batch
        self._queue: asyncio.Queue[PendingReport] = asyncio.Queue()

    async def store(self, pending: PendingReport) -> None:
        """Returns once ``pending`` is committed; raises what the transaction raised if it was not."""
        self._queue.put_nowait(pending)
        await asyncio.shield(pending.done)  # a client hanging up must not tear a report out of a shared batch

    async def run(self, stop: asyncio.Event) -> None:
        """A few writer loops over one queue, so one batch's commit overlaps the next batch's inserts."""
        await asyncio.gather(*(self._write_loop(stop) for _ in range(self.writers)))

    async def _write_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
            except TimeoutError:
                continue
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)
        while not self._queue.empty():  # shutting down: finish what was accepted into the queue
            await self._write([self._queue.get_nowait() for _ in range(min(self._queue.qsize(), self.max_batch))])

    async def _write(self, batch: list[PendingReport]) -> None:
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(insert(reports), [p.report for p in batch])
                await write_outbox_rows(session, [p.event for p in batch])
                await write_audit_rows(session, [p.audit for p in batch])
        except Exception as exc:  # noqa: BLE001 - each waiting request re-raises it as its own failure
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(_BatchFailed(exc))
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)


class _BatchFailed(Exception):
    """The shared transaction failed; ``__cause__`` says why (the error handlers map a lost database to 503)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"the transaction storing this report failed: {type(cause).__name__}")
        self.__cause__ = cause


async def install_writer(runtime: Any) -> None:
    """Start-up hook: the writer exists before the first request (its loops run as a background task)."""
    runtime.extras["report_writer"] = GroupCommitWriter(runtime.sessionmaker, writers=runtime.settings.report_writers)


async def run_writer(runtime: Any, stop: asyncio.Event) -> None:
    await runtime.extras["report_writer"].run(stop)
