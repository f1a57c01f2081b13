"""periodic(): at once, then on the interval; errors logged, counted and retried; a backlog drained; stops at once."""

from __future__ import annotations

import asyncio
import time

from jointcredit_common.periodic import PASS_FAILURES, periodic


async def test_a_pass_runs_at_once_and_again_after_the_interval_until_stop():
    stop, runs = asyncio.Event(), []

    async def run_once() -> None:
        runs.append(time.monotonic())
        if len(runs) == 3:
            stop.set()

    started = time.monotonic()
    await asyncio.wait_for(periodic(stop, 0.05, run_once, name="t"), 2)
    assert len(runs) == 3
    assert runs[0] - started < 0.05 and runs[2] - runs[1] >= 0.045


async def test_a_failing_pass_is_counted_and_the_schedule_goes_on():
    stop, calls = asyncio.Event(), []

    async def run_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        stop.set()

    before = PASS_FAILURES.labels("svc", "flaky")._value.get()
    await asyncio.wait_for(periodic(stop, 0.01, run_once, name="flaky", service="svc"), 2)
    assert len(calls) == 2
    assert PASS_FAILURES.labels("svc", "flaky")._value.get() == before + 1


async def test_a_pass_with_more_to_do_is_followed_at_once():
    stop, calls = asyncio.Event(), []

    async def run_once() -> bool:
        calls.append(1)
        if len(calls) == 5:
            stop.set()
        return True  # a backlog

    # An hour's interval: only "more to do" can bring five passes within the timeout.
    await asyncio.wait_for(periodic(stop, 3600, run_once, name="drain"), 2)
    assert len(calls) == 5


async def test_stop_interrupts_the_wait():
    stop = asyncio.Event()

    async def run_once() -> None:
        return None

    task = asyncio.create_task(periodic(stop, 3600, run_once, name="idle"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 1)
    assert time.monotonic() - started < 0.5
