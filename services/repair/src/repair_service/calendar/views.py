from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import text

from jointcredit_common.errors import ValidationFailed
from jointcredit_common.service import ServiceRuntime
from repair_service.calendar.working_days import SHANGHAI, CalendarNotCovered, WorkingDayCalendar

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


async def load_calendar(runtime: ServiceRuntime) -> WorkingDayCalendar:
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(text("SELECT day, working FROM calendar_overrides"))).all()
    return WorkingDayCalendar({day: working for day, working in rows})


@router.get("/add", summary="Add working days (China's official calendar, Asia/Shanghai, city overrides)")
async def add_working_days(
    request: Request,
    from_: datetime = Query(alias="from", description="ISO 8601 with offset; a date-only value means 00:00 in Asia/Shanghai"),
    days: int = Query(1, ge=0, le=365),
) -> dict[str, Any]:
    calendar = await load_calendar(request.app.state.runtime)
    start = from_ if from_.tzinfo else from_.replace(tzinfo=SHANGHAI)
    try:
        result = calendar.add_working_days(start, days)
    except CalendarNotCovered as exc:
        raise ValidationFailed(str(exc), field="query.from", covered_years=[exc.covered_years.start, exc.covered_years.stop - 1]) from exc
    return {"from": start.astimezone(SHANGHAI).isoformat(), "days": days, "result": result.isoformat(), "timezone": "Asia/Shanghai"}


@router.get("/days/{day}", summary="Whether a date is a working day")
async def working_day(request: Request, day: date) -> dict[str, Any]:
    calendar = await load_calendar(request.app.state.runtime)
    try:
        return {"date": day.isoformat(), "working_day": calendar.is_working_day(day)}
    except CalendarNotCovered as exc:
        raise ValidationFailed(str(exc), field="path.day") from exc
