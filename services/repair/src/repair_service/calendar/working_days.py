"""Working-day arithmetic for the credit-repair green channel.

三(一) of 大信办字〔2020〕4号 asks that initial review, re-review and final review finish
"原则上在1个工作日内完成". A working day is a day of China's official State Council schedule
(holidays and adjusted weekend working days, 调休), taken from the ``chinesecalendar``
package, in Asia/Shanghai. A city may close on extra days or work on extra days; those
overrides are data handed to the calendar and win over the national schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar.constants import holidays as _official_holidays

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _official_years() -> range:
    # chinesecalendar validates against the span of its holiday table and raises
    # NotImplementedError outside it; read the same span so our error can name it
    # and so a package upgrade extends coverage without a code change.
    years = [d.year for d in _official_holidays]
    return range(min(years), max(years) + 1)


class CalendarNotCovered(LookupError):
    """The official schedule has no data for this date (and no override covers it).

    Guessing (e.g. "weekdays work") would silently misplace an SLA deadline across an
    unpublished holiday, so we refuse instead.
    """

    def __init__(self, day: date, covered: range | None = None) -> None:
        covered = covered if covered is not None else _official_years()
        self.date = day
        self.covered_years = covered
        super().__init__(
            f"no official working-day data for {day.isoformat()}: the State Council schedule "
            f"(chinesecalendar) covers {covered.start}-{covered.stop - 1}; "
            f"add an override for this date or upgrade chinesecalendar"
        )


class WorkingDayCalendar:
    """Working days in one timezone under China's official calendar plus local overrides."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        tz: tzinfo = SHANGHAI,
    ) -> None:
        overrides = dict(overrides or {})
        for day, working in overrides.items():
            # A datetime key would never match a date lookup and be ignored silently.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {day!r}")
            if not isinstance(working, bool):
                raise TypeError(f"override for {day} must be a bool, got {working!r}")
        self._overrides = overrides
        self.tz = tz

    @staticmethod
    def covered_years() -> range:
        """Years for which the official schedule is known (overrides aside)."""
        return _official_years()

    def is_working_day(self, d: date) -> bool:
        """True if ``d`` is a working day: override first, then the official schedule."""
        if isinstance(d, datetime):
            # Which calendar day a datetime is depends on the timezone; make callers say.
            raise TypeError("is_working_day takes a date; convert datetimes to local dates first")
        if d in self._overrides:
            return self._overrides[d]
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            raise CalendarNotCovered(d) from None

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days in the half-open interval [a, b); 0 when b <= a."""
        count = 0
        d = a
        while d < b:
            count += self.is_working_day(d)
            d += timedelta(days=1)
        return count

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Move ``start`` forward by ``days`` working days, in this calendar's timezone.

        ``start`` must be timezone-aware; it is converted to the calendar's timezone
        (Asia/Shanghai by default) first, so the calendar day is the local one.

        - ``start`` on a working day: the result is the same wall-clock time ``days``
          working days later (Friday 16:00 + 1 = next working day 16:00).
        - ``start`` on a non-working day: nothing can happen until the next working day,
          so the clock starts at 00:00 of it; the result is 00:00 after ``days`` full
          working days, i.e. the end (24:00) of the last of them. E.g. Sunday + 1 in a
          normal week = Tuesday 00:00; Wednesday holiday + 2 = Saturday 00:00 (the end of
          Friday), not Monday 00:00.
        - ``days == 0`` returns the normalised start (``start`` itself in local time, or
          00:00 of the next working day).

        Raises ValueError for naive datetimes or negative ``days`` and CalendarNotCovered
        when the walk reaches a date with no official data and no override.
        """
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware (naive datetimes are ambiguous)")
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        local = start.astimezone(self.tz)
        day = local.date()

        if self.is_working_day(day):
            for _ in range(days):
                day = self.next_working_day(day)
            return datetime.combine(day, local.time(), tzinfo=self.tz)

        day = self.next_working_day(day)
        if days == 0:
            return datetime.combine(day, time(0), tzinfo=self.tz)
        for _ in range(days - 1):
            day = self.next_working_day(day)
        # End of the last working day = 00:00 of the following calendar day.
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)

    def due_at(self, accepted_at: datetime, working_days: int = 1) -> datetime:
        """Repair SLA deadline: 三(一) "原则上在1个工作日内完成" counted from acceptance."""
        return self.add_working_days(accepted_at, working_days)
