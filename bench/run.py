"""make bench: the whole pipeline under load on the embedded stack, next to the ceilings of its parts.

    python -m bench.run [--duration 30] [--concurrency 32] [--profile] [--doc docs/benchmarks.md]

Every phase is measured in this one run, on this machine, with every process on it:
  ceilings  bare FastAPI POST of 1 KB (2 workers); PostgreSQL single-row insert transactions and COPY; broker
            produce (acks=all) and consume; our outbox relay alone; the one-hop toy (POST → row + outbox row in
            one transaction → relay → broker, bench/toy_app.py)
  ingest    ingest alone (no consumers running), single-item POST /v1/reports, closed loop
  pipeline  all four services, closed loop: accepted reports/s and the rate the pipeline classifies them at
  half      50 % of the pipeline's sustained rate, open loop: POST → measure.issued latency on the agency topics
  batch     POST /v1/reports:batch (500 items), closed loop, and the rate the pipeline classifies them at
Throughout, every service's /metrics (outbox backlog, consumer lag) and RSS are sampled once a second, and the CPU
time each process spent per report is taken from /proc. ``--profile`` adds py-spy flame graphs of each service
during the pipeline phase (var/profiles/). The load generator is a separate process (bench/loadgen.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
from typing import ClassVar

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from jointcredit_common.catalog import load_catalog
from jointcredit_common.devstack import (
    SERVICES,
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    create_databases,
    database_url,
    free_port,
    stack_env,
    start_services,
)
from jointcredit_common.devstack.credentials import ensure_dev_credentials

ROOT = Path(__file__).resolve().parents[1]
DOC_BEGIN, DOC_END = "<!-- make bench: begin -->", "<!-- make bench: end -->"


def loadgen(url: str, token: str, out: Path, **opts: object) -> dict:
    args = [sys.executable, "-m", "bench.loadgen", "--url", url, "--token", token, "--out", str(out)]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(args, check=True, cwd=ROOT)
    return json.loads(out.read_text())


def percentile(values: list[float], p: float) -> float | None:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


# --- watching the system ------------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds (user + system) spent by named process groups between two readings."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def read(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                try:
                    proc = psutil.Process(pid)
                    procs = [proc, *proc.children(recursive=True)] if name == "postgres" else [proc]
                    for p in procs:
                        times = p.cpu_times()
                        total += times.user + times.system
                except psutil.Error:
                    continue
            totals[name] = total
        return totals

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after.get(k, 0.0) - v for k, v in before.items()}


class Sampler:
    """Samples /metrics gauges and RSS of the service processes once a second."""

    def __init__(self) -> None:
        self.procs: dict[str, ServiceProcess] = {}
        self.samples: list[dict] = []
        self.peak_rss: dict[str, int] = {}
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while not self._stop.is_set():
                sample: dict = {"t": time.time()}
                for name, proc in list(self.procs.items()):
                    try:
                        rss = psutil.Process(proc.proc.pid).memory_info().rss
                        self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
                        text = (await client.get(f"{proc.url}/metrics")).text
                    except Exception:  # noqa: BLE001 - a sample missed is a sample missed
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

    async def wait_idle(self, timeout: float, quiet_samples: int = 2) -> float:
        """Until every outbox backlog and consumer lag read 0 in ``quiet_samples`` samples in a row (the whole
        pipeline has caught up, measures included), or ``timeout``; returns when it was last busy."""
        deadline, seen = time.monotonic() + timeout, len(self.samples)
        while time.monotonic() < deadline:
            recent = self.samples[seen:][-quiet_samples:]
            if len(recent) == quiet_samples and all(v == 0 for s in recent for k, v in s.items() if k != "t"):
                busy = [s["t"] for s in self.samples[seen:] if any(v for k, v in s.items() if k != "t")]
                return max(busy) if busy else recent[0]["t"]
            await asyncio.sleep(0.5)
        return float("nan")

    def max_between(self, start: float, end: float) -> dict[str, float]:
        window = [s for s in self.samples if start <= s["t"] <= end]
        keys = sorted({k for s in window for k in s if k != "t"})
        return {k: max(s.get(k, 0) for s in window) for k in keys}


def _gauge_sum(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


class TopicWatcher:
    """Reads topics from the start and notes, per subject key, when the first event of interest arrived."""

    def __init__(self, bootstrap: str, topics: list[str], type_suffix: bytes) -> None:
        self.bootstrap, self.topics, self.type_suffix = bootstrap, topics, type_suffix
        self.first: dict[str, float] = {}
        self._stop = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap, group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                    auto_offset_reset="earliest", enable_auto_commit=False, session_timeout_ms=4000,
                                    heartbeat_interval_ms=800, metadata_max_age_ms=2000, fetch_max_wait_ms=20)
        await consumer.start()
        self.ready.set()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                now = time.time()
                for records in batches.values():
                    for record in records:
                        if dict(record.headers).get("ce_type", b"").endswith(self.type_suffix) and record.key:
                            self.first.setdefault(record.key.decode(), now)
        finally:
            await consumer.stop()

    def stop(self) -> None:
        self._stop.set()

    async def wait_for(self, keys: list[str], timeout: float) -> float:
        """Until every key was seen (or ``timeout``); returns the time the last one arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(k not in self.first for k in keys):
            await asyncio.sleep(0.5)
        seen = [self.first[k] for k in keys if k in self.first]
        return max(seen) if seen else float("nan")


