"""China's official working-day calendar for the repair SLA (三(一): "原则上在1个工作日内完成")."""

from repair_service.calendar.working_days import CalendarNotCovered, WorkingDayCalendar

__all__ = ["CalendarNotCovered", "WorkingDayCalendar"]
