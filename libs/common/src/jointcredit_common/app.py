"""The service shell every jointcredit service is built from: ``create_service_app(spec)``.

Start-up order (full-stack-fastapi-template's prestart, done in the lifespan): wait for the database →
migrate (alembic, advisory-locked) → import credentials → connect the producer → ensure topics → start the
outbox relay, the consumers and the service's own background tasks. Shutdown reverses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jointcredit_common import faults, metrics
from jointcredit_common.auth import AdminPrincipal, TokenStore, load_credentials_file, record_audit, upsert_credential
from jointcredit_common.calendar.coverage import refresh_coverage_metrics
from jointcredit_common.calendar.overrides import CalendarSource
from jointcredit_common.db import create_engine, create_sessionmaker, migrate
from jointcredit_common.errors import Conflict, NotFound, install_problem_handlers
from jointcredit_common.events.consumer import EventConsumer, Handler
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.provenance import EventRejected
from jointcredit_common.events.relay import OutboxRelay, replay
from jointcredit_common.logging import configure_logging, get_logger
from jointcredit_common.middleware import PlatformMiddleware, RateLimitMiddleware
from jointcredit_common.openapi import install_problem_openapi
from jointcredit_common.periodic import every
from jointcredit_common.pii import PiiCipher, PiiHasher
from jointcredit_common.settings import ServiceSettings
from jointcredit_common.tables import MAX_BIGINT, dead_letters

log = get_logger(__name__)


@dataclass
class ConsumerSpec:
    name: str
    topics: list[str]  # relative to the topic prefix, e.g. "reports"
    handlers: Callable[["ServiceRuntime"], dict[str, Handler]]


@dataclass
class ServiceSpec:
    settings: ServiceSettings
    title: str
    description: str
    version: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    topics: Sequence[str] = ()  # topics this service writes to (relative), created at start-up
    on_startup: Sequence[Callable[["ServiceRuntime"], Awaitable[None]]] = ()
    background: Sequence[Callable[["ServiceRuntime", asyncio.Event], Awaitable[None]]] = ()
    openapi_tags: list[dict[str, Any]] | None = None
    # the table of the city's calendar overrides in this service's database (repair's own, or a mirror); None: national
    calendar_overrides: Table | None = None
    # exact paths that accept bodies over settings.max_body_bytes, with their limits (e.g. ingest's batch route)
    body_limits: dict[str, int] = field(default_factory=dict)


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    outbox: Outbox
    tokens: TokenStore
    cipher: PiiCipher
    hasher: PiiHasher
    calendar: CalendarSource = field(default_factory=lambda: CalendarSource(None, None))
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return self.settings.topic(name)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: a state change, the events announcing it (outbox) and its audit rows commit together on a
        clean exit, or none of them does (DESIGN §3, nothing lost, nothing doubled)."""
        async with self.sessionmaker() as session, session.begin():
            yield session


async def _wait_for_database(engine: AsyncEngine, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"database not reachable: {exc}") from exc
            log.info("waiting_for_database", error=str(exc))
            await asyncio.sleep(1.0)


async def _start_producer(settings: ServiceSettings, timeout: float = 60.0) -> AIOKafkaProducer:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            acks="all",
            linger_ms=2,
            max_batch_size=256 * 1024,
            request_timeout_ms=15_000,
        )
        try:
            await producer.start()
            return producer
        except Exception as exc:
            await producer.stop()
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"broker not reachable: {exc}") from exc
            log.info("waiting_for_broker", error=str(exc))
            await asyncio.sleep(1.0)


DEFAULT_PARTITIONS = 4  # topics a service creates for itself (development, tests); production's come from deploy/


