"""The one-hop toy ceiling: POST → one row + one outbox row in one transaction → a relay → the broker.

The smallest honest version of what ingest does (no catalog rules, no auth, no PII encryption, no audit row, raw
asyncpg instead of SQLAlchemy), so "ingest as a fraction of the toy" shows what our layers cost. Configured by
TOY_DATABASE_URL (libpq URL) and TOY_KAFKA_BOOTSTRAP; run with uvicorn like the services (one worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (id uuid PRIMARY KEY, subject text NOT NULL, body jsonb NOT NULL,
                                  received_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS toy_outbox (seq bigserial PRIMARY KEY, id uuid NOT NULL, key text NOT NULL, data jsonb NOT NULL,
                                       published_at timestamptz);
CREATE INDEX IF NOT EXISTS toy_outbox_unpublished ON toy_outbox (seq) WHERE published_at IS NULL;
"""


class Subject(BaseModel):
    type: str
    id: str
    name: str


class Item(BaseModel):
    subject: Subject
    behavior: str
    occurred_on: date
    description: str = ""
    evidence: dict | None = None
    exemption: dict | None = None


async def relay(pool: asyncpg.Pool, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
    while not stop.is_set():
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch("SELECT seq, id, key, data FROM toy_outbox WHERE published_at IS NULL "
                                    "ORDER BY seq LIMIT 500 FOR UPDATE SKIP LOCKED")
            if rows:
                futures = [await producer.send("toy.items", value=row["data"].encode(), key=row["key"].encode()) for row in rows]
                await asyncio.gather(*futures)
                await conn.execute("UPDATE toy_outbox SET published_at = now() WHERE seq = ANY($1)", [r["seq"] for r in rows])
        if len(rows) < 500:
            await asyncio.sleep(0.005)


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # reset=_no_reset: every use is a complete transaction, so skip asyncpg's reset round trip on release.
    pool = await asyncpg.create_pool(os.environ["TOY_DATABASE_URL"], min_size=4, max_size=20, reset=_no_reset)
    await pool.execute(SCHEMA)
    producer = AIOKafkaProducer(bootstrap_servers=os.environ["TOY_KAFKA_BOOTSTRAP"], acks="all", linger_ms=2)
    await producer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(relay(pool, producer, stop))
    app.state.pool = pool
    yield
    stop.set()
    await task
    await producer.stop()
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/v1/reports", status_code=202)
async def post(item: Item) -> JSONResponse:
    item_id = uuid.uuid4()
    body = item.model_dump_json()
    async with app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO items (id, subject, body) VALUES ($1, $2, $3)", item_id, item.subject.id, body)
        await conn.execute("INSERT INTO toy_outbox (id, key, data) VALUES ($1, $2, $3)", uuid.uuid4(), item.subject.id,
                           orjson.dumps({"id": str(item_id), "item": orjson.loads(body)}).decode())
    return JSONResponse({"id": str(item_id), "subject": {"key": item.subject.id}}, status_code=202)


@app.get("/readyz")
async def ready() -> dict:
    return {"status": "ready"}