# --- ceilings -----------------------------------------------------------------------------------------------------


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


async def ceiling_relay(admin_url: str, bootstrap: str, rows: int = 50_000) -> dict:
    """Our OutboxRelay alone: ``rows`` committed outbox rows, published and marked as fast as it goes."""
    from jointcredit_common.db import create_engine
    from jointcredit_common.events.relay import OutboxRelay
    from jointcredit_common.settings import ServiceSettings
    from jointcredit_common.tables import outbox, platform_metadata

    class RelayBench(ServiceSettings):
        service_name: ClassVar[str] = "bench"

    create_databases(admin_url, ["bench_relay"])
    settings = RelayBench(database_url=database_url(admin_url, "bench_relay"), kafka_bootstrap_servers=bootstrap)
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: platform_metadata.create_all(sync, tables=[outbox]))
    now = datetime.now(UTC)
    conn = await asyncpg.connect(admin_url.rsplit("/", 1)[0] + "/bench_relay")
    data = json.dumps({"report_id": "x" * 36, "description": "疫情防控" * 50})
    await conn.copy_records_to_table(
        "outbox", columns=["id", "topic", "key", "type", "source", "subject", "time", "data"],
        records=[(uuid.uuid4(), "bench.relay", f"k{i % 1000}", "cn.dalian.jointcredit.bench.v1", "/bench", f"k{i % 1000}",
                  now, data) for i in range(rows)],
    )
    await conn.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=256 * 1024)
    await producer.start()
    relay = OutboxRelay(engine=engine, producer=producer, settings=settings)
    started = time.monotonic()
    published = 0
    while batch := await relay.publish_batch():
        published += batch
    elapsed = time.monotonic() - started
    await producer.stop()
    await engine.dispose()
    return {"relay_msg_per_s": published / elapsed, "rows": published}


# --- the run ------------------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def _summary(run: dict) -> dict:
    return {k: v for k, v in run.items() if k != "sent"}


