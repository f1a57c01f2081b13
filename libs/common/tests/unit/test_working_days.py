"""Working days on the official calendar (repair SLA 三(一) "原则上在1个工作日内完成", objections, feedback).

Expected values come from the State Council schedules, not from the implementation:
- 国办发〔2019〕16号 (2020 holidays): 元旦 1月1日; 春节 1月24日至30日, 1月19日(星期日)、
  2月1日(星期六)上班; 劳动节 5月1日至5日, 4月26日(星期日)、5月9日(星期六)上班;
  端午 6月25日至27日, 6月28日(星期日)上班; 国庆中秋 10月1日至8日, 9月27日(星期日)、
  10月10日(星期六)上班.
- 国办发明电〔2020〕1号: 春节假期延长至2月2日(星期日), 2月3日(星期一)起正常上班 — which
  also cancels the 2月1日(星期六) make-up working day.
Weeks without any of these dates are ordinary Monday–Friday weeks.
"""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jointcredit_common.calendar import CalendarNotCovered, Deadline, DueDay, WorkingDayCalendar

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def cal() -> WorkingDayCalendar:
    return WorkingDayCalendar()


# --- ordinary weeks ---------------------------------------------------------------


def test_friday_afternoon_acceptance_is_due_monday_same_time(cal):
    # 2020-03-06 is a Friday in an ordinary week (no holiday in 国办发〔2019〕16号 near it).
    due = cal.due_at(sh(2020, 3, 6, 16, 30)).at
    assert due.isoformat() == "2020-03-09T16:30:00+08:00"


def test_acceptance_on_sunday_is_due_at_midnight_after_first_working_day(cal):
    # 2020-03-08 Sunday: the clock starts Monday 03-09 00:00, one full working day ends
    # at Tuesday 03-10 00:00.
    assert cal.due_at(sh(2020, 3, 8, 10, 0)).at == sh(2020, 3, 10, 0, 0)


def test_acceptance_on_holiday_ends_at_close_of_last_working_day_not_next_one(cal):
    # 2020-01-01 (Wed) is 元旦; 01-02 Thu and 01-03 Fri work (国办发〔2019〕16号).
    # Two full working days from a holiday end at the end of Friday, i.e. Saturday 00:00.
    assert cal.add_working_days(sh(2020, 1, 1, 9, 0), 2) == sh(2020, 1, 4, 0, 0)


def test_zero_days_returns_the_normalised_start(cal):
    assert cal.add_working_days(sh(2020, 3, 6, 16, 30), 0) == sh(2020, 3, 6, 16, 30)
    # Sunday 2020-03-08 → start of Monday 2020-03-09.
    assert cal.add_working_days(sh(2020, 3, 8, 10, 0), 0) == sh(2020, 3, 9, 0, 0)


def test_negative_days_are_rejected(cal):
    with pytest.raises(ValueError):
        cal.add_working_days(sh(2020, 3, 6, 16, 30), -1)


# --- adjusted working days (调休上班) ----------------------------------------------


def test_acceptance_on_make_up_saturday_is_due_next_working_day(cal):
    # 2020-05-09 Saturday is 调休上班 (劳动节, 国办发〔2019〕16号); Sunday 05-10 is rest.
    assert cal.is_working_day(date(2020, 5, 9))
    assert cal.due_at(sh(2020, 5, 9, 10, 15)).at == sh(2020, 5, 11, 10, 15)


def test_acceptance_on_friday_before_make_up_saturday_is_due_that_saturday(cal):
    # Friday 2020-05-08 → Saturday 2020-05-09 works (国办发〔2019〕16号).
    assert cal.due_at(sh(2020, 5, 8, 15, 0)).at == sh(2020, 5, 9, 15, 0)


def test_eve_of_dragon_boat_festival_is_due_on_make_up_sunday(cal):
    # 端午 2020-06-25..27 off, Sunday 06-28 works (国办发〔2019〕16号).
    assert cal.due_at(sh(2020, 6, 24, 14, 0)).at == sh(2020, 6, 28, 14, 0)
    assert cal.due_at(sh(2020, 6, 28, 9, 30)).at == sh(2020, 6, 29, 9, 30)


