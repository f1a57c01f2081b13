"""The calendar's sources: official schedules as data files, chinesecalendar, and the provisional year after them.

Expected values come from the law and the notices, not from the implementation:
- 《全国年节及纪念日放假办法》(2024年修订，国务院令第795号): 元旦 1; 春节 4 (农历除夕、正月初一至初三); 清明 1;
  劳动节 2 (5月1日、2日); 端午 1; 中秋 1; 国庆 3 (10月1日至3日).
- 2027 by the Chinese calendar: 除夕 2027-02-05 (正月初一 02-06), 清明 04-05, 端午 06-09, 中秋 09-15.
- 国办发明电〔2025〕7号 (2026): 元旦 1月1日至3日, 1月4日(周日)上班; 春节 2月15日至23日, 2月14日、28日上班; …
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from jointcredit_common.calendar import SHANGHAI, CalendarNotCovered, Deadline, WorkingDayCalendar
from jointcredit_common.calendar.coverage import coverage
from jointcredit_common.calendar.schedules import (
    load_schedule_files,
    package_schedule,
    parse_schedule,
    shipped_schedules,
    statutory_holidays,
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- the examples the toolkit issue requires (Asia/Shanghai) ----------------------------------------------------------


def test_new_years_eve_2026_plus_one_working_day_is_monday_4_january_provisional():
    # 2027-01-01 (Fri) is 元旦, then a weekend: the next working day is Monday 2027-01-04.
    assert WorkingDayCalendar().add(sh(2026, 12, 31, 10), 1) == Deadline(sh(2027, 1, 4, 10), provisional=True)


def test_day_before_chuxi_2027_plus_one_working_day_is_9_february_provisional():
    # 除夕 2027-02-05 (Fri) to 初三 02-08 (Mon) are the four statutory days: Thursday 02-04 + 1 → Tuesday 02-09.
    assert WorkingDayCalendar().add(sh(2027, 2, 4, 10), 1) == Deadline(sh(2027, 2, 9, 10), provisional=True)


@pytest.mark.parametrize("start", [sh(2028, 1, 3, 10), sh(2027, 12, 31, 10), sh(2031, 6, 2, 9)])
def test_anything_reaching_2028_is_not_covered_and_names_the_date(start):
    with pytest.raises(CalendarNotCovered) as err:
        WorkingDayCalendar().add(start, 1)
    assert err.value.date.year >= 2028
    assert err.value.date.isoformat() in str(err.value)


def test_an_answer_within_official_years_is_not_provisional():
    # 2026-12-30 (Wed) + 1 = Thursday 12-31: no provisional day on the way.
    assert WorkingDayCalendar().add(sh(2026, 12, 30, 10), 1) == Deadline(sh(2026, 12, 31, 10), provisional=False)


# --- the provisional year: statutory holidays, lunar dates, no 调休 ---------------------------------------------------


def test_statutory_holidays_of_2027():
    assert statutory_holidays(2027) == {
        date(2027, 1, 1): "元旦",
        date(2027, 2, 5): "春节", date(2027, 2, 6): "春节", date(2027, 2, 7): "春节", date(2027, 2, 8): "春节",
        date(2027, 4, 5): "清明节",
        date(2027, 5, 1): "劳动节", date(2027, 5, 2): "劳动节",
        date(2027, 6, 9): "端午节",
        date(2027, 9, 15): "中秋节",
        date(2027, 10, 1): "国庆节", date(2027, 10, 2): "国庆节", date(2027, 10, 3): "国庆节",
    }


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_holidays_fall_inside_the_official_schedules_of_known_years(year):
    # The official schedule of a year under the 2024 amendment gives at least the statutory days off (plus 调休
    # bridges): a wrong lunar conversion would put a statutory day outside the official holidays.
    official = package_schedule(year)
    assert set(statutory_holidays(year)) <= set(official.holidays)


def test_the_provisional_year_has_no_adjusted_working_days():
    cal = WorkingDayCalendar()
    # 2027-02-20 is a Saturday; an official schedule may well make it a 调休 working day, the provisional one cannot.
    assert cal.day_status(date(2027, 2, 20)) == (False, True)
    assert cal.day_status(date(2027, 2, 9)) == (True, True)


def test_an_override_in_the_provisional_year_is_the_citys_decision_not_provisional():
    cal = WorkingDayCalendar({date(2027, 2, 9): False})
    assert cal.day_status(date(2027, 2, 9)) == (False, False)
    assert cal.add(sh(2027, 2, 4, 10), 1) == Deadline(sh(2027, 2, 10, 10), provisional=True)


# --- official schedules shipped as data ------------------------------------------------------------------------------


def test_the_shipped_2026_file_agrees_with_chinesecalendar_day_by_day():
    shipped = shipped_schedules()[2026]
    package = package_schedule(2026)
    assert set(shipped.holidays) == set(package.holidays)
    assert set(shipped.adjusted_working_days) == set(package.adjusted_working_days)
    assert "国办发明电〔2025〕7号" in shipped.source


YEAR_2027 = """
year: 2027
source: {title: 国务院办公厅关于2027年部分节假日安排的通知, document_no: 国办发明电〔2026〕99号 (test data)}
holidays:
  春节: [2027-02-05, 2027-02-13]
