"""make bench: the whole pipeline under load on the embedded stack, next to the ceilings of its parts.

    python -m bench.run [--duration 30] [--concurrency 32] [--out docs/benchmarks.md]

Phases (each a fresh measurement in this one run, on this machine):
  ceilings  bare FastAPI POST of 1 KB; bare PostgreSQL single-row insert transactions and COPY;
            bare broker produce (acks=all) and consume
  ingest    single-item POST /v1/reports, as fast as it goes (closed loop)
  pipeline  POST → measure.issued on the agency topics: end-to-end latency at 50 % of the measured maximum
  batch     POST /v1/reports:batch (500 items) if the endpoint exists
Meanwhile every service's /metrics (outbox backlog, consumer lag) and peak RSS are sampled once a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from jointcredit_common.devstack import (
    SERVICES,
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    create_databases,
    database_url,
    free_port,
)
from jointcredit_common.devstack.credentials import ensure_dev_credentials
from jointcredit_common.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]


def loadgen(url: str, token: str, out: Path, **opts: object) -> dict:
    args = [sys.executable, "-m", "bench.loadgen", "--url", url, "--token", token, "--out", str(out)]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(args, check=True, cwd=ROOT)
    return json.loads(out.read_text())


class Sampler:
    """Samples /metrics gauges and RSS of the service processes once a second."""

    def __init__(self, procs: dict[str, ServiceProcess]) -> None:
        self.procs = procs
        self.samples: list[dict] = []
        self.peak_rss: dict[str, int] = {name: 0 for name in procs}
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while not self._stop.is_set():
                sample: dict = {"t": time.time()}
                for name, proc in self.procs.items():
                    try:
                        rss = psutil.Process(proc.proc.pid).memory_info().rss
                        self.peak_rss[name] = max(self.peak_rss[name], rss)
                        text = (await client.get(f"{proc.url}/metrics")).text
                    except Exception:  # noqa: BLE001
                        continue
                    sample[f"{name}.backlog"] = _gauge_sum(text, "jc_outbox_backlog")
                    sample[f"{name}.lag"] = _gauge_sum(text, "jc_consumer_lag")
                self.samples.append(sample)
                try:
                    await asyncio.wait_for(self._stop.wait(), 1.0)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stop.set()


def _gauge_sum(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


class MeasureWatcher:
    """Reads every agency topic and notes when each subject's first measure.issued arrives."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap, self.topics = bootstrap, topics
        self.first_issued: dict[str, float] = {}
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                    auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=4000,
                                    heartbeat_interval_ms=800)
        await consumer.start()
        self.ready.set()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        headers = dict(record.headers)
                        if headers.get("ce_type", b"").endswith(b"measure.issued.v1"):
                            self.first_issued.setdefault(record.key.decode(), now)
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


async def ceiling_postgres(admin_url: str, seconds: float = 5.0, concurrency: int = 16) -> dict:
    create_databases(admin_url, ["bench_ceiling"])
    dsn = admin_url.rsplit("/", 1)[0] + "/bench_ceiling"
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    await pool.execute("DROP TABLE IF EXISTS t; CREATE TABLE t (id uuid primary key, body jsonb)")
    payload = json.dumps({"x": "y" * 900})
    count = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        while time.monotonic() < deadline:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO t VALUES ($1, $2)", uuid.uuid4(), payload)
            count += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    tx_per_s = count / (time.monotonic() - started)
    rows = [(uuid.uuid4(), payload) for _ in range(200_000)]
    started = time.monotonic()
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("t", records=rows)
    copy_per_s = len(rows) / (time.monotonic() - started)
    await pool.close()
    return {"insert_tx_per_s": tx_per_s, "copy_rows_per_s": copy_per_s}


async def ceiling_broker(bootstrap: str, messages: int = 100_000) -> dict:
    topic = f"bench.ceiling.{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=256 * 1024)
    await producer.start()
    value = b"x" * 600
    started = time.monotonic()
    futures = [await producer.send(topic, value, key=str(i % 1000).encode()) for i in range(messages)]
    await asyncio.gather(*futures)
    produce_per_s = messages / (time.monotonic() - started)
    await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    seen = 0
    started = time.monotonic()
    while seen < messages and time.monotonic() - started < 60:
        for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
            seen += len(records)
    consume_per_s = seen / (time.monotonic() - started)
    await consumer.stop()
    return {"produce_msg_per_s": produce_per_s, "consume_msg_per_s": consume_per_s}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


