"""Working-day arithmetic in Asia/Shanghai under China's official calendar, with the city's overrides.

One calendar for every service: repair's SLA (三(一) "原则上在1个工作日内完成"), rating's objection deadlines and
sanctions' feedback due dates (发起-响应-反馈). A day is decided by, in order: the city's override for it (a day closed
or opened by the city), the official schedule of its year, the provisional schedule of the year after the last
official one. Any other day is not covered: :class:`CalendarNotCovered` names it — guessing "weekdays work" would
silently misplace a deadline across an unpublished holiday.

Every walk says whether it rested on a provisional day, so an answer can say ``"provisional": true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from jointcredit_common.calendar.schedules import (
    OfficialSchedule,
    package_schedule,
    package_years,
    provisional_schedule,
    shipped_schedules,
)
from jointcredit_common.clock import CHINA_TZ

SHANGHAI = CHINA_TZ  # the calendar's zone


class CalendarNotCovered(LookupError):
    """No official or provisional schedule covers this date, and no override does."""

    def __init__(self, day: date, official: range, provisional_year: int) -> None:
        self.date = day
        self.official_years = official
        self.provisional_year = provisional_year
        super().__init__(
            f"{day.isoformat()} is not covered by the working-day calendar: official schedules cover "
            f"{official.start}-{official.stop - 1}, {provisional_year} is provisional (statutory holidays only), "
            f"later years wait for the State Council's notice"
        )

    @property
    def covered_years(self) -> list[int]:
        """[first, last] year the calendar answers for (the provisional one included)."""
        return [self.official_years.start, self.provisional_year]


@dataclass(frozen=True)
class Deadline:
    """A moment computed on the calendar, and whether any day it rests on was provisional."""

    at: datetime
    provisional: bool


@dataclass(frozen=True)
class DueDay:
    """A calendar day computed on the calendar, and whether any day it rests on was provisional."""

    day: date
    provisional: bool


class _Walk:
    """Day lookups that remember whether any of them was provisional."""

    __slots__ = ("calendar", "provisional")

    def __init__(self, calendar: WorkingDayCalendar) -> None:
        self.calendar = calendar
        self.provisional = False

    def working(self, day: date) -> bool:
        working, provisional = self.calendar.day_status(day)
        self.provisional = self.provisional or provisional
        return working

    def next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.working(day):
            day += timedelta(days=1)
        return day


class WorkingDayCalendar:
    """Working days in one timezone: overrides, then official schedules, then the provisional year."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        tz: tzinfo = SHANGHAI,
        schedules: Mapping[int, OfficialSchedule] | None = None,
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
        self._files = dict(shipped_schedules() if schedules is None else schedules)
        package = package_years()
        self._package = package
        first = min([package.start, *self._files])
        last = max([package.stop - 1, *self._files])
        missing = [y for y in range(first, last + 1) if y not in self._files and y not in package]
        if missing:
            raise ValueError(f"official schedules have a gap: no data for {missing}")
        self.official_years = range(first, last + 1)
        self.provisional_year = last + 1
        self._years: dict[int, OfficialSchedule] = {}

    # --- coverage ---------------------------------------------------------------------------------------------

    @property
    def official_until(self) -> date:
        """The last day an official schedule covers."""
        return date(self.official_years.stop - 1, 12, 31)

    @property
    def provisional_until(self) -> date:
        return date(self.provisional_year, 12, 31)

    def schedule(self, year: int) -> OfficialSchedule | None:
        """The schedule in force for ``year`` (official or provisional), or None when not covered."""
        if year not in self._years:
            if year in self._files:
                self._years[year] = self._files[year]
            elif year in self._package:
                self._years[year] = package_schedule(year)
            elif year == self.provisional_year:
                self._years[year] = provisional_schedule(year)
            else:
                return None
        return self._years[year]

    # --- days -------------------------------------------------------------------------------------------------

    def day_status(self, day: date) -> tuple[bool, bool]:
        """(is ``day`` a working day, does that answer rest on the provisional schedule)."""
        if isinstance(day, datetime):
            # Which calendar day a datetime is depends on the timezone; make callers say.
            raise TypeError("day_status takes a date; convert datetimes to local dates first")
        if day in self._overrides:
            return self._overrides[day], False
        schedule = self.schedule(day.year)
        if schedule is None:
            raise CalendarNotCovered(day, self.official_years, self.provisional_year)
        return schedule.is_working_day(day), day.year == self.provisional_year

    def is_working_day(self, day: date) -> bool:
        return self.day_status(day)[0]

    def is_provisional(self, day: date) -> bool:
        return self.day_status(day)[1]

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return _Walk(self).next_working_day(day)

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days in the half-open interval [a, b); 0 when b <= a."""
        walk, count, day = _Walk(self), 0, a
        while day < b:
            count += walk.working(day)
            day += timedelta(days=1)
        return count

    def nth_working_day_after(self, day: date, days: int) -> DueDay:
        """The ``days``-th working day after ``day`` (``day`` itself not counted, 民法典第二百零一条); 0 = ``day``."""
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        walk = _Walk(self)
        for _ in range(days):
            day = walk.next_working_day(day)
        return DueDay(day, walk.provisional)

    def end_of_nth_working_day_after(self, moment: datetime, days: int) -> Deadline:
        """24:00 (local) of the ``days``-th working day after ``moment``'s local day; ``days == 0``: ``moment``."""
        if days <= 0:
            return Deadline(moment, False)
        due = self.nth_working_day_after(self._local(moment).date(), days)
        return Deadline(datetime.combine(due.day + timedelta(days=1), time(0), tzinfo=self.tz), due.provisional)

    def add(self, start: datetime, days: int) -> Deadline:
        """Move ``start`` forward by ``days`` working days, in this calendar's timezone.

        - ``start`` on a working day: the same wall-clock time ``days`` working days later (Friday 16:00 + 1 = next
          working day 16:00).
        - ``start`` on a non-working day: nothing can happen until the next working day, so the clock starts at 00:00
          of it; the result is 00:00 after ``days`` full working days, i.e. the end (24:00) of the last of them. E.g.
          Sunday + 1 in a normal week = Tuesday 00:00; Wednesday holiday + 2 = Saturday 00:00 (the end of Friday).
        - ``days == 0`` returns the normalised start (``start`` in local time, or 00:00 of the next working day).

        Raises ValueError for naive datetimes or negative ``days`` and CalendarNotCovered when the walk reaches a date
        no schedule or override covers.
        """
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        local = self._local(start)
        walk = _Walk(self)
        day = local.date()
        if walk.working(day):
            for _ in range(days):
                day = walk.next_working_day(day)
            return Deadline(datetime.combine(day, local.time(), tzinfo=self.tz), walk.provisional)
        day = walk.next_working_day(day)
        if days == 0:
            return Deadline(datetime.combine(day, time(0), tzinfo=self.tz), walk.provisional)
        for _ in range(days - 1):
            day = walk.next_working_day(day)
        # End of the last working day = 00:00 of the following calendar day.
        return Deadline(datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz), walk.provisional)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        return self.add(start, days).at

    def due_at(self, accepted_at: datetime, working_days: int = 1) -> Deadline:
        """Repair SLA deadline: 三(一) "原则上在1个工作日内完成" counted from acceptance."""
        return self.add(accepted_at, working_days)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("moments must be timezone-aware (naive datetimes are ambiguous)")
        return moment.astimezone(self.tz)
