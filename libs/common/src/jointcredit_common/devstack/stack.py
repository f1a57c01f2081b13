"""The four services on one machine: their modules and dev ports, each as a real uvicorn process, their shared
and own environment, and starting them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jointcredit_common.devstack.postgres import create_databases, database_url
from jointcredit_common.devstack.processes import _preexec

SERVICES: dict[str, tuple[str, int]] = {
    "ingest": ("ingest_service.main:create_app", 8001),
    "rating": ("rating_service.main:create_app", 8002),
    "sanctions": ("sanctions_service.main:create_app", 8003),
    "repair": ("repair_service.main:create_app", 8004),
}


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