# --- public holidays ---------------------------------------------------------------


def test_eve_of_national_day_is_due_after_the_holiday(cal):
    # 国庆中秋 2020-10-01..08 off; Fri 10-09 and Sat 10-10 work (国办发〔2019〕16号).
    assert cal.due_at(sh(2020, 9, 30, 17, 0)).at == sh(2020, 10, 9, 17, 0)
    assert cal.due_at(sh(2020, 9, 30, 17, 0), working_days=2).at == sh(2020, 10, 10, 17, 0)


def test_friday_before_national_day_is_due_on_make_up_sunday(cal):
    # Sunday 2020-09-27 works (国办发〔2019〕16号).
    assert cal.due_at(sh(2020, 9, 25, 11, 0)).at == sh(2020, 9, 27, 11, 0)


def test_eve_of_extended_spring_festival_is_due_on_february_third(cal):
    # Spring Festival 2020-01-24..30 (国办发〔2019〕16号) extended to 02-02 by
    # 国办发明电〔2020〕1号; work resumed Monday 02-03.
    assert cal.due_at(sh(2020, 1, 23, 11, 0)).at == sh(2020, 2, 3, 11, 0)


def test_extension_cancelled_the_february_first_make_up_saturday(cal):
    # 2020-02-01 was 调休上班 under 国办发〔2019〕16号, cancelled by 国办发明电〔2020〕1号;
    # 2020-01-19 (Sunday) stayed a make-up working day.
    assert not cal.is_working_day(date(2020, 2, 1))
    assert all(not cal.is_working_day(date(2020, 1, 24) + timedelta(n)) for n in range(10))
    assert cal.is_working_day(date(2020, 1, 19))
    assert cal.next_working_day(date(2020, 1, 23)) == date(2020, 2, 3)


def test_working_days_between_spans_the_extended_spring_festival(cal):
    # [01-20, 02-10): 01-20..23 (4) + 02-03..07 (5); the holiday 01-24..02-02 counts 0.
    assert cal.working_days_between(date(2020, 1, 20), date(2020, 2, 10)) == 9
    assert cal.working_days_between(date(2020, 1, 24), date(2020, 2, 3)) == 0
    # Half-open: Sunday 01-19 (make-up day) is counted, 01-20 is not.
    assert cal.working_days_between(date(2020, 1, 19), date(2020, 1, 20)) == 1
    assert cal.working_days_between(date(2020, 2, 10), date(2020, 1, 20)) == 0


# --- coverage ----------------------------------------------------------------------


@pytest.mark.parametrize("day", [date(2000, 6, 1), date(2028, 1, 3), date(2099, 6, 1)])
def test_dates_outside_the_official_and_provisional_years_are_refused(cal, day):
    with pytest.raises(CalendarNotCovered) as err:
        cal.is_working_day(day)
    message = str(err.value)
    assert day.isoformat() in message
    assert err.value.date == day
    assert err.value.covered_years == [2004, 2027]
    with pytest.raises(CalendarNotCovered):
        cal.due_at(datetime(day.year, day.month, day.day, 10, tzinfo=SH))


def test_official_years_include_2020_and_the_next_year_is_provisional(cal):
    assert 2020 in cal.official_years and 2026 in cal.official_years and 2027 not in cal.official_years
    assert cal.provisional_year == 2027


def test_override_makes_an_uncovered_date_usable():
    # 2099-06-01 is a Monday; a city that publishes its own days can still run SLAs.
    cal = WorkingDayCalendar({date(2099, 6, 1): True, date(2099, 6, 2): True})
    assert cal.due_at(sh(2099, 6, 1, 10, 0)) == Deadline(sh(2099, 6, 2, 10, 0), provisional=False)
    with pytest.raises(CalendarNotCovered):
        cal.is_working_day(date(2099, 6, 3))


# --- city overrides ----------------------------------------------------------------


