"""How far the calendar reaches, for operators: `/readyz` details and `/metrics`.

Ops is warned from :data:`WARN_DAYS` days before official coverage ends (the State Council usually publishes the next
year's schedule in November): add the new year's file to ``schedules/`` and deploy. Past the end, deadlines in the
next year are provisional and say so; a year further, the calendar refuses.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prometheus_client import Counter, Gauge

from jointcredit_common.calendar.working_days import WorkingDayCalendar
from jointcredit_common.clock import today_in_china

WARN_DAYS = 60

OFFICIAL_DAYS_LEFT = Gauge(
    "jc_calendar_official_days_left", "Days until the last day an official working-day schedule covers (negative: past it)",
    ["service"],
)
PROVISIONAL_DAYS_LEFT = Gauge(
    "jc_calendar_provisional_days_left", "Days until the last day the provisional calendar covers (then: 422)", ["service"],
)
COVERAGE_WARNING = Gauge(
    "jc_calendar_coverage_warning", f"1 when official coverage ends within {WARN_DAYS} days or has ended", ["service"],
)
PROVISIONAL_ANSWERS = Counter(
    "jc_calendar_provisional_answers_total", "Deadlines and answers computed on a provisional calendar day", ["service", "use"],
)


def count_provisional(service: str, use: str, provisional: bool) -> None:
    """Count an answer (a deadline, a due date, a calendar query) that rests on a provisional day."""
    if provisional:
        PROVISIONAL_ANSWERS.labels(service, use).inc()


def coverage(calendar: WorkingDayCalendar, today: date | None = None) -> dict[str, Any]:
    today = today or today_in_china()
    official_left = (calendar.official_until - today).days
    if official_left > WARN_DAYS:
        status, message = "ok", None
    elif official_left >= 0:
        status = "warning"
        message = (f"official working-day schedules end on {calendar.official_until.isoformat()} ({official_left} days): "
                   f"add schedules/{calendar.provisional_year}.yaml once the State Council publishes it; until then "
                   f"deadlines in {calendar.provisional_year} are provisional")
    else:
        status = "provisional"
        message = (f"running on the provisional {calendar.provisional_year} calendar (statutory holidays, no 调休) "
                   f"until {calendar.provisional_until.isoformat()}; add schedules/{calendar.provisional_year}.yaml")
    return {
        "status": status,
        "official_until": calendar.official_until.isoformat(),
        "provisional_until": calendar.provisional_until.isoformat(),
        "official_days_left": official_left,
        "message": message,
    }


def refresh_coverage_metrics(service: str, calendar: WorkingDayCalendar, today: date | None = None) -> dict[str, Any]:
    report = coverage(calendar, today)
    OFFICIAL_DAYS_LEFT.labels(service).set(report["official_days_left"])
    PROVISIONAL_DAYS_LEFT.labels(service).set((calendar.provisional_until - (today or today_in_china())).days)
    COVERAGE_WARNING.labels(service).set(0 if report["status"] == "ok" else 1)
    return report