async def main_async(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="jc-bench-"))
    os.chmod(work, 0o755)
    postgres = EmbeddedPostgres(work / "postgres", free_port()).start()
    kafka = EmbeddedKafka(free_port(), log_path=work / "broker.log").start()
    results: dict = {"machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
                     "command": " ".join(["python -m bench.run", *sys.argv[1:]]), "duration_s": args.duration,
                     "concurrency": args.concurrency}
    procs: dict[str, ServiceProcess] = {}
    try:
        # --- ceilings ---------------------------------------------------------------------------------
        bare_port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--port", str(bare_port),
                                 "--no-access-log", "--workers", "2", "--log-level", "warning"], cwd=ROOT)
        try:
            _wait_http(f"http://127.0.0.1:{bare_port}/docs")
            results["ceiling_fastapi"] = loadgen(f"http://127.0.0.1:{bare_port}", "", work / "bare.json", mode="bare",
                                                 duration=min(args.duration, 10), concurrency=args.concurrency)
        finally:
            bare.terminate()
            bare.wait()
        results["ceiling_postgres"] = await ceiling_postgres(postgres.admin_url)
        results["ceiling_broker"] = await ceiling_broker(kafka.bootstrap)

        # --- the system -------------------------------------------------------------------------------
        create_databases(postgres.admin_url, list(SERVICES))
        creds_path = work / "credentials.json"
        agencies = [a.code for a in load_catalog().agencies]
        creds = ensure_dev_credentials(creds_path, agencies)
        token = next(c["token"] for c in creds if c["principal"] == "intermediate_court")
        shared = {"JC_ENVIRONMENT": "development", "JC_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                  "JC_BOOTSTRAP_CREDENTIALS_FILE": str(creds_path), "JC_LOG_LEVEL": "WARNING",
                  "JC_CONSUMER_SESSION_TIMEOUT_MS": "4000", "JC_CONSUMER_HEARTBEAT_INTERVAL_MS": "800"}
        for name in SERVICES:
            env = {**shared, f"{name.upper()}_DATABASE_URL": database_url(postgres.admin_url, name)}
            procs[name] = ServiceProcess(name, free_port(), env, log_path=work / f"{name}.log").start()
        for proc in procs.values():
            proc.wait_ready(120)

        watcher = MeasureWatcher(kafka.bootstrap, [f"jointcredit.measures.{code}" for code in agencies])
        sampler = Sampler(procs)
        tasks = [asyncio.create_task(watcher.run()), asyncio.create_task(sampler.run())]
        await asyncio.wait_for(watcher.ready.wait(), 60)
        await asyncio.sleep(3)
        ingest_url = procs["ingest"].url

        max_run = await asyncio.to_thread(loadgen, ingest_url, token, work / "max.json", mode="single",
                                          duration=args.duration, concurrency=args.concurrency, start=1)
        results["ingest_max"] = _without_sent(max_run)
        await _drain(sampler, 120)
        half_rate = max(1.0, max_run["items_per_s"] * 0.5)
        half = await asyncio.to_thread(loadgen, ingest_url, token, work / "half.json", mode="single", duration=args.duration,
                                       concurrency=args.concurrency, rate=half_rate, start=10_000_000)
        results["pipeline_half_load"] = _without_sent(half) | {"target_rate": half_rate}
        await _drain(sampler, 120)
        latencies = [watcher.first_issued[key] - posted for key, posted in half["sent"] if key in watcher.first_issued]
        results["e2e_latency_half_load"] = {"samples": len(latencies), "p50_s": percentile(latencies, 0.5),
                                            "p95_s": percentile(latencies, 0.95), "p99_s": percentile(latencies, 0.99)}
        max_latencies = [watcher.first_issued[key] - posted for key, posted in max_run["sent"] if key in watcher.first_issued]
        results["e2e_latency_max_load"] = {"samples": len(max_latencies), "p50_s": percentile(max_latencies, 0.5),
                                           "p95_s": percentile(max_latencies, 0.95), "p99_s": percentile(max_latencies, 0.99)}
        probe = httpx.post(f"{ingest_url}/v1/reports:batch", json=[], headers={"Authorization": f"Bearer {token}"})
        if probe.status_code not in (404, 405):
            batch = await asyncio.to_thread(loadgen, ingest_url, token, work / "batch.json", mode="batch",
                                            duration=args.duration, concurrency=4, batch_size=500, start=20_000_000)
            results["ingest_batch"] = _without_sent(batch)
            await _drain(sampler, 300)
        else:
            results["ingest_batch"] = {"skipped": f"POST /v1/reports:batch answered {probe.status_code}"}
        sampler.stop()
        watcher.stop()
        await asyncio.gather(*tasks)
        results["peak_rss_mib"] = {k: round(v / 2**20) for k, v in sampler.peak_rss.items()}
        results["max_backlog"] = {k: max((s.get(k, 0) for s in sampler.samples), default=0)
                                  for k in sorted({k for s in sampler.samples for k in s if k != "t"})}
        results["samples"] = sampler.samples
    finally:
        for proc in procs.values():
            proc.stop()
        kafka.stop()
        postgres.stop()
    return results


def _without_sent(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "sent"}


async def _drain(sampler: Sampler, timeout: float) -> None:
    """Wait until outbox backlogs and consumer lag are back to zero (the pipeline caught up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        if sampler.samples and all(v == 0 for k, v in sampler.samples[-1].items() if k != "t"):
            return


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-results.json")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    summary = {k: v for k, v in results.items() if k != "samples"}
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
