"""Expiry on a durable schedule: records leave publicity and the lists when their period ends.

The schedule is the data itself (``publicity_ends_on`` on each record, indexed): every replica runs this
loop, and ``FOR UPDATE SKIP LOCKED`` in ``expire_due_records`` makes each record expire exactly once. A
restart loses nothing: the next pass finds every record that became due meanwhile.
"""

from __future__ import annotations

from jointcredit_common.logging import get_logger
from jointcredit_common.periodic import every
from jointcredit_common.app import ServiceRuntime
from rating_service import metrics
from rating_service.records.service import expire_due_records, today_in_china

log = get_logger(__name__)


async def expire_and_count(runtime: ServiceRuntime) -> None:
    """One pass: end the records whose publicity period is over, then refresh the list gauges."""
    today = today_in_china()
    expired = await expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=today)
    if expired:
        metrics.RECORDS_EXPIRED.labels(runtime.settings.service_name).inc(expired)
        log.info("records_expired", count=expired)
    await metrics.refresh(runtime.sessionmaker, today=today, service=runtime.settings.service_name)


expire_records_loop = every(lambda r: float(r.settings.expiry_check_seconds), expire_and_count, name="expire_records")
