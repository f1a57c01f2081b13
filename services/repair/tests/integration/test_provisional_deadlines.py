"""A deadline computed on the provisional calendar says so, and is recomputed when the official schedule ships.

The application is accepted on 2026-12-31 10:00 (Asia/Shanghai) — a day the API cannot be made to live in, so the
acceptance goes through the service function with that ``now``, against the real database; everything after it
(the answer's ``provisional``, the recomputation on start-up, its event, the moved SLA timer) is the running service.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import structlog

from jointcredit_common.auth import Principal
from jointcredit_common.calendar import SHANGHAI, WorkingDayCalendar
from jointcredit_common.calendar.schedules import load_schedule_files, shipped_schedules
from jointcredit_common.catalog import load_catalog
from jointcredit_common.testing.factories import uscc
from repair_service.calendar.service import recompute_provisional_deadlines
from repair_service.repairs import service
from repair_service.repairs.schemas import RepairIn

from .conftest import application

pytestmark = pytest.mark.consumers  # the listing reaches repair as an event

# A made-up official 2027 schedule (test data): 春节 closes 2027-02-05 … 02-13, and 元旦 runs to Monday 01-04.
OFFICIAL_2027 = """
year: 2027
source: {title: 国务院办公厅关于2027年部分节假日安排的通知, document_no: 国办发明电〔2026〕99号 (test data)}
holidays:
  元旦: [2027-01-01, 2027-01-04]
  春节: [2027-02-05, 2027-02-13]
"""


async def accept_on(repair, enterprise: str, now: datetime) -> str:
    record = await repair.list_record(f"enterprise:{enterprise}")
    async with repair.runtime.sessionmaker() as session, session.begin():
        accepted = await service.accept_application(
            session, body=RepairIn.model_validate(application(enterprise, [record])),
            principal=Principal(role="department", principal="market_regulation"), settings=repair.runtime.settings,
            catalog=load_catalog(), hasher=repair.runtime.hasher, outbox=repair.runtime.outbox,
            calendar=await repair.runtime.calendar.get(), now=now,
        )
    return str(accepted["id"])


async def test_a_provisional_deadline_says_so_and_is_recomputed_when_the_official_schedule_ships(repair, tmp_path: Path):
    new_years_eve = await accept_on(repair, uscc(9300), datetime(2026, 12, 31, 10, tzinfo=SHANGHAI))
    ordinary = await accept_on(repair, uscc(9301), datetime(2026, 12, 29, 10, tzinfo=SHANGHAI))  # due 12-30: official
    spring = await accept_on(repair, uscc(9302), datetime(2026, 12, 31, 11, tzinfo=SHANGHAI))

    shown = (await repair.client.get(f"/v1/repairs/{new_years_eve}", headers=repair.department)).json()
    assert shown["due_at"] == "2027-01-04T10:00:00+08:00" and shown["provisional"] is True
    assert (await repair.client.get(f"/v1/repairs/{ordinary}", headers=repair.department)).json()["provisional"] is False

    # Nothing to recompute while 2027 is still provisional.
    assert await recompute_provisional_deadlines(repair.runtime) == []

    # schedules/2027.yaml ships: 2027-01-04 is now an official holiday, so the deadline moves to Tuesday 01-05.
    (tmp_path / "2027.yaml").write_text(OFFICIAL_2027, encoding="utf-8")
    official = WorkingDayCalendar(schedules={**shipped_schedules(), **load_schedule_files(tmp_path)})
    with structlog.testing.capture_logs() as logs:
        changed = await recompute_provisional_deadlines(repair.runtime, official)
    assert [(c["application_id"], c["due_at"]) for c in changed] == [
        (new_years_eve, "2027-01-05T10:00:00+08:00"), (spring, "2027-01-05T11:00:00+08:00")]
    logged = [entry for entry in logs if entry["event"] == "provisional_deadlines_recomputed"]
    assert len(logged) == 1 and logged[0]["applications"] == [new_years_eve, spring]

    shown = (await repair.client.get(f"/v1/repairs/{new_years_eve}", headers=repair.department)).json()
    assert shown["due_at"] == "2027-01-05T10:00:00+08:00" and shown["provisional"] is False
    timers = await repair.rows("SELECT a.id::text AS id, t.due_at FROM sla_timers t JOIN repair_applications a "
                               "ON a.id = t.application_id ORDER BY a.accepted_at")
    assert {t["id"]: t["due_at"].astimezone(SHANGHAI).isoformat() for t in timers}[new_years_eve] == "2027-01-05T10:00:00+08:00"
    events = await repair.rows("SELECT data FROM outbox WHERE type LIKE '%repair.deadlines_recomputed.v1'")
    assert len(events) == 1
    assert [a["application_id"] for a in events[0]["data"]["applications"]] == [new_years_eve, spring]
    assert events[0]["data"]["applications"][0]["previous_due_at"].startswith("2027-01-04T02:00:00")

    # Done once: a second pass (another replica, a restart) finds nothing provisional left.
    assert await recompute_provisional_deadlines(repair.runtime, official) == []
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.deadlines_recomputed.v1'") == 1
