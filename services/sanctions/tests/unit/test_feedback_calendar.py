"""Feedback due dates count working days under China's official calendar, in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sanctions_service.measures.calendar import SHANGHAI, add_working_days, feedback_due_at, is_working_day


def test_the_extended_2020_spring_festival_is_not_counted():
    # Issued Thursday 2020-01-23; the holiday ran to Sunday 2020-02-02 (extended by the State Council).
    assert add_working_days(date(2020, 1, 23), 1) == date(2020, 2, 3)


def test_an_adjusted_weekend_working_day_counts():
    # Sunday 2020-01-19 was a working day (调休) before the Spring Festival.
    assert is_working_day(date(2020, 1, 19))
    assert add_working_days(date(2020, 1, 18), 1) == date(2020, 1, 19)


def test_feedback_is_due_at_the_end_of_the_nth_working_day_in_shanghai():
    issued = datetime(2020, 3, 5, 20, 0, tzinfo=UTC)  # Friday 04:00 in Shanghai
    due = feedback_due_at(issued, 5)
    assert due == datetime(2020, 3, 14, 0, 0, tzinfo=SHANGHAI)  # end of Friday 2020-03-13, 5 working days after the 6th
    assert feedback_due_at(issued, 0) == issued


def test_years_beyond_the_official_table_fall_back_to_weekdays():
    assert is_working_day(date(2099, 6, 1)) is True  # a Monday
    assert is_working_day(date(2099, 6, 6)) is False  # a Saturday
