"""Background passes on a schedule, one way for every service: ``periodic()`` and its ServiceSpec form ``every()``.

A pass runs at once, then every ``interval`` seconds until ``stop`` is set (the wait is interrupted by it, so shutdown
is immediate). A pass that fails is logged and counted (``jc_background_pass_failures_total``) and the next one
retries: a database hiccup must not stop a schedule for good. A pass that returns True has more to do (a backlog
after downtime) and the next one starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from jointcredit_common.logging import get_logger

if TYPE_CHECKING:
    from jointcredit_common.app import ServiceRuntime

log = get_logger(__name__)

PASS_FAILURES = Counter("jc_background_pass_failures_total", "Background passes that raised (the next pass retries)",
                        ["service", "task"])


async def periodic(
    stop: asyncio.Event, interval: float | Callable[[], float], run_once: Callable[[], Awaitable[Any]], *,
    name: str, service: str = "",
) -> None:
    while not stop.is_set():
        try:
            more = await run_once()
        except Exception:  # noqa: BLE001 - keep the schedule alive; the next pass retries
            log.exception("background_pass_failed", task=name)
            PASS_FAILURES.labels(service, name).inc()
            more = False
        if more is True:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval() if callable(interval) else interval)


def every(
    interval: Callable[[ServiceRuntime], float], run_once: Callable[[ServiceRuntime], Awaitable[Any]], name: str | None = None,
) -> Callable[[ServiceRuntime, asyncio.Event], Awaitable[None]]:
    """``ServiceSpec.background`` entry: ``every(lambda r: r.settings.x_seconds, pass_function)``."""
    task = name or run_once.__name__

    async def schedule(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        await periodic(stop, lambda: interval(runtime), lambda: run_once(runtime), name=task,
                       service=runtime.settings.service_name)

    schedule.__name__ = task
    return schedule