async def ensure_topics(bootstrap: str, topics: Sequence[str], partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create topics that don't exist yet (idempotent). Production creates them from deploy/topics.yaml too."""
    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            try:
                await admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def _import_credentials(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    async with runtime.unit_of_work() as session:
        if settings.admin_bootstrap_token_sha256:
            await upsert_credential(
                session, role="admin", principal="bootstrap-admin", token_sha256=settings.admin_bootstrap_token_sha256.lower(),
                scopes=["*"], description="bootstrap admin from settings",
            )
        if settings.bootstrap_credentials_file and settings.bootstrap_credentials_file.exists():
            from jointcredit_common.auth import hash_token

            for entry in load_credentials_file(settings.bootstrap_credentials_file):
                await upsert_credential(
                    session, role=entry["role"], principal=entry["principal"], token_sha256=hash_token(entry["token"]),
                    scopes=list(entry.get("scopes", [])), description="development demo credential",
                )


def _platform_router() -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", tags=["ops"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", tags=["ops"], summary="Readiness: database and broker reachable, consumers running",
                responses={503: {"description": "Not ready: a dependency is unreachable or a consumer is still starting"}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with runtime.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 2.0)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            assert runtime.producer is not None
            ok = await asyncio.wait_for(runtime.producer.client.force_metadata_update(), 3.0)
            checks["broker"] = "ok" if ok else "error: metadata"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
        for consumer in runtime.consumers:
            checks[f"consumer:{consumer.name}"] = "ok" if consumer.ready.is_set() else "starting"
        ready = all(v == "ok" for v in checks.values())
        # Informational, never a reason to take the service out of rotation: how far the working-day calendar reaches.
        details = {"calendar": refresh_coverage_metrics(runtime.settings.service_name, runtime.calendar.national())}
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks, "details": details},
                            status_code=200 if ready else 503)

    @router.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus_metrics(request: Request) -> Response:
        runtime: ServiceRuntime = request.app.state.runtime
        refresh_coverage_metrics(runtime.settings.service_name, runtime.calendar.national())
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/v1/admin/dead-letters", tags=["ops"], summary="Events that failed after retries")
    async def list_dead_letters(
        request: Request, admin: AdminPrincipal, include_redriven: bool = False, limit: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        runtime: ServiceRuntime = request.app.state.runtime
        query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        if not include_redriven:
            query = query.where(dead_letters.c.redriven_at.is_(None))
        async with runtime.sessionmaker() as session:
            rows = (await session.execute(query)).mappings().all()
        items = [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items() if k not in ("key", "value", "headers")}
            for row in rows
        ]
        return {"items": items}

    @router.post("/v1/admin/dead-letters/{dead_letter_id}:redrive", tags=["ops"], summary="Re-run a dead letter")
    async def redrive(
        request: Request, dead_letter_id: Annotated[int, PathParam(ge=1, le=MAX_BIGINT)], admin: AdminPrincipal
    ) -> dict[str, Any]:
        runtime: ServiceRuntime = request.app.state.runtime
        async with runtime.sessionmaker() as session:
            consumer_name = (
                await session.execute(select(dead_letters.c.consumer).where(dead_letters.c.id == dead_letter_id))
            ).scalar_one_or_none()
        consumer = next((c for c in runtime.consumers if c.name == consumer_name), None)
        if consumer is None:
            raise NotFound(f"no dead letter {dead_letter_id} for a consumer of this service", field="path.dead_letter_id")
        try:
            result = await consumer.redrive(dead_letter_id)
        except EventRejected as exc:  # a forged or unsigned record stays a dead letter
            raise Conflict(f"dead letter {dead_letter_id} fails provenance: {exc}", field="path.dead_letter_id") from exc
        async with runtime.unit_of_work() as session:
            await record_audit(session, principal=admin, action="dead_letter.redrive", target_type="dead_letter",
                               target_id=str(dead_letter_id), detail={"result": result}, request=request)
        return {"id": dead_letter_id, "result": result}

    @router.post("/v1/admin/outbox:replay", tags=["ops"], summary="Re-publish events from the outbox (after a broker loss)")
    async def outbox_replay(
        request: Request, admin: AdminPrincipal, since: datetime, until: datetime | None = None, topic: str | None = None
    ) -> dict[str, Any]:
        runtime: ServiceRuntime = request.app.state.runtime
        count = await replay(runtime.engine, since=since, until=until, topic=topic)
        async with runtime.unit_of_work() as session:
            await record_audit(session, principal=admin, action="outbox.replay", target_type="outbox",
                               detail={"since": since.isoformat(), "until": until.isoformat() if until else None,
                                       "topic": topic, "rows": count}, request=request)
        return {"requeued": count}

    return router


