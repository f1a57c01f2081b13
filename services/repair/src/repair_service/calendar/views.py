"""The calendar API: working-day arithmetic for anyone, the city's overrides for admins."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query, Request

from jointcredit_common.auth import AdminPrincipal
from jointcredit_common.calendar import SHANGHAI, CalendarNotCovered, not_covered_problem
from jointcredit_common.calendar.coverage import count_provisional, coverage
from jointcredit_common.app import ServiceRuntime
from repair_service.calendar import service
from repair_service.calendar.schemas import OverrideIn

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


@router.get("/add", summary="Add working days (China's official calendar, Asia/Shanghai, city overrides)")
async def add_working_days(
    request: Request,
    from_: datetime = Query(alias="from", description="ISO 8601 with offset; a date-only value means 00:00 in Asia/Shanghai"),
    days: int = Query(1, ge=0, le=365),
) -> dict[str, Any]:
    calendar = await _runtime(request).calendar.get()
    start = from_ if from_.tzinfo else from_.replace(tzinfo=SHANGHAI)
    try:
        result = calendar.add(start, days)
    except CalendarNotCovered as exc:
        raise not_covered_problem(exc, "query.from") from exc
    count_provisional("repair", "calendar_add", result.provisional)
    return {"from": start.astimezone(SHANGHAI).isoformat(), "days": days, "result": result.at.isoformat(),
            "provisional": result.provisional, "timezone": "Asia/Shanghai"}


@router.get("/days/{day}", summary="Whether a date is a working day")
async def working_day(request: Request, day: date) -> dict[str, Any]:
    calendar = await _runtime(request).calendar.get()
    try:
        working, provisional = calendar.day_status(day)
    except CalendarNotCovered as exc:
        raise not_covered_problem(exc, "path.day") from exc
    return {"date": day.isoformat(), "working_day": working, "provisional": provisional}


@router.get("/coverage", summary="How far the calendar reaches: official schedules, the provisional year, then 422")
async def calendar_coverage(request: Request) -> dict[str, Any]:
    calendar = await _runtime(request).calendar.get()
    years = {year: calendar.schedule(year) for year in (calendar.official_years.stop - 1, calendar.provisional_year)}
    return coverage(calendar) | {
        "official_years": [calendar.official_years.start, calendar.official_years.stop - 1],
        "provisional_year": calendar.provisional_year,
        "sources": {str(year): schedule.source for year, schedule in years.items() if schedule is not None},
    }


# --- the city's override table (admin) -------------------------------------------------------------------


@router.get("/overrides", summary="The city's overrides of the national schedule")
async def list_overrides(request: Request) -> dict[str, Any]:
    async with _runtime(request).sessionmaker() as session:
        return {"items": await service.list_overrides(session)}


@router.put("/overrides/{day}", summary="Set a city override (admin); rating and sanctions follow it by event. "
            "Deadlines already computed do not move.")
async def put_override(request: Request, day: date, body: OverrideIn, admin: AdminPrincipal) -> dict[str, Any]:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        runtime.calendar.invalidate_after_commit(session)
        return await service.set_override(session, day=day, override_in=body, admin=admin, outbox=runtime.outbox,
                                          now=datetime.now(UTC), request=request)


@router.delete("/overrides/{day}", status_code=204, summary="Remove a city override (admin)")
async def delete_override(request: Request, day: date, admin: AdminPrincipal) -> None:
    runtime = _runtime(request)
    async with runtime.unit_of_work() as session:
        runtime.calendar.invalidate_after_commit(session)
        await service.clear_override(session, day=day, admin=admin, outbox=runtime.outbox, now=datetime.now(UTC),
                                     request=request)
