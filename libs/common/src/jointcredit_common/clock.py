"""China time, once: the zone every legal date of the platform is counted in, and today's date there.

Publicity periods, objection and feedback deadlines and the repair SLA are dates in China (Asia/Shanghai, UTC+8, no
daylight saving), whatever zone a server runs in.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def now_in_china() -> datetime:
    return datetime.now(CHINA_TZ)


def today_in_china() -> date:
    return now_in_china().date()
