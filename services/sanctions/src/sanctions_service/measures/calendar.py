"""When feedback on a measure is due: N working days after the day it was issued (Asia/Shanghai).

Working days follow China's official State Council schedule (holidays and adjusted weekend working days, incl. the
extended 2020 Spring Festival) from ``chinesecalendar``. For a year the package does not cover yet, Monday–Friday is
used: the feedback deadline is a reminder, not a legal time limit, so a best guess beats refusing to issue a measure.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # year outside the package's table
        return day.weekday() < 5


def add_working_days(day: date, days: int) -> date:
    """The ``days``-th working day after ``day`` (``day`` itself does not count)."""
    current = day
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def feedback_due_at(issued_at: datetime, working_days: int) -> datetime:
    """End of the ``working_days``-th working day after the issue day, Shanghai time; 0 = due at issue."""
    if working_days <= 0:
        return issued_at
    local_day = issued_at.astimezone(SHANGHAI).date()
    due_day = add_working_days(local_day, working_days)
    return datetime.combine(due_day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