def _cpu_per_item(delta: dict[str, float], items: int) -> dict[str, float]:
    return {k: round(1000 * v / items, 3) for k, v in delta.items()} if items else {}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="jc-bench-"))
        os.chmod(self.work, 0o755)
        self.results: dict = {"machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
                              "duration_s": args.duration, "concurrency": args.concurrency,
                              "load_average_at_start": os.getloadavg()}

    async def run(self) -> dict:
        postgres = EmbeddedPostgres(self.work / "postgres", free_port()).start()  # fsync on, as in make run
        kafka = EmbeddedKafka(free_port(), log_path=self.work / "broker.log").start()
        procs: dict[str, ServiceProcess] = {}
        try:
            await self.ceilings(postgres, kafka)
            await self.system(postgres, kafka, procs)
        finally:
            for proc in procs.values():
                proc.stop()
            kafka.stop()
            postgres.stop()
        return self.results

    async def ceilings(self, postgres: EmbeddedPostgres, kafka: EmbeddedKafka) -> None:
        args, r = self.args, self.results
        short = min(args.duration, 10)
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--port", str(port),
                                 "--no-access-log", "--workers", "2", "--log-level", "warning"], cwd=ROOT)
        try:
            _wait_http(f"http://127.0.0.1:{port}/docs")
            r["ceiling_fastapi"] = _summary(loadgen(f"http://127.0.0.1:{port}", "", self.work / "bare.json", mode="bare",
                                                    duration=short, concurrency=args.concurrency))
        finally:
            bare.terminate()
            bare.wait()
        r["ceiling_postgres"] = await ceiling_postgres(postgres.admin_url)
        r["ceiling_broker"] = await ceiling_broker(kafka.bootstrap)
        r["ceiling_relay"] = await ceiling_relay(postgres.admin_url, kafka.bootstrap)
        create_databases(postgres.admin_url, ["bench_toy"])
        port = free_port()
        env = {**os.environ, "TOY_DATABASE_URL": postgres.admin_url.rsplit("/", 1)[0] + "/bench_toy",
               "TOY_KAFKA_BOOTSTRAP": kafka.bootstrap}
        toy = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.toy_app:app", "--port", str(port),
                                "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
        try:
            _wait_http(f"http://127.0.0.1:{port}/readyz")
            cpu = CpuMeter({"toy": [toy.pid], "postgres": [postgres.proc.pid], "broker": [kafka.proc.pid]})
            before = cpu.read()
            run = loadgen(f"http://127.0.0.1:{port}", "", self.work / "toy.json", mode="single", duration=args.duration,
                          concurrency=args.concurrency, start=90_000_000)
            r["ceiling_one_hop_toy"] = _summary(run) | {
                "cpu_ms_per_item": _cpu_per_item(CpuMeter.delta(before, cpu.read()), run["accepted_items"])}
        finally:
            toy.terminate()
            toy.wait()

    async def system(self, postgres: EmbeddedPostgres, kafka: EmbeddedKafka, procs: dict[str, ServiceProcess]) -> None:
        args, r = self.args, self.results
        agencies = [a.code for a in load_catalog().agencies]
        creds = ensure_dev_credentials(self.work / "credentials.json", agencies)
        token = next(c["token"] for c in creds if c["principal"] == "intermediate_court")
        # The benchmark is one department posting as fast as it can: per-client rate limits off (docs/limits.md).
        env = stack_env(kafka.bootstrap, self.work / "credentials.json", JC_LOG_LEVEL="WARNING", JC_RATE_LIMIT_PER_SECOND="0")
        ports = {name: free_port() for name in SERVICES}
        sampler = Sampler()
        classified = TopicWatcher(kafka.bootstrap, ["jointcredit.ratings"], b"report.classified.v1")
        issued = TopicWatcher(kafka.bootstrap, [f"jointcredit.measures.{code}" for code in agencies], b"measure.issued.v1")
        tasks = [asyncio.create_task(sampler.run())]
        try:
            # Ingest alone: nothing downstream, so it is compared with the toy like for like.
            procs.update(start_services(postgres.admin_url, env, names=["ingest"], ports=ports, log_dir=self.work))
            sampler.procs = procs
            url = procs["ingest"].url
            cpu = CpuMeter({"ingest": [procs["ingest"].proc.pid], "postgres": [postgres.proc.pid],
                            "broker": [kafka.proc.pid]})
            before = cpu.read()
            alone = await asyncio.to_thread(loadgen, url, token, self.work / "alone.json", mode="single",
                                            duration=args.duration, concurrency=args.concurrency, start=1)
            r["ingest_alone"] = _summary(alone) | {
                "cpu_ms_per_item": _cpu_per_item(CpuMeter.delta(before, cpu.read()), alone["accepted_items"])}

            procs.update(start_services(postgres.admin_url, env, names=["rating", "sanctions", "repair"], ports=ports,
                                        log_dir=self.work))
            tasks += [asyncio.create_task(classified.run()), asyncio.create_task(issued.run())]  # their topics exist now
            await asyncio.wait_for(asyncio.gather(classified.ready.wait(), issued.ready.wait()), 60)
            await classified.wait_for([key for key, _ in alone["sent"]], timeout=600)  # catch up on ingest-alone's reports
            await sampler.wait_idle(timeout=900)  # ... measures included: each phase starts from an idle pipeline
            cpu = CpuMeter({name: [p.proc.pid] for name, p in procs.items()} | {"postgres": [postgres.proc.pid],
                                                                               "broker": [kafka.proc.pid]})
            profilers = self.start_profilers(procs) if args.profile else []

            # The pipeline at full speed: how fast ingest accepts, and how fast rating keeps classifying.
            before, began = cpu.read(), time.time()
            full = await asyncio.to_thread(loadgen, url, token, self.work / "full.json", mode="single",
                                           duration=args.duration, concurrency=args.concurrency, start=10_000_000)
            last = await classified.wait_for([key for key, _ in full["sent"]], timeout=900)
            idle = await sampler.wait_idle(timeout=900)  # sanctions' measures and repair done too
            done = time.time()
            for profiler in profilers:
                profiler.wait()
            n = full["accepted_items"]
            sustained = n / (last - began) if n else 0.0
            r["pipeline_full"] = _summary(full) | {
                "classified_per_s": sustained, "drain_after_load_s": max(0.0, last - began - full["duration_s"]),
                "all_done_per_s": n / (idle - began) if n else 0.0,
                "cpu_ms_per_item": _cpu_per_item(CpuMeter.delta(before, cpu.read()), n),
                "max_backlog_and_lag": sampler.max_between(began, done), "window": [began, done]}

            # Half of that, open loop: how long a report takes from POST to the agency's measure.
            # 50 % of the end-to-end maximum (until measures are issued), not of classification alone
            half_rate = max(1.0, 0.5 * (r["pipeline_full"]["all_done_per_s"] or sustained))
            began = time.time()
            half = await asyncio.to_thread(loadgen, url, token, self.work / "half.json", mode="single",
                                           duration=args.duration, concurrency=args.concurrency, rate=half_rate,
                                           start=20_000_000)
            keys = [key for key, _ in half["sent"]]
            await classified.wait_for(keys, timeout=300)
            await asyncio.sleep(5)  # measures follow classification through sanctions
            await sampler.wait_idle(timeout=300)
            latencies = [issued.first[key] - posted for key, posted in half["sent"] if key in issued.first]
            to_classified = [classified.first[key] - posted for key, posted in half["sent"] if key in classified.first]
            r["pipeline_half"] = _summary(half) | {
                "target_rate": half_rate,
                "post_to_classified": {"samples": len(to_classified), "p50_s": percentile(to_classified, 0.5),
                                       "p99_s": percentile(to_classified, 0.99)},  # the first half of the way
                "post_to_measure_issued": {"samples": len(latencies), "p50_s": percentile(latencies, 0.5),
                                           "p95_s": percentile(latencies, 0.95), "p99_s": percentile(latencies, 0.99)},
                "max_backlog_and_lag": sampler.max_between(began, time.time())}

            # Batches: how fast ingest takes them, and how fast the pipeline classifies them.
            await sampler.wait_idle(timeout=300)
            before, began, seen_before = cpu.read(), time.time(), len(classified.first)
            # Bounded (--batch-seconds): ingest takes batches far faster than the pipeline classifies them.
            batch = await asyncio.to_thread(loadgen, url, token, self.work / "batch.json", mode="batch",
                                            duration=args.batch_seconds, concurrency=2, batch_size=500, start=30_000_000)
            deadline = time.monotonic() + 600
            while len(classified.first) - seen_before < batch["accepted_items"] and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
            last = max(classified.first.values())
            idle = await sampler.wait_idle(timeout=900)
            r["pipeline_batch"] = _summary(batch) | {
                "classified_per_s": batch["accepted_items"] / (last - began) if batch["accepted_items"] else 0.0,
                "all_done_per_s": batch["accepted_items"] / (idle - began) if batch["accepted_items"] else 0.0,
                "cpu_ms_per_item": _cpu_per_item(CpuMeter.delta(before, cpu.read()), batch["accepted_items"]),
                "max_backlog_and_lag": sampler.max_between(began, time.time())}
            r["peak_rss_mib"] = {k: round(v / 2**20) for k, v in sampler.peak_rss.items()}
            r["samples"] = sampler.samples
        finally:
            for task_owner in (sampler, classified, issued):
                task_owner.stop()
            await asyncio.gather(*tasks, return_exceptions=True)

    def start_profilers(self, procs: dict[str, ServiceProcess]) -> list[subprocess.Popen]:
        out = ROOT / "var" / "profiles"
        out.mkdir(parents=True, exist_ok=True)
        py_spy = str(Path(sys.executable).parent / "py-spy")
        return [
            subprocess.Popen([py_spy, "record", "-p", str(p.proc.pid), "-d", str(int(self.args.duration)), "-r", "100",
                              "--nonblocking", "-o", str(out / f"{name}.svg")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, p in procs.items()
        ]


# --- the report ---------------------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def render(r: dict) -> str:
    toy = r["ceiling_one_hop_toy"]["items_per_s"]
    alone = r["ingest_alone"]["items_per_s"]
    full, half, batch = r["pipeline_full"], r["pipeline_half"], r["pipeline_batch"]
    lat = half["post_to_measure_issued"]
    ceilings = {
        "bare FastAPI POST 1 KB (2 workers)": r["ceiling_fastapi"]["items_per_s"],
        "PostgreSQL single-row insert transactions (16 connections, fsync on)": r["ceiling_postgres"]["insert_tx_per_s"],
        "broker produce, acks=all": r["ceiling_broker"]["produce_msg_per_s"],
        "our outbox relay alone": r["ceiling_relay"]["relay_msg_per_s"],
        "one-hop toy (POST → row + outbox row → relay → broker, 1 worker)": toy,
    }
    tightest = min(ceilings, key=ceilings.get)

    def check(ok: bool) -> str:
        return "met" if ok else "**not met**"

    def cpu_row(label: str, cpu: dict) -> str:
        return f"| {label} | " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])) + " |"

    lines = [
        f"## {r['date'][:10]} — `make bench`",
        "",
        f"- Command: `{r['command']}` (`make bench`; BENCH_SECONDS={r['duration_s']:g}, BENCH_CONCURRENCY={r['concurrency']})",
        f"- Machine: {r['machine']}; everything (PostgreSQL with fsync on, tansu, four services, the load generator) on it",
        f"- Date: {r['date']}; load average when it started (1/5/15 min): "
        + " / ".join(f"{x:.1f}" for x in r.get("load_average_at_start", ())),
        "",
        "| ceiling of a part, same run | per second |",
        "| --- | --- |",
        *(f"| {name} | {_f(v)} |" for name, v in ceilings.items()),
        f"| PostgreSQL COPY rows | {_f(r['ceiling_postgres']['copy_rows_per_s'])} |",
        f"| broker consume | {_f(r['ceiling_broker']['consume_msg_per_s'])} |",
        "",
        "| measured | result | target |",
        "| --- | --- | --- |",
        f"| ingest alone, single POSTs, closed loop ({r['concurrency']} connections) | {_f(alone)} reports/s = "
        f"{alone / toy:.0%} of the toy (HTTP p99 {_f(r['ingest_alone']['http_p99_s'] * 1000)} ms) | ≥ 80 % of the toy: "
        f"{check(alone >= 0.8 * toy)} |",
        f"| whole pipeline, single POSTs: accepted | {_f(full['items_per_s'])} reports/s | |",
        f"| whole pipeline, single POSTs: classified (sustained, until the last is classified) | "
        f"{_f(full['classified_per_s'])} reports/s | |",
        f"| whole pipeline, single POSTs: done (sustained, until every service is idle: measures issued) | "
        f"{_f(full.get('all_done_per_s'))} reports/s | ≥ 1,000/s: {check((full.get('all_done_per_s') or 0) >= 1000)} |",
        f"| whole pipeline via batches of 500: accepted | {_f(batch['items_per_s'])} reports/s | |",
        f"| whole pipeline via batches of 500: classified (sustained) | {_f(batch['classified_per_s'])} reports/s | |",
        f"| whole pipeline via batches of 500: done (sustained, until every service is idle) | "
        f"{_f(batch.get('all_done_per_s'))} reports/s | ≥ 5,000/s: {check((batch.get('all_done_per_s') or 0) >= 5000)} |",
        f"| POST → measure.issued at 50 % load ({_f(half['target_rate'])}/s offered, {lat['samples']} samples) | "
        f"p50 {_f((lat['p50_s'] or 0) * 1000)} ms, p95 {_f((lat['p95_s'] or 0) * 1000)} ms, p99 {_f((lat['p99_s'] or 0) * 1000)} ms"
        f" | p99 ≤ 1 s: {check(lat['p99_s'] is not None and lat['p99_s'] <= 1.0)} |",
        *([f"| … of which POST → report.classified (rating's answer, halfway) | "
           f"p50 {_f(half['post_to_classified']['p50_s'] * 1000)} ms, p99 {_f(half['post_to_classified']['p99_s'] * 1000)} ms | |"]
          if half.get("post_to_classified", {}).get("p99_s") is not None else []),
        f"| our pipeline (done, single POSTs) as a fraction of the tightest ceiling ({tightest}) | "
        f"{(full.get('all_done_per_s') or 0) / ceilings[tightest]:.0%} | |",
        "",
        "CPU milliseconds per report, by process (where the two cores go):",
        "",
        "| phase | CPU ms per report |",
        "| --- | --- |",
        cpu_row("one-hop toy", r["ceiling_one_hop_toy"]["cpu_ms_per_item"]),
        cpu_row("ingest alone", r["ingest_alone"]["cpu_ms_per_item"]),
        cpu_row("whole pipeline, single POSTs", full["cpu_ms_per_item"]),
        cpu_row("whole pipeline, batches", batch["cpu_ms_per_item"]),
        "",
        "Largest outbox backlog / consumer lag seen (rows / messages; sampled each second): "
        + "; ".join(f"{phase}: " + ", ".join(f"{k} {v:.0f}" for k, v in r[phase]["max_backlog_and_lag"].items() if v)
                    for phase in ("pipeline_full", "pipeline_half", "pipeline_batch")),
        "",
        "Outbox backlog and consumer lag over the full-speed pipeline phase (every 5 s; rows / messages):",
        "",
        "| t | " + " | ".join(_series_keys(r)) + " |",
        "| --- |" + " --- |" * len(_series_keys(r)),
        *(f"| {t:.0f} s | " + " | ".join(f"{s.get(k, 0):.0f}" for k in _series_keys(r)) + " |" for t, s in _series(r)),
        "",
        "Peak RSS (MiB): " + ", ".join(f"{k} {v}" for k, v in r["peak_rss_mib"].items()),
        "",
    ]
    return "\n".join(lines)


