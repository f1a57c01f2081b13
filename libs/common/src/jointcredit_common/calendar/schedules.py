"""Where a working day comes from: official schedules, and the provisional year after the last of them.

Three sources, in this order for a given year:

1. **An official schedule shipped as data** (``schedules/<year>.yaml``): the State Council General Office's yearly
   notice (holidays and adjusted weekend working days, 调休), with its document number. A file wins over the package,
   so a newly published year is a data change, not a dependency upgrade.
2. **The chinesecalendar package** for the years its table covers (2004 – its last year).
3. **Provisional**: for the one year after the last official schedule, the statutory holidays of
   《全国年节及纪念日放假办法》 as amended in 2024 (国务院令第795号, in force 2025-01-01) — 元旦 1 day; 春节 4 days
   (除夕 to 初三); 清明 1; 劳动节 2; 端午 1; 中秋 1; 国庆 3 — with lunar dates and the 清明 solar term from
   ``lunar_python``, and no 调休 (the yearly notice decides those; nobody can know them in advance). Every answer
   that rests on a provisional day says so.

Any other year is not covered: callers get :class:`CalendarNotCovered` naming the date.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from chinese_calendar.constants import holidays as _package_holidays
from chinese_calendar.constants import workdays as _package_workdays
from lunar_python import Lunar, Solar

# 《全国年节及纪念日放假办法》 as amended by 国务院令第795号 (2024-11-10), in force from 2025-01-01.
STATUTORY_SOURCE = "《全国年节及纪念日放假办法》（2024年修订，国务院令第795号）"


@dataclass(frozen=True)
class OfficialSchedule:
    """One year's official schedule: days off and the weekend days worked instead (调休)."""

    year: int
    source: str  # e.g. "国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）"
    holidays: Mapping[date, str]  # day off -> holiday name
    adjusted_working_days: Mapping[date, str] = field(default_factory=dict)  # weekend day worked -> holiday name

    def is_working_day(self, day: date) -> bool:
        if day in self.adjusted_working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _as_date(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO date") from None


def parse_schedule(document: Mapping[str, Any], origin: str = "<schedule>") -> OfficialSchedule:
    """Validate one year's file; a mistake in a data file must stop the service, not misplace a deadline."""
    year = int(document["year"])
    source = document.get("source") or {}
    if not source.get("title") or not source.get("document_no"):
        raise ValueError(f"{origin}: source.title and source.document_no (the notice's 文号) are required")
    holidays: dict[date, str] = {}
    for name, span in (document.get("holidays") or {}).items():
        first, last = (_as_date(v, f"{origin}: {name}") for v in span)
        if last < first:
            raise ValueError(f"{origin}: {name} ends before it starts")
        day = first
        while day <= last:
            if day.year != year:
                raise ValueError(f"{origin}: {name} has {day} outside {year}")
            if day in holidays:
                raise ValueError(f"{origin}: {day} is listed twice ({holidays[day]}, {name})")
            holidays[day] = str(name)
            day += timedelta(days=1)
    adjusted: dict[date, str] = {}
    for item in document.get("adjusted_working_days") or []:
        day = _as_date(item["date"], f"{origin}: adjusted working day")
        if day.year != year or day.weekday() < 5 or day in holidays or day in adjusted:
            raise ValueError(f"{origin}: adjusted working day {day} must be a weekend day of {year}, listed once, not a holiday")
        adjusted[day] = str(item.get("for", ""))
    return OfficialSchedule(year=year, source=f"{source['title']}（{source['document_no']}）", holidays=holidays,
                            adjusted_working_days=adjusted)


@functools.lru_cache(maxsize=1)
def shipped_schedules() -> dict[int, OfficialSchedule]:
    """The schedules shipped with this package, read once per process."""
    return load_schedule_files()


def load_schedule_files(directory: Path | None = None) -> dict[int, OfficialSchedule]:
    """Every ``<year>.yaml`` in ``directory`` (default: the schedules shipped with this package)."""
    files: Iterable[Any] = (
        sorted(directory.glob("*.yaml")) if directory is not None
        else sorted((f for f in resources.files(__package__).joinpath("schedules").iterdir() if f.name.endswith(".yaml")),
                    key=lambda f: f.name)
    )
    schedules: dict[int, OfficialSchedule] = {}
    for f in files:
        schedule = parse_schedule(yaml.safe_load(f.read_text(encoding="utf-8")), origin=f.name)
        if f.name != f"{schedule.year}.yaml":
            raise ValueError(f"{f.name}: a schedule file is named after its year ({schedule.year}.yaml)")
        schedules[schedule.year] = schedule
    return schedules


@functools.cache
def package_years() -> range:
    """The span of chinesecalendar's table (it raises NotImplementedError outside it)."""
    years = [d.year for d in _package_holidays]
    return range(min(years), max(years) + 1)


@functools.lru_cache(maxsize=64)
def package_schedule(year: int) -> OfficialSchedule:
    """chinesecalendar's data for ``year`` in the same shape as a data file (for comparison and uniform lookups)."""
    return OfficialSchedule(
        year=year,
        source=f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip(),
        holidays={d: name for d, name in _package_holidays.items() if d.year == year},
        adjusted_working_days={d: name for d, name in _package_workdays.items() if d.year == year},
    )


@functools.lru_cache(maxsize=16)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory days off of ``year`` under the 2024 amendment, without 调休 (the provisional calendar)."""
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    new_year = Lunar.fromYmd(year, 1, 1).getSolar()  # 正月初一 of the lunar year that starts in ``year``
    first = date(new_year.getYear(), new_year.getMonth(), new_year.getDay())
    for offset in range(-1, 3):  # 除夕 (the day before 初一, whether 腊月 has 29 or 30 days) to 初三
        days[first + timedelta(days=offset)] = "春节"
    qingming = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    days[date(qingming.getYear(), qingming.getMonth(), qingming.getDay())] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    for (month, day), name in {(5, 5): "端午节", (8, 15): "中秋节"}.items():
        solar = Lunar.fromYmd(year, month, day).getSolar()
        days[date(solar.getYear(), solar.getMonth(), solar.getDay())] = name
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "国庆节"
    # 除夕 of an early Spring Festival can fall in the previous December only if 初一 were on 1 January, which the
    # lunar calendar never does; keep the year's own days (a 除夕 in ``year - 1`` would belong to that year's table).
    return {d: name for d, name in days.items() if d.year == year}


def provisional_schedule(year: int) -> OfficialSchedule:
    return OfficialSchedule(year=year, source=f"{STATUTORY_SOURCE}（暂定：{year}年放假调休安排尚未发布）",
                            holidays=statutory_holidays(year))
