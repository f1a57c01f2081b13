"""Fixtures of the ingest tests: the real app (in process) on a fresh real database and the real broker."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from jointcredit_common.testing.plugin import token_of
from ingest_service.main import create_app
from ingest_service.settings import IngestSettings


@dataclass
class Ingest:
    app: Any
    client: httpx.AsyncClient
    credentials: list[dict[str, Any]]

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def token(self, role: str, principal: str | None = None) -> str:
        return token_of(self.credentials, role, principal)

    def auth(self, role: str = "department", principal: str | None = "market_regulation") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, principal)}"}

    async def count(self, table: str) -> int:
        from sqlalchemy import table as sql_table

        async with self.runtime.sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(sql_table(table)))).scalar_one()

    async def counts(self, *tables: str) -> dict[str, int]:
        return {t: await self.count(t) for t in tables}

    async def scalar(self, query: Any) -> Any:
        async with self.runtime.sessionmaker() as session:
            return (await session.execute(query)).scalar()

    async def rows(self, query: Any) -> list[Any]:
        async with self.runtime.sessionmaker() as session:
            return list((await session.execute(query)).mappings().all())


@pytest.fixture
async def ingest(jc_app, jc_credentials):
    async with jc_app("ingest", create_app, IngestSettings) as (app, client):
        yield Ingest(app, client, jc_credentials[1])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_ingest(jc_module_app, request):
    """ONE ingest app for a module's table-driven cases (tests marked ``asyncio(loop_scope="module")``); its
    overrides come from the module's ``SHARED_INGEST_SETTINGS``. Cases must not rely on a fresh database."""
    overrides = getattr(request.module, "SHARED_INGEST_SETTINGS", {})
    async with jc_module_app("ingest", create_app, IngestSettings, **overrides) as (app, client):
        yield Ingest(app, client, jc_module_app.credentials)


@pytest.fixture
def ingest_with(jc_app, jc_credentials):
    """``async with ingest_with(max_batch_items=5) as ingest:`` — the app with settings overridden."""

    @contextlib.asynccontextmanager
    async def open_ingest(**overrides: Any):
        async with jc_app("ingest", create_app, IngestSettings, **overrides) as (app, client):
            yield Ingest(app, client, jc_credentials[1])

    return open_ingest
