"""The system on its own embedded PostgreSQL and broker, with the faults the suite injects into it.

Every fault is a whole process or a whole server: ``kill -9`` of a service, a PostgreSQL restart (fast shutdown,
same data directory and port), a broker restart (tansu keeps topics and offsets in memory: all lost), and a
consumer frozen with SIGSTOP past its session timeout. Blocking steps run in a thread so the load keeps going.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from jointcredit_common.catalog import load_catalog
from jointcredit_common.db import asyncpg_dsn
from jointcredit_common.devstack import (
    SERVICES,
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    database_url,
    free_port,
    stack_env,
    start_services,
)
from jointcredit_common.devstack.credentials import ensure_dev_credentials
from jointcredit_common.app import DEFAULT_PARTITIONS, ensure_topics
from jointcredit_common.testing.plugin import token_of

SESSION_TIMEOUT_MS = 4000
TOPIC_PARTITIONS = DEFAULT_PARTITIONS  # as the services create them at start-up, and the broker restart below
ROOT = Path(__file__).resolve().parents[2]
# What aiokafka logs when a member comes back to a group that went on without it (the coordinator refuses its
# member id or its generation); which one depends on what the thawed member does first — heartbeat, offset
# commit or rejoin — i.e. on timing.
FENCED = ("local member_id was not recognized", "generation id is not", "failed due to unknown member id",
          "group has already rebalanced")


def deployed_topics() -> list[str]:
    """The topics production creates (deploy/topics.yaml, prefix ``jointcredit`` as in this stack)."""
    return [topic["name"] for topic in yaml.safe_load((ROOT / "deploy" / "topics.yaml").read_text())["topics"]]


@dataclass
class Injection:
    """One fault as it happened: when it began and ended (seconds on the scenario's clock: injected … every service
    answering ``/readyz`` again), how long the thing was down, and what the recovery did (e.g. rows re-queued)."""

    fault: str
    at_s: float
    down_s: float
    until_s: float | None = None
    recovered_s: float | None = None  # from the restart to ready again
    detail: dict[str, Any] = field(default_factory=dict)

    def overlaps(self, start_s: float, end_s: float, grace_s: float = 0.5) -> bool:
        return self.until_s is not None and start_s <= self.until_s + grace_s and end_s >= self.at_s - grace_s


@dataclass
class FaultStack:
    work: Path
    postgres: EmbeddedPostgres
    kafka: EmbeddedKafka
    procs: dict[str, ServiceProcess]  # the four services, and a second rating replica ("rating-2")
    credentials: list[dict[str, Any]]
    started: float = field(default_factory=time.monotonic)
    injections: list[Injection] = field(default_factory=list)

    @classmethod
    def start(cls, work: Path) -> "FaultStack":
        os.chmod(work, 0o755)
        # fsync stays on (fast=False): a 202 is a commit that must survive the PostgreSQL restart.
        postgres = EmbeddedPostgres(work / "postgres", free_port()).start()
        kafka = EmbeddedKafka(free_port(), log_path=work / "broker.log").start()
        try:
            credentials_path = work / "credentials.json"
            credentials = ensure_dev_credentials(credentials_path, [a.code for a in load_catalog().agencies])
            env = stack_env(kafka.bootstrap, credentials_path, JC_ENVIRONMENT="test", JC_OUTBOX_POLL_SECONDS="0.5",
                            JC_CONSUMER_SESSION_TIMEOUT_MS=str(SESSION_TIMEOUT_MS))
            procs = start_services(postgres.admin_url, env, ports={name: free_port() for name in SERVICES}, log_dir=work)
            # A second rating replica in the same consumer group: a frozen member's partitions have somewhere to go
            # (tansu expires a silent member's session only when the group has another member to rebalance to).
            procs["rating-2"] = ServiceProcess("rating", free_port(), procs["rating"].env, log_path=work / "rating-2.log").start()
            procs["rating-2"].wait_ready(120)
        except BaseException:
            kafka.stop()
            postgres.stop()
            raise
        return cls(work, postgres, kafka, procs, credentials)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.proc and proc.proc.poll() is None:
                os.kill(proc.proc.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
            proc.stop()
        self.kafka.stop()
        self.postgres.stop()

    # --- reading it ---------------------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return self.procs[name].url

    def token(self, role: str, principal: str | None = None) -> str:
        return token_of(self.credentials, role, principal)

    def dsn(self, name: str) -> str:
        return asyncpg_dsn(database_url(self.postgres.admin_url, name))

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def diagnosis(self, tail: int = 30) -> str:
        """For a failure message: every process's readiness (consumers running?), the end of its log, and what the
        database sessions are doing (a transaction stuck on a lock shows here)."""
        conn = await asyncpg.connect(self.postgres.admin_url)
        try:
            sessions = await conn.fetch(
                "SELECT datname, application_name, state, wait_event_type, wait_event, now() - xact_start AS xact_age, "
                "left(query, 120) AS query FROM pg_stat_activity WHERE datname IS NOT NULL AND state <> 'idle' "
                "AND pid <> pg_backend_pid() ORDER BY xact_start")
        finally:
            await conn.close()
        parts = ["--- database sessions not idle:", *(str(dict(r)) for r in sessions)]
        for name, proc in self.procs.items():
            try:
                ready = httpx.get(f"{proc.url}/readyz", timeout=3).text
            except httpx.HTTPError as exc:
                ready = repr(exc)
            log = proc.log_path.read_text(errors="replace").splitlines()[-tail:] if proc.log_path and proc.log_path.exists() else []
            parts.append(f"--- {name} (pid {proc.proc.pid}): {ready}\n" + "\n".join(log))
        return "\n".join(parts)

    # --- faults -------------------------------------------------------------------------------------------

    async def kill_service(self, name: str, down_s: float) -> Injection:
        """``kill -9``: no shutdown hook runs, in-flight requests and transactions die with the process."""
        injection = self._begin(f"kill -9 {name}", down_s)
        await asyncio.to_thread(self.procs[name].kill)
        await asyncio.sleep(down_s)
        self.procs[name].start()
        return await self._recovered(injection, started=time.monotonic())

    async def restart_postgres(self, down_s: float) -> Injection:
        """Fast shutdown (every session terminated), ``down_s`` with nothing listening, start on the same data/port."""
        injection = self._begin("restart PostgreSQL", down_s)
        await asyncio.to_thread(self.postgres.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.postgres.start)
        return await self._recovered(injection, started=time.monotonic())

    async def restart_broker(self, down_s: float, *, replay_margin_s: float) -> Injection:
        """tansu keeps everything in memory: a restart loses every topic and committed offset. The operator's
        procedure, as in production: the broker comes back, the topic job creates the topics of deploy/topics.yaml,
        then every service's outbox retention is re-published from ``replay_margin_s`` before the loss (DESIGN §3).

        Production brokers never auto-create topics (deploy/compose.yaml), and tansu 0.6.0 mis-numbers the offsets
        of a topic auto-created by a client's metadata request right after a restart: an acknowledged record can
        share its offset with another one and is then skipped by every reader (measured here: 1–2 measure events of
        ~8,600). So the services are frozen (SIGSTOP, about a second) from the broker's start until its topics exist,
        which is what "no auto-creation" means for them: they find the topics there when they reconnect."""
        injection = self._begin("restart broker + outbox replay", down_s)
        lost_at = datetime.now(UTC)
        await asyncio.to_thread(self.kafka.stop)
        await asyncio.sleep(down_s)
        self._signal_services(signal.SIGSTOP)
        try:
            await asyncio.to_thread(self.kafka.start)
            await ensure_topics(self.kafka.bootstrap, deployed_topics(), partitions=TOPIC_PARTITIONS)
        finally:
            self._signal_services(signal.SIGCONT)
        await self._recovered(injection, started=time.monotonic())
        since = datetime.fromtimestamp(lost_at.timestamp() - replay_margin_s, UTC)
        headers = {"Authorization": f"Bearer {self.token('admin')}"}
        requeued: dict[str, int] = {}
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            for name in SERVICES:
                response = await client.post(f"{self.url(name)}/v1/admin/outbox:replay", params={"since": since.isoformat()})
                assert response.status_code == 200, f"{name} replay: {response.status_code} {response.text}"
                requeued[name] = response.json()["requeued"]
        injection.detail = {"replay_since": since.isoformat(), "requeued": requeued}
        return injection

    async def pause_service(self, name: str, paused_s: float, *, consumer: str, topic: str) -> Injection:
        """SIGSTOP past the consumer session timeout: the coordinator expires the silent member's session and the
        group rebalances its partitions to the other replica; after SIGCONT the member finds itself fenced (its
        heartbeat and its late commit are refused), rejoins, and gets partitions back — redelivering what it had
        not committed, which the inbox absorbs.

        Evidence, in ``detail``: ``partitions_consumed_while_frozen`` — the partitions of ``topic`` the group
        processed (``consumer``'s inbox) while the member was frozen, after its session expired: every partition
        means the frozen member's share was handed over, i.e. it was evicted (the takeover may also complete only
        after the pause); ``fenced`` — the thawed member was told that the group had gone on without it."""
        assert paused_s * 1000 > SESSION_TIMEOUT_MS + 4000, "the pause must outlast the session and a rejoin"
        injection = self._begin(f"SIGSTOP {name} {paused_s:.0f}s (session timeout {SESSION_TIMEOUT_MS / 1000:.0f}s)", paused_s)
        proc = self.procs[name]
        fenced_before = self._fenced_count(proc)
        frozen_at = datetime.now(UTC)
        os.kill(proc.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(paused_s)
        finally:
            thawed_at = datetime.now(UTC)
            os.kill(proc.proc.pid, signal.SIGCONT)
        await self._recovered(injection, started=time.monotonic())
        deadline = time.monotonic() + 10
        while self._fenced_count(proc) == fenced_before and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        conn = await asyncpg.connect(self.dsn(name))
        try:
            partitions = await conn.fetch(
                "SELECT DISTINCT partition FROM inbox WHERE consumer = $1 AND topic = $2 AND processed_at BETWEEN $3 AND $4 "
                "ORDER BY partition", consumer, topic, frozen_at + timedelta(milliseconds=SESSION_TIMEOUT_MS), thawed_at)
        finally:
            await conn.close()
        injection.detail = {"fenced": self._fenced_count(proc) > fenced_before,
                            "partitions_consumed_while_frozen": [r["partition"] for r in partitions]}
        return injection

    @staticmethod
    def _fenced_count(proc: ServiceProcess) -> int:
        """How often this process's consumer heard that the group no longer knew it (aiokafka's warning)."""
        if not (proc.log_path and proc.log_path.exists()):
            return 0
        log = proc.log_path.read_text(errors="replace")
        return sum(log.count(line) for line in FENCED)

    def _signal_services(self, sig: int) -> None:
        for proc in self.procs.values():
            os.kill(proc.proc.pid, sig)

    def _begin(self, fault: str, down_s: float) -> Injection:
        injection = Injection(fault, round(self.elapsed(), 2), down_s)
        self.injections.append(injection)
        return injection

    async def _recovered(self, injection: Injection, *, started: float, timeout: float = 120.0) -> Injection:
        """Until every service is ready again (database and broker reachable, consumers running)."""
        for proc in self.procs.values():
            await asyncio.to_thread(proc.wait_ready, timeout)
        injection.recovered_s = round(time.monotonic() - started, 1)
        injection.until_s = round(self.elapsed(), 2)
        return injection
