"""One working-day calendar for every service (Asia/Shanghai, China's official schedules, the city's overrides).

- :mod:`.schedules`: official schedules (data files, chinesecalendar) and the provisional year after them.
- :mod:`.working_days`: :class:`WorkingDayCalendar` — the arithmetic, with ``provisional`` on every answer.
- :mod:`.overrides`: the city's overrides, owned by repair and mirrored by the others through events.
- :mod:`.coverage`: how far the calendar reaches, for `/readyz` and `/metrics`.
"""

from jointcredit_common.calendar.working_days import SHANGHAI, CalendarNotCovered, Deadline, DueDay, WorkingDayCalendar
from jointcredit_common.errors import ValidationFailed


def not_covered_problem(exc: CalendarNotCovered, field: str) -> ValidationFailed:
    """The 422 every API gives for a date the calendar does not cover, naming it (DESIGN §6)."""
    return ValidationFailed(str(exc), field=field, uncovered_date=exc.date.isoformat(), covered_years=exc.covered_years,
                            provisional_year=exc.provisional_year)


__all__ = ["SHANGHAI", "CalendarNotCovered", "Deadline", "DueDay", "WorkingDayCalendar", "not_covered_problem"]