async def _count_dead_letters(runtime: ServiceRuntime) -> None:
    async with runtime.sessionmaker() as session:
        count = (await session.execute(
            select(func.count()).select_from(dead_letters).where(dead_letters.c.redriven_at.is_(None)))).scalar_one()
    metrics.DEAD_LETTERS_OPEN.labels(runtime.settings.service_name).set(count)


_refresh_dead_letter_gauge = every(lambda _runtime: 15.0, _count_dead_letters, name="dead_letter_gauge")


def create_service_app(spec: ServiceSpec) -> FastAPI:
    settings = spec.settings
    configure_logging(service=settings.service_name, level=settings.log_level, json=settings.log_json)
    faults.configure(settings.fault_inject)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        runtime = ServiceRuntime(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            outbox=Outbox(source=f"/jointcredit/{settings.service_name}", topic_prefix=settings.topic_prefix),
            tokens=TokenStore(sessionmaker),
            cipher=PiiCipher.from_settings(settings.pii_keys, settings.pii_active_key),
            hasher=PiiHasher.from_settings(settings.pii_hash_key),
        )
        runtime.calendar = CalendarSource(sessionmaker, spec.calendar_overrides)
        app.state.runtime = runtime
        await _wait_for_database(engine)
        await migrate(engine, spec.migrations)
        await _import_credentials(runtime)
        runtime.producer = await _start_producer(settings)
        consumed = [runtime.topic(t) for c in spec.consumers for t in c.topics]
        await ensure_topics(settings.kafka_bootstrap_servers, [runtime.topic(t) for t in spec.topics] + consumed + [runtime.topic("dlq")])
        for hook in spec.on_startup:
            await hook(runtime)
        if settings.run_relay:
            runtime.relay = OutboxRelay(engine=engine, producer=runtime.producer, settings=settings)
            runtime.tasks.append(asyncio.create_task(runtime.relay.run(runtime.stop), name="outbox-relay"))
        if settings.run_consumers:
            for cspec in spec.consumers:
                consumer = EventConsumer(
                    name=cspec.name,
                    topics=[runtime.topic(t) for t in cspec.topics],
                    handlers=cspec.handlers(runtime),
                    sessionmaker=sessionmaker,
                    outbox=runtime.outbox,
                    settings=settings,
                )
                runtime.consumers.append(consumer)
                runtime.tasks.append(asyncio.create_task(_supervise(consumer.run, runtime.stop, cspec.name), name=cspec.name))
        for task_factory in (*spec.background, _refresh_dead_letter_gauge):
            runtime.tasks.append(asyncio.create_task(_supervise(functools.partial(task_factory, runtime), runtime.stop, task_factory.__name__)))
        coverage = refresh_coverage_metrics(settings.service_name, runtime.calendar.national())
        if coverage["status"] != "ok":
            log.warning("calendar_coverage", **coverage)
        log.info("service_started", environment=settings.environment)
        try:
            yield
        finally:
            runtime.stop.set()
            _, pending = await asyncio.wait(runtime.tasks, timeout=10) if runtime.tasks else (set(), set())
            for task in pending:
                task.cancel()
            if runtime.producer is not None:
                await runtime.producer.stop()
            await engine.dispose()
            log.info("service_stopped")

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=lifespan,
        openapi_tags=spec.openapi_tags,
    )
    app.state.settings = settings
    app.state.spec = spec  # what the service consumes and produces, for contract tests and tooling
    install_problem_handlers(app)
    app.add_middleware(PlatformMiddleware, settings=settings, body_limits=spec.body_limits)
    if settings.rate_limit_per_second > 0 or settings.anonymous_rate_limit_per_second > 0:
        # outermost (added last): a refused request costs no body read, trace or route lookup
        app.add_middleware(RateLimitMiddleware, settings=settings)
    app.include_router(_platform_router())
    for router in spec.routers:
        app.include_router(router)
    install_problem_openapi(app)
    return app


async def _supervise(run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event, name: str) -> None:
    """Keep a background loop alive: log and restart it after an unexpected error."""
    while not stop.is_set():
        try:
            await run(stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background_task_failed", task=name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
