"""The service shell every service is built from: auth, problem details, body limits, trace context, health, metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, ClassVar

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from jointcredit_common.auth import Principal, require_role, revoke_credentials
from jointcredit_common.app import ConsumerSpec, ServiceSpec, create_service_app
from jointcredit_common.settings import ServiceSettings
from jointcredit_common.testing.plugin import token_of

MIGRATIONS = Path(__file__).parent / "migrations"


class ShellSettings(ServiceSettings):
    service_name: ClassVar[str] = "shell"


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


router = APIRouter()


@router.get("/v1/agency-only")
async def agency_only(principal: Annotated[Principal, require_role("agency")]) -> dict:
    return {"principal": principal.principal}


@router.post("/v1/echo")
async def echo(body: EchoIn, principal: Annotated[Principal, require_role("department")]) -> dict:
    return {"n": body.n}


def create_app(settings: ShellSettings):
    return create_service_app(ServiceSpec(settings=settings, title="shell", description="", version="0",
                                          migrations=MIGRATIONS, routers=[router]))


async def test_service_shell_enforces_auth_problems_and_limits(jc_app, jc_credentials):
    _, creds = jc_credentials
    agency = token_of(creds, "agency")
    department = token_of(creds, "department", "market_regulation")
    admin = token_of(creds, "admin")
    async with jc_app("shell", create_app, ShellSettings, max_body_bytes=2048) as (app, client):
        missing = await client.get("/v1/agency-only")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["field"] == "header.Authorization"
        assert (await client.get("/v1/agency-only", headers={"Authorization": "Bearer nope"})).status_code == 401
        assert (await client.get("/v1/agency-only", headers={"Authorization": f"Bearer {department}"})).status_code == 403
        assert (await client.get("/v1/agency-only", headers={"Authorization": f"Bearer {agency}"})).status_code == 200
        assert (await client.get("/v1/agency-only", headers={"Authorization": f"Bearer {admin}"})).status_code == 200

        dept = {"Authorization": f"Bearer {department}"}
        wrong_type = await client.post("/v1/echo", json={"n": "many"}, headers=dept)
        assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "body.n"
        unknown = await client.post("/v1/echo", json={"n": 1, "extra": True}, headers=dept)
        assert unknown.status_code == 422 and unknown.json()["field"] == "body.extra"
        malformed = await client.post("/v1/echo", content=b'{"n": 1', headers={**dept, "Content-Type": "application/json"})
        assert malformed.status_code == 400 and malformed.json()["field"] == "body"
        oversized = await client.post("/v1/echo", content=b'{"n": 1, "pad": "' + b"x" * 4096 + b'"}',
                                      headers={**dept, "Content-Type": "application/json"})
        assert oversized.status_code == 413 and oversized.json()["limit_bytes"] == 2048

        trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        traced = await client.post("/v1/echo", json={"n": 7}, headers={**dept, "traceparent": trace})
        assert traced.json() == {"n": 7}
        assert traced.headers["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"

        runtime = app.state.runtime
        async with runtime.sessionmaker() as session, session.begin():
            assert await revoke_credentials(session, role="agency", principal=next(
                c["principal"] for c in creds if c["token"] == agency)) == 1
        runtime.tokens.forget()  # otherwise revocation takes effect within auth.CACHE_SECONDS
        assert (await client.get("/v1/agency-only", headers={"Authorization": f"Bearer {agency}"})).status_code == 401

        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok" and ready.json()["checks"]["broker"] == "ok"
        metrics = (await client.get("/metrics")).text
        assert 'jc_http_requests_total{method="POST",route="/v1/echo",service="shell",status="422"}' in metrics
        # rejected before routing: labelled "unmatched", so label cardinality stays bounded
        assert 'jc_http_requests_total{method="POST",route="unmatched",service="shell",status="413"}' in metrics
        assert "jc_outbox_backlog" in metrics


async def test_readiness_fails_when_the_database_is_gone(jc_app, jc_infra):
    async with jc_app("shell", create_app, ShellSettings) as (app, client):
        await app.state.runtime.engine.dispose()
        db_name = app.state.runtime.engine.url.database
        from jointcredit_common.devstack import drop_databases

        drop_databases(jc_infra.postgres_admin_url, [db_name])
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
        assert isinstance(ready, httpx.Response)


async def _ignore(session, event) -> None:  # a consumer's handler; no event is ever published in these tests
    return None


def create_consuming_app(settings: ShellSettings):
    return create_service_app(ServiceSpec(
        settings=settings, title="shell", description="", version="0", migrations=MIGRATIONS, routers=[router],
        consumers=[ConsumerSpec(name="shell-listener", topics=["reports"], handlers=lambda runtime: {"x.y.v1": _ignore})],
    ))



async def test_shutdown_cancels_a_consumer_that_is_still_joining_its_group(jc_app, jc_infra):
    """tansu answers a group join only after half the session timeout (5 s here): a lifespan that ends meanwhile
    must not wait for it (it used to: about 2 s in the teardown of every in-process app test)."""
    async with jc_app("shell", create_consuming_app, ShellSettings, run_consumers=True,
                      consumer_session_timeout_ms=10_000, consumer_heartbeat_interval_ms=1_000) as (app, client):
        consumer = app.state.runtime.consumers[0]
        await asyncio.sleep(0.5)  # into start(): metadata, then the JoinGroup request the broker holds
        if "kafka:embedded" in jc_infra.mode:
            assert not consumer.ready.is_set(), "the join was expected to be still under way"
        assert (await client.get("/healthz")).status_code == 200
        stopping = time.monotonic()
    elapsed = time.monotonic() - stopping
    assert elapsed < 1.0, f"shutdown took {elapsed:.2f} s"
    assert all(task.done() for task in app.state.runtime.tasks)
    assert consumer.consumer is not None and consumer.consumer._closed  # stopped, not abandoned
