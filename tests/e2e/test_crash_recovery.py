"""Crashes lose nothing and double nothing (DESIGN §3 invariants), with real processes killed by SIGKILL.

1. The ingest relay dies between publishing a batch and marking it published: on restart it publishes the
   batch again, and the broker really holds every report.received twice — yet rating classifies each report
   once and sanctions issues each measure once.
2. A consumer (rating, then sanctions) dies after committing an event's effect but before committing the
   Kafka offset: the event is delivered again after restart, the inbox recognises it, nothing is doubled.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from jointcredit_common.catalog import load_catalog
from jointcredit_common.db import asyncpg_dsn
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

# Recent conduct: key warning and red periods run from the conduct (issue 13 item 2); a 2020 act reported now is history.
RECENT_CONDUCT = ((datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=10)).isoformat()

pytestmark = [pytest.mark.e2e, pytest.mark.crash]
REPORTS = 12


def w1_report(n: int) -> dict:
    return {
        "subject": {"type": "enterprise", "id": uscc(7000 + n), "name": f"大连第{n}机械厂"},
        "behavior": "W1",
        "occurred_on": RECENT_CONDUCT,
        "evidence": {"kind": "none"},
    }


def post_reports(stack, count: int = REPORTS) -> list[str]:
    token = stack.token("department", "market_regulation")
    ids = []
    with httpx.Client(base_url=stack.url("ingest"), timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        for n in range(count):
            response = client.post("/v1/reports", json=w1_report(n))
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    return ids


def wait_all_classified(stack, ids: list[str], timeout: float = 90.0) -> None:
    token = stack.token("department", "market_regulation")
    deadline = time.monotonic() + timeout
    pending = set(ids)
    with httpx.Client(base_url=stack.url("ingest"), timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        while pending and time.monotonic() < deadline:
            for report_id in list(pending):
                if client.get(f"/v1/reports/{report_id}").json().get("status") == "classified":
                    pending.discard(report_id)
            time.sleep(0.5)
    assert not pending, f"{len(pending)} reports never classified"


async def scalar(stack, service: str, sql: str):
    conn = await asyncpg.connect(asyncpg_dsn(stack.procs[service].env[f"{service.upper()}_DATABASE_URL"]))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def w1_routes() -> list[tuple[str, str]]:
    catalog = load_catalog()
    return [(route.agency, code) for code in catalog.behavior("W1").measures for route in catalog.measure(code).agencies]


async def assert_each_effect_once(stack, ids: list[str]) -> None:
    """Exactly one classification per report and one issued measure per (report, measure, agency), on the topics too."""
    assert await scalar(stack, "rating", "SELECT count(*) FROM classifications") == len(ids)
    assert await scalar(stack, "rating", "SELECT count(DISTINCT report_id) FROM credit_records") == len(ids)
    routes = w1_routes()
    expected_measures = len(ids) * len(routes)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and await scalar(stack, "sanctions", "SELECT count(*) FROM measures") < expected_measures:
        await asyncio.sleep(0.5)
    assert await scalar(stack, "sanctions", "SELECT count(*) FROM measures") == expected_measures
    for agency in {a for a, _ in routes}:
        per_agency = sum(1 for a, _ in routes if a == agency) * len(ids)
        events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"),
                                  until=lambda e, n=per_agency: len(e) >= n, timeout=60, settle=2.0)
        issued = [e for e in events if e.type.endswith("measure.issued.v1")]
        per_record = Counter((e.data["record_id"], e.data["measure"]) for e in issued)
        assert len(issued) == per_agency, f"{agency}: {len(issued)} issued, expected {per_agency}"
        assert max(per_record.values()) == 1


async def test_relay_killed_between_publish_and_mark_republishes_but_nothing_doubles(jc_stack):
    stack = jc_stack("ingest", "rating", "sanctions", extra_env={"ingest": {"INGEST_RUN_RELAY": "false"}})
    ids = post_reports(stack)
    ingest = stack.procs["ingest"]
    ingest.stop()
    # The relay publishes the whole pending batch, then the process dies like kill -9 before marking it.
    ingest.start(INGEST_RUN_RELAY="true", INGEST_FAULT_INJECT="relay_after_publish")
    assert ingest.wait_exit(timeout=90) == -signal.SIGKILL
    assert await scalar(stack, "ingest", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == len(ids)
    ingest.start(INGEST_RUN_RELAY="true")
    ingest.wait_ready()
    wait_all_classified(stack, ids)

    received = await read_topic(stack.bootstrap, stack.topic("reports"), until=lambda e: len(e) >= 2 * len(ids), timeout=30)
    assert Counter(e.data["report_id"] for e in received) == {i: 2 for i in ids}, "each report.received is on the broker twice"
    await assert_each_effect_once(stack, ids)


@pytest.mark.parametrize("victim", ["rating", "sanctions"])
async def test_consumer_killed_between_effect_and_offset_commit_redelivers_without_doubling(jc_stack, victim):
    fault = {victim: {f"{victim.upper()}_FAULT_INJECT": "consumer_after_commit"}}
    stack = jc_stack("ingest", "rating", "sanctions", extra_env=fault)
    ids = post_reports(stack)
    proc = stack.procs[victim]
    assert proc.wait_exit(timeout=90) == -signal.SIGKILL  # died right after its first committed effect
    proc.start()
    proc.wait_ready()
    wait_all_classified(stack, ids)
    await assert_each_effect_once(stack, ids)
    metrics = httpx.get(f"{proc.url}/metrics", timeout=10).text
    duplicates = [line for line in metrics.splitlines() if line.startswith("jc_events_consumed_total") and 'result="duplicate"' in line]
    assert duplicates and float(duplicates[0].rsplit(" ", 1)[1]) >= 1, "the redelivered event was recognised by the inbox"