def test_extra_city_closure_pushes_the_deadline():
    # Friday 2020-03-06 → normally Monday 03-09; the city closes 03-09 → Tuesday 03-10.
    cal = WorkingDayCalendar({date(2020, 3, 9): False})
    assert cal.due_at(sh(2020, 3, 6, 16, 0)).at == sh(2020, 3, 10, 16, 0)


def test_extra_city_working_day_pulls_the_deadline():
    # Saturday 2020-03-07 declared a working day → due that Saturday.
    cal = WorkingDayCalendar({date(2020, 3, 7): True})
    assert cal.due_at(sh(2020, 3, 6, 16, 0)).at == sh(2020, 3, 7, 16, 0)


def test_city_override_wins_over_a_national_holiday():
    # 2020-02-03 reopened nationally (国办发明电〔2020〕1号); a city keeping it closed
    # moves the 01-23 deadline to 02-04.
    cal = WorkingDayCalendar({date(2020, 2, 3): False})
    assert cal.due_at(sh(2020, 1, 23, 11, 0)).at == sh(2020, 2, 4, 11, 0)


def test_override_keys_must_be_plain_dates():
    with pytest.raises(TypeError):
        WorkingDayCalendar({datetime(2020, 3, 9, tzinfo=SH): False})


# --- timezones ---------------------------------------------------------------------


def test_naive_datetime_is_rejected(cal):
    with pytest.raises(ValueError):
        cal.due_at(datetime(2020, 3, 6, 16, 0))


def test_utc_input_is_counted_in_shanghai_time(cal):
    # 2020-03-06T08:00Z = Friday 16:00 in Shanghai → Monday 16:00 Shanghai.
    due = cal.due_at(datetime(2020, 3, 6, 8, 0, tzinfo=timezone.utc)).at
    assert due.isoformat() == "2020-03-09T16:00:00+08:00"


def test_utc_friday_evening_is_already_saturday_in_shanghai(cal):
    # 2020-03-06T17:00Z = Saturday 01:00 in Shanghai: non-working, so the clock starts
    # Monday 03-09 and one working day ends Tuesday 03-10 00:00.
    due = cal.due_at(datetime(2020, 3, 6, 17, 0, tzinfo=timezone.utc)).at
    assert due == sh(2020, 3, 10, 0, 0)


# --- rating's objection deadline and sanctions' feedback due date ------------------------------------------------


def test_objection_deadline_counts_working_days_after_the_filing_day_across_the_extended_2020_spring_festival(cal):
    # Filed Friday 2020-01-24 (除夕): the holiday ran to 2020-02-02 (国办发明电〔2020〕1号); the 5th working day after
    # it is Friday 2020-02-07.
    assert cal.nth_working_day_after(date(2020, 1, 24), 5) == DueDay(date(2020, 2, 7), provisional=False)
    # 2020-01-19 (Sunday) was an adjusted working day: filed Saturday 18th → it counts.
    assert cal.nth_working_day_after(date(2020, 1, 18), 1) == DueDay(date(2020, 1, 19), provisional=False)
    assert cal.nth_working_day_after(date(2026, 12, 30), 2) == DueDay(date(2027, 1, 4), provisional=True)


def test_feedback_is_due_at_the_end_of_the_nth_working_day_in_shanghai(cal):
    issued = datetime(2020, 3, 5, 20, 0, tzinfo=timezone.utc)  # Friday 04:00 in Shanghai
    # End of Friday 2020-03-13, the 5th working day after the 6th.
    assert cal.end_of_nth_working_day_after(issued, 5) == Deadline(sh(2020, 3, 14, 0, 0), provisional=False)
    assert cal.end_of_nth_working_day_after(issued, 0) == Deadline(issued, provisional=False)
    # Issued Thursday 2020-01-23; the extended holiday ran to Sunday 02-02: due at the end of Monday 02-03.
    assert cal.end_of_nth_working_day_after(sh(2020, 1, 23, 10), 1).at == sh(2020, 2, 4, 0, 0)
