"""Expiry on a durable schedule: records leave publicity and the lists when their period ends.

The schedule is the data itself (``publicity_ends_on`` on each record, indexed): every replica runs this
loop, and ``FOR UPDATE SKIP LOCKED`` in ``expire_due_records`` makes each record expire exactly once. A
restart loses nothing: the next pass finds every record that became due meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib

from jointcredit_common.logging import get_logger
from jointcredit_common.service import ServiceRuntime
from rating_service import metrics
from rating_service.records.service import expire_due_records, today_in_china

log = get_logger(__name__)


async def expire_records_loop(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    interval = float(getattr(runtime.settings, "expiry_check_seconds", 60.0))
    while not stop.is_set():
        try:
            today = today_in_china()
            expired = await expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=today)
            if expired:
                metrics.RECORDS_EXPIRED.labels(runtime.settings.service_name).inc(expired)
                log.info("records_expired", count=expired)
            await metrics.refresh(runtime.sessionmaker, today=today, service=runtime.settings.service_name)
        except Exception:  # noqa: BLE001 - keep the schedule alive; the next pass retries
            log.exception("expiry_pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
