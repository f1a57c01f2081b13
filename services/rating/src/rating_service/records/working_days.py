"""Working days under China's official calendar (Asia/Shanghai), for objection deadlines (异议处理期限).

Uses the ``chinesecalendar`` package (the State Council's holiday and adjusted-workday schedule, incl. the
extended 2020 Spring Festival). For a year the package does not know yet, it falls back to Monday–Friday
and says so in the result, so a deadline is never silently wrong: the objection stores the date it computed
and whether the official calendar covered it. (The repair service keeps its own calendar; services do not
import each other.)
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar


def is_working_day(day: date) -> tuple[bool, bool]:
    """(is it a working day, was the official calendar available for it)."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def add_working_days(start: date, days: int) -> tuple[date, bool]:
    """The ``days``-th working day after ``start`` (the filing day itself is not counted, 民法典第二百零一条),
    and whether every day on the way was covered by the official calendar."""
    if days < 1:
        raise ValueError("days must be at least 1")
    day, counted, official = start, 0, True
    while counted < days:
        day += timedelta(days=1)
        working, known = is_working_day(day)
        official = official and known
        if working:
            counted += 1
    return day, official
