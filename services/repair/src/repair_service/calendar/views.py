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


# --- the city's override table (admin) -------------------------------------------------------------------

from pydantic import BaseModel, ConfigDict, Field  # noqa: E402
from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: E402

from jointcredit_common.auth import AdminPrincipal, record_audit  # noqa: E402
from jointcredit_common.errors import NotFound  # noqa: E402


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    working: bool = Field(description="true: an extra working day; false: an extra closure")
    reason: str = Field(min_length=1, max_length=500, description="e.g. the city government's notice number")


@router.get("/overrides", summary="The city's overrides of the national schedule")
async def list_overrides(request: Request) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(text("SELECT day, working, reason FROM calendar_overrides ORDER BY day"))).mappings().all()
    return {"items": [{"date": r["day"].isoformat(), "working": r["working"], "reason": r["reason"]} for r in rows]}


@router.put("/overrides/{day}", summary="Set a city override (admin). Deadlines already computed do not move.")
async def put_override(request: Request, day: date, body: OverrideIn, admin: AdminPrincipal) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    from repair_service.repairs.models import calendar_overrides

    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            pg_insert(calendar_overrides)
            .values(day=day, working=body.working, reason=body.reason)
            .on_conflict_do_update(index_elements=[calendar_overrides.c.day], set_={"working": body.working, "reason": body.reason})
        )
        await record_audit(session, principal=admin, action="calendar.override.set", target_type="calendar_day",
                           target_id=day.isoformat(), detail={"working": body.working, "reason": body.reason}, request=request)
    return {"date": day.isoformat(), "working": body.working, "reason": body.reason}


@router.delete("/overrides/{day}", status_code=204, summary="Remove a city override (admin)")
async def delete_override(request: Request, day: date, admin: AdminPrincipal) -> None:
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        deleted = (await session.execute(text("DELETE FROM calendar_overrides WHERE day = :d"), {"d": day})).rowcount
        if not deleted:
            raise NotFound(f"no override for {day.isoformat()}", field="path.day")
        await record_audit(session, principal=admin, action="calendar.override.delete", target_type="calendar_day",
                           target_id=day.isoformat(), request=request)
