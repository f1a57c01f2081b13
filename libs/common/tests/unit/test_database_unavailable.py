"""A lost database is a 503 problem (retry), not a 500 (bug) — and not a dead letter (tests/faults finds both)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError

from jointcredit_common.db import database_unavailable
from jointcredit_common.errors import install_problem_handlers


class Wrapped(Exception):
    """Like a shared transaction's failure handed to each waiting request, with the real error as its cause."""


def wrapped(cause: BaseException) -> Wrapped:
    try:
        raise Wrapped("the shared transaction failed") from cause
    except Wrapped as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        DBAPIError("INSERT …", {}, asyncpg.AdminShutdownError("terminating connection due to administrator command")),
        wrapped(ConnectionRefusedError(111, "Connection refused")),
    ],
    ids=["refused", "shutting-down", "session-terminated", "wrapped"],
)
def test_a_lost_database_is_recognised(exc: BaseException) -> None:
    assert database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), IntegrityError("INSERT …", {}, Exception("duplicate key")), asyncpg.QueryCanceledError("timeout")],
    ids=["bug", "constraint", "statement-timeout"],
)
def test_other_errors_are_not_a_lost_database(exc: BaseException) -> None:
    assert not database_unavailable(exc)


def app_raising(exc: BaseException) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def things() -> None:
        raise exc

    return app


async def test_a_request_that_loses_the_database_gets_a_503_problem_and_keeps_its_connection() -> None:
    # raise_app_exceptions: anything re-raised to the server would surface here (uvicorn would close the connection)
    transport = httpx.ASGITransport(app=app_raising(wrapped(ConnectionRefusedError(111, "refused"))), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/v1/things")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert response.json()["type"].endswith("/service-unavailable")


async def test_a_bug_is_still_a_500() -> None:
    transport = httpx.ASGITransport(app=app_raising(ValueError("bug")), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post("/v1/things")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal-error")
