"""The benchmark's own parts work for real: the load generator (a separate process) against the one-hop toy on the
real PostgreSQL and broker, every accepted POST reaches the topic through the toy's relay; and the report section
in docs/benchmarks.md is replaced, never duplicated."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from bench.run import DOC_BEGIN, DOC_END, Sampler, _wait_http, render, write_doc
from jointcredit_common.devstack import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def toy(jc_infra, jc_database):
    from sqlalchemy.engine import make_url

    url = make_url(jc_database("toy")).set(drivername="postgresql").render_as_string(hide_password=False)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.toy_app:app", "--port", str(port), "--log-level",
                             "warning"], cwd=ROOT, env={**os.environ, "TOY_DATABASE_URL": url,
                                                        "TOY_KAFKA_BOOTSTRAP": jc_infra.kafka_bootstrap})
    try:
        _wait_http(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_the_load_generator_drives_the_toy_and_every_accepted_post_reaches_the_broker(toy, jc_infra, tmp_path):
    out = tmp_path / "run.json"
    subprocess.run([sys.executable, "-m", "bench.loadgen", "--url", toy, "--duration", "2", "--concurrency", "4",
                    "--start", "5", "--out", str(out)], check=True, cwd=ROOT)
    result = json.loads(out.read_text())
    assert result["accepted_items"] > 10 and result["statuses"] == {"202": result["accepted_items"]}
    assert len(result["sent"]) == result["accepted_items"] and result["http_p99_s"] > 0
    keys = await _keys_on_topic(jc_infra.kafka_bootstrap, "toy.items", result["accepted_items"])
    assert sorted(keys) == sorted(key for key, _ in result["sent"])  # each accepted item once, nothing else


async def _keys_on_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                metadata_max_age_ms=1000)
    await consumer.start()
    keys: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                keys += [r.key.decode() for r in records]
            if len(keys) >= expected:
                await asyncio.sleep(1.0)  # anything more would be a duplicate
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    keys += [r.key.decode() for r in records]
                break
    finally:
        await consumer.stop()
    return keys


def test_the_bench_section_of_the_doc_is_replaced_not_appended(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## older run\nkept\n")
    write_doc(doc, "## run one\nfirst")
    write_doc(doc, "## run two\nsecond")
    text = doc.read_text()
    assert text.count(DOC_BEGIN) == 1 and text.count(DOC_END) == 1
    assert "second" in text and "first" not in text and "kept" in text and text.startswith("# Benchmarks")


def test_the_report_judges_each_target_from_the_figures():
    def run(per_s: float) -> dict:
        return {"items_per_s": per_s, "http_p99_s": 0.05, "accepted_items": 100, "cpu_ms_per_item": {"ingest": 1.5}}

    t0 = 1000.0
    results = {
        "date": "2026-11-26T12:00:00+00:00", "command": "python -m bench.run", "machine": "2 cores", "duration_s": 30,
        "concurrency": 32,
        "ceiling_fastapi": run(5000), "ceiling_postgres": {"insert_tx_per_s": 2000, "copy_rows_per_s": 100000},
        "ceiling_broker": {"produce_msg_per_s": 40000, "consume_msg_per_s": 150000},
        "ceiling_relay": {"relay_msg_per_s": 20000}, "ceiling_one_hop_toy": run(1000),
        "ingest_alone": run(850),
        "pipeline_full": run(900) | {"classified_per_s": 1100, "all_done_per_s": 700,
                                     "max_backlog_and_lag": {"ingest.backlog": 12},
                                     "window": [t0, t0 + 10]},
        "pipeline_half": run(350) | {"target_rate": 350, "max_backlog_and_lag": {},
                                     "post_to_measure_issued": {"samples": 10, "p50_s": 0.2, "p95_s": 0.5, "p99_s": 1.2},
                                     "post_to_classified": {"samples": 10, "p50_s": 0.1, "p99_s": 0.4}},
        "pipeline_batch": run(6000) | {"classified_per_s": 5600, "all_done_per_s": 5200, "max_backlog_and_lag": {}},
        "peak_rss_mib": {"ingest": 150},
        "samples": [{"t": t0 + i, "ingest.backlog": i, "rating.lag": 2 * i} for i in range(11)],
    }
    text = render(results)
    assert "850 reports/s = 85% of the toy" in text and "≥ 80 % of the toy: met" in text
    assert "≥ 1,000/s: **not met**" in text and "≥ 5,000/s: met" in text and "p99 ≤ 1 s: **not met**" in text
    assert "| 5 s | 5 | 10 |" in text and "| 10 s | 10 | 20 |" in text
    # the pipeline is judged on when everything is done (measures issued), not on classification alone
    assert "classified (sustained, until the last is classified) | 1,100 reports/s | |" in text
    assert "POST → report.classified (rating's answer, halfway) | p50 100 ms, p99 400 ms |" in text
    assert "done (sustained, until every service is idle: measures issued) | 700 reports/s | ≥ 1,000/s: **not met**" in text


async def test_waiting_for_an_idle_pipeline_needs_every_backlog_and_lag_at_zero_twice():
    sampler = Sampler()
    feed = [{"ingest.backlog": 3, "sanctions.lag": 9}, {"ingest.backlog": 0, "sanctions.lag": 4},
            {"ingest.backlog": 0, "sanctions.lag": 0}, {"ingest.backlog": 0, "sanctions.lag": 0}]

    async def sample() -> None:
        for n, values in enumerate(feed):
            await asyncio.sleep(0.05)
            sampler.samples.append({"t": 100.0 + n} | values)

    task = asyncio.create_task(sample())
    assert await sampler.wait_idle(timeout=5) == 101.0  # the last busy sample
    await task
    assert math.isnan(await Sampler().wait_idle(timeout=0.2))  # nothing sampled: no claim of idleness
