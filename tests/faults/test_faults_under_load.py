"""Whole processes and servers fail while reports keep coming in; afterwards every count reconciles (issue 7, part 3).

Under a steady load of reports (and some withdrawals), in turn: ``kill -9`` of each service, a PostgreSQL restart,
a broker restart that loses every topic (then an outbox replay), and the rating consumer frozen past its session
timeout. Clients may see a connection error while ingest is down and a 503 problem while PostgreSQL is; they never
see a 500 or wait on a hung request, and a report answered 202 is never lost. At the end, every accepted report has
exactly one classification, every measure is issued exactly once and lifted once where due, across the four
databases and the agency topics (see reconcile.py for what "exactly once" means for each).

The crash *windows* inside a process (between publish and mark, between effect and offset commit) are hit precisely
by tests/e2e/test_crash_recovery.py with the ``JC_FAULT_INJECT`` points; this suite is about whole-process and
infrastructure faults at random moments under load. ``make test-faults``; results in var/faults/.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.run import machine
from jointcredit_common.devstack import SERVICES
from tests.faults.load import Answer, LoadGenerator
from tests.faults.reconcile import database_checks, snapshot, table, topic_checks
from tests.faults.stack import SESSION_TIMEOUT_MS, TOPIC_PARTITIONS, FaultStack, Injection

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

RATE = 25.0  # reports/s: modest, so the faults — not the load — decide what happens
DOWN_S = 4.0  # how long a killed service or a stopped server stays down
SETTLE_S = 4.0  # steady load between faults
DRAIN_TIMEOUT_S = 180.0
REPLAY_MARGIN_S = 60.0  # replay from this long before the broker loss: more than any consumer lag here
TRANSPORT_ERRORS_WHILE_INGEST_DOWN = {"ConnectError", "RemoteProtocolError", "ReadError", "WriteError"}
RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults"


async def test_every_accepted_report_reconciles_after_kills_and_restarts_under_load(fault_stack: FaultStack) -> None:
    stack = fault_stack
    load = LoadGenerator(stack.url("ingest"), stack.token("department", "intermediate_court"), rate=RATE, clock=stack.started)
    stop_load = asyncio.Event()
    load_task = asyncio.create_task(load.run(stop_load))
    began = time.monotonic()
    try:
        await asyncio.sleep(SETTLE_S)
        for name in SERVICES:
            await stack.kill_service(name, DOWN_S)
            await asyncio.sleep(SETTLE_S)
        await stack.restart_postgres(DOWN_S)
        await asyncio.sleep(SETTLE_S)
        broker = await stack.restart_broker(DOWN_S, replay_margin_s=REPLAY_MARGIN_S)
        await asyncio.sleep(SETTLE_S)
        paused = await stack.pause_service("rating", 3 * SESSION_TIMEOUT_MS / 1000, consumer="rating-classifier",
                                           topic="jointcredit.reports")
        await asyncio.sleep(SETTLE_S)
    finally:
        stop_load.set()
        await load_task
    load_seconds = time.monotonic() - began

    dsn = {name: stack.dsn(name) for name in SERVICES}
    accepted, withdrawn = set(load.accepted), set(load.withdrawn)
    drained = time.monotonic()
    while True:  # until the pipeline has caught up (every check holds), or long enough to call it a failure
        snap = await snapshot(dsn)
        checks = database_checks(snap, accepted=accepted, withdrawn=withdrawn)
        if all(c.ok for c in checks) or time.monotonic() - drained > DRAIN_TIMEOUT_S:
            break
        await asyncio.sleep(2.0)
    drain_seconds = time.monotonic() - drained
    on_topics, topic_counts = await topic_checks(stack.kafka.bootstrap, snap, since=datetime.fromisoformat(broker.detail["replay_since"]))
    checks += on_topics

    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "command": "make test-faults", "load_seconds": round(load_seconds, 1), "drain_seconds": round(drain_seconds, 1),
        "total_seconds": round(stack.elapsed(), 1), "rate": RATE, "injections": [asdict(i) for i in stack.injections],
        "answers": answers_by_fault(load, stack.injections), "accepted": len(accepted), "withdrawn": len(withdrawn),
        "checks": [{"what": c.what, "expected": c.expected, "found": c.found, "ok": c.ok} for c in checks],
        "topics": topic_counts,
    }
    out = RESULTS / f"run-{report['date'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"\ninjected ({stack.work}):")
    for i in stack.injections:
        print(f"  t={i.at_s:>6.1f}s  {i.fault:<55} down {i.down_s:>4.1f}s  ready again after {i.recovered_s}s  {i.detail or ''}")
    print("answers:", json.dumps(report["answers"], indent=1, ensure_ascii=False))
    print(table(checks))
    print(f"topics: {topic_counts}\nload {load_seconds:.0f}s, drain {drain_seconds:.0f}s, total {stack.elapsed():.0f}s → {out}")

    failed = [c for c in checks if not c.ok]
    assert not failed, f"not reconciled after {drain_seconds:.0f}s:\n{table(failed)}\n{await stack.diagnosis()}"
    # Evicted: the coordinator refused the thawed member's id or generation, or the other replica processed every
    # partition — the frozen member's share included — while it was frozen. Either alone proves it.
    handed_over = paused.detail["partitions_consumed_while_frozen"] == list(range(TOPIC_PARTITIONS))
    assert paused.detail["fenced"] or handed_over, f"the frozen rating replica was not evicted: {paused.detail}"
    assert_clients_saw_clean_answers(load, stack.injections)


def fault_of(answer: Answer, injections: list[Injection]) -> str:
    """The fault a request met (it was asked or answered while the fault lasted), or ``steady``."""
    return next((i.fault for i in injections if i.overlaps(answer.asked_s, answer.answered_s)), "steady")


def answers_by_fault(load: LoadGenerator, injections: list[Injection]) -> dict[str, dict[str, int]]:
    by_fault: dict[str, Counter] = {}
    for answer in load.answers:
        by_fault.setdefault(fault_of(answer, injections), Counter())[f"{answer.action} {answer.outcome}"] += 1
    return {fault: dict(sorted(counts.items())) for fault, counts in by_fault.items()}


def assert_clients_saw_clean_answers(load: LoadGenerator, injections: list[Injection]) -> None:
    """No 500 and no hang anywhere; 503 problems only while PostgreSQL was down; transport errors only while ingest was."""
    assert len(load.accepted) > RATE * 60, f"the load hardly ran: {len(load.accepted)} reports accepted"
    for answer in load.answers:
        fault = fault_of(answer, injections)
        allowed = {"202"} if answer.action == "post" else {"200"}
        if fault == "restart PostgreSQL":
            allowed.add("503")
        if fault == "kill -9 ingest":
            allowed |= TRANSPORT_ERRORS_WHILE_INGEST_DOWN
        assert answer.outcome in allowed, f"{answer}: not an answer a client should get during {fault!r}"
        assert answer.seconds < load.timeout, f"{answer}: a hung request"
        if answer.outcome == "503":
            assert answer.problem_type and answer.problem_type.endswith("/service-unavailable"), answer
    during_outage = answers_by_fault(load, injections).get("restart PostgreSQL", {})
    assert during_outage.get("post 503", 0) > 0, f"the load never met the PostgreSQL outage: {during_outage}"