def _series(r: dict, step: float = 5.0) -> list[tuple[float, dict]]:
    began, done = r["pipeline_full"]["window"]
    out, next_t = [], began
    for sample in r.get("samples", []):
        if began <= sample["t"] <= done and sample["t"] >= next_t:
            out.append((sample["t"] - began, sample))
            next_t = sample["t"] + step
    return out


def _series_keys(r: dict) -> list[str]:
    return sorted({k for _, s in _series(r) for k in s if k != "t" and not k.startswith("repair")})


def write_doc(doc: Path, section: str) -> None:
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{DOC_BEGIN}\n{section}\n{DOC_END}"
    if DOC_BEGIN in text and DOC_END in text:
        text = text[: text.index(DOC_BEGIN)] + block + text[text.index(DOC_END) + len(DOC_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-seconds", type=float, default=5, help="how long batches are posted (then drained)")
    parser.add_argument("--profile", action="store_true", help="py-spy flame graphs of each service (var/profiles/)")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-results.json")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"),
                        help="the markdown file whose 'make bench' section is replaced by this run's ('' to skip)")
    args = parser.parse_args()
    results = asyncio.run(Bench(args).run())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    section = render(results)
    print(section)
    if args.doc:
        write_doc(Path(args.doc), section)


if __name__ == "__main__":
    main()
