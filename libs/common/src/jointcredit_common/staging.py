"""Writes staged until the end of a transaction, so a consumer batch sends them as one statement per kind.

Append-only rows that nothing reads back inside the transaction that writes them — outbox events, audit rows,
an agency's feed — need not reach the database one event at a time. Inside :func:`staged_writes` a :func:`stage`
call only collects its rows; on leaving the block each kind's rows are written with one call of its writer,
kinds in the order they were first staged, rows in the order they were staged, still inside the transaction (so
all or nothing, as before). Outside such a block :func:`stage` writes at once: a request handler or the
consumer's one-by-one path behaves exactly as if there were no staging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Writer = Callable[[AsyncSession, list[Any]], Awaitable[None]]  # writes its rows in one go (e.g. a multi-row INSERT)
_KEY = "jc_staged_writes"


async def stage(session: AsyncSession, writer: Writer, rows: list[Any]) -> None:
    """Write ``rows`` with ``writer`` now, or at the end of the enclosing :func:`staged_writes` block."""
    staged: dict[Writer, list[Any]] | None = session.info.get(_KEY)
    if staged is None:
        if rows:
            await writer(session, rows)
    else:
        staged.setdefault(writer, []).extend(rows)


@asynccontextmanager
async def staged_writes(session: AsyncSession) -> AsyncIterator[None]:
    """Collect :func:`stage` calls on ``session`` and write them when the block ends without an error (an error
    discards them: the transaction around it is rolled back anyway)."""
    if _KEY in session.info:
        raise RuntimeError("staged_writes blocks do not nest")
    staged: dict[Writer, list[Any]] = {}
    session.info[_KEY] = staged
    try:
        yield
        while staged:  # a writer may stage more rows of another kind: write until nothing is left
            writer = next(iter(staged))
            rows = staged.pop(writer)
            if rows:
                await writer(session, rows)
    finally:
        session.info.pop(_KEY, None)
