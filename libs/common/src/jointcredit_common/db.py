"""Async SQLAlchemy engine, sessions and start-up migrations (alembic) for one service's own database."""

from __future__ import annotations

import zlib
from pathlib import Path

import asyncpg
import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from jointcredit_common.settings import ServiceSettings


def _json_dumps(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=settings.db_pool_pre_ping,
        # JSON/JSONB parameters and results through orjson, not the standard library: every event, audit row and
        # measure payload passes here (several times faster; non-string keys become strings, as with json.dumps).
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        # A bounded connect: while the database is away, requests fail fast with 503 instead of hanging (asyncpg: 60 s).
        connect_args={"server_settings": {"application_name": f"jointcredit-{settings.service_name}"},
                      "timeout": settings.db_connect_timeout_seconds},
    )


# The server is down, starting, shutting down, full, or dropped our connection: nothing about the request itself.
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted (the postmaster is not listening)
    TimeoutError,  # connect timeout
    sa_exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.CannotConnectNowError,  # 57P03: starting up, shutting down, in recovery
    asyncpg.AdminShutdownError,  # 57P01: fast shutdown terminated our session
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.PostgresConnectionError,  # 08xxx, incl. "connection does not exist"
    asyncpg.TooManyConnectionsError,  # 53300
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database is unreachable rather than that the work is wrong:
    callers answer 503 or retry later, instead of 500 or dead-lettering a good event."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE_ERRORS):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        orig = getattr(current, "orig", None)
        stack.extend([orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__])
    return False


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(database_url: str) -> str:
    """The plain libpq URL asyncpg accepts (SQLAlchemy's ``postgresql+asyncpg://`` minus the driver)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _alembic_config(script_location: Path, connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine, script_location: Path) -> None:
    """Upgrade to head under an advisory lock, so several replicas starting at once migrate exactly once."""
    lock_key = zlib.crc32(b"jointcredit-migrations")
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
        await conn.commit()
        try:
            await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(script_location, sync_conn), "head"))
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
            await conn.commit()


def run_alembic_env() -> None:
    """Body of every service's ``migrations/env.py``: run online against the connection we were handed."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