adjusted_working_days:
  - {date: 2027-02-20, for: 春节}
"""


def test_a_new_years_file_makes_that_year_official_and_the_next_provisional(tmp_path: Path):
    (tmp_path / "2027.yaml").write_text(YEAR_2027, encoding="utf-8")
    cal = WorkingDayCalendar(schedules=load_schedule_files(tmp_path))
    assert cal.provisional_year == 2028 and 2027 in cal.official_years
    # The (made-up) official 2027 closes 02-09 to 02-12 too, and works Saturday 02-20.
    assert cal.add(sh(2027, 2, 4, 10), 1) == Deadline(sh(2027, 2, 15, 10), provisional=False)
    assert cal.day_status(date(2027, 2, 20)) == (True, False)
    assert cal.day_status(date(2028, 1, 3)) == (True, True)
    assert "国办发明电〔2026〕99号" in cal.schedule(2027).source


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("year: 2027\nsource: {title: t}\nholidays: {}\n", "document_no"),
        ("year: 2027\nsource: {title: t, document_no: n}\nholidays: {春节: [2027-02-13, 2027-02-05]}\n", "ends before"),
        ("year: 2027\nsource: {title: t, document_no: n}\nholidays: {元旦: [2026-12-31, 2027-01-01]}\n", "outside 2027"),
        ("year: 2027\nsource: {title: t, document_no: n}\n"
         "holidays: {a: [2027-01-01, 2027-01-02], b: [2027-01-02, 2027-01-02]}\n", "twice"),
        ("year: 2027\nsource: {title: t, document_no: n}\nholidays: {}\nadjusted_working_days: [{date: 2027-02-09}]\n",
         "weekend"),
        ("year: 2027\nsource: {title: t, document_no: n}\nholidays: {x: [not-a-date, 2027-01-01]}\n", "ISO date"),
    ],
)
def test_a_broken_schedule_file_is_refused_with_the_reason(text, complaint):
    import yaml

    with pytest.raises(ValueError, match=complaint):
        parse_schedule(yaml.safe_load(text), origin="2027.yaml")


def test_a_schedule_file_must_be_named_after_its_year(tmp_path: Path):
    (tmp_path / "2028.yaml").write_text(YEAR_2027, encoding="utf-8")
    with pytest.raises(ValueError, match="named after its year"):
        load_schedule_files(tmp_path)


def test_official_years_may_not_have_a_gap(tmp_path: Path):
    (tmp_path / "2029.yaml").write_text("year: 2029\nsource: {title: t, document_no: n}\nholidays: {元旦: [2029-01-01, 2029-01-01]}\n",
                                        encoding="utf-8")
    with pytest.raises(ValueError, match="gap"):
        WorkingDayCalendar(schedules=load_schedule_files(tmp_path))


# --- coverage, for /readyz and /metrics -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "status", "days_left"),
    [(date(2026, 10, 1), "ok", 91), (date(2026, 11, 1), "warning", 60), (date(2026, 12, 4), "warning", 27),
     (date(2027, 1, 2), "provisional", -2)],
)
def test_ops_are_warned_from_sixty_days_before_official_coverage_ends(today, status, days_left):
    report = coverage(WorkingDayCalendar(), today)
    assert (report["status"], report["official_days_left"]) == (status, days_left)
    assert report["official_until"] == "2026-12-31" and report["provisional_until"] == "2027-12-31"
    assert (report["message"] is None) == (status == "ok")
