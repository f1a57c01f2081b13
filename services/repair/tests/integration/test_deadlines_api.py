"""Deadline arithmetic through the API: GET /v1/calendar/add and POST /v1/repairs (admin-backdated accepted_at).

Expected values are read off the State Council schedules, not computed by the implementation:
- 国办发〔2019〕16号 (2020 holidays): 元旦 1月1日; 春节 1月24日至30日, 1月19日(星期日)、2月1日(星期六)上班;
  劳动节 5月1日至5日, 4月26日(星期日)、5月9日(星期六)上班; 端午 6月25日至27日, 6月28日(星期日)上班;
  国庆中秋 10月1日至8日, 9月27日(星期日)、10月10日(星期六)上班.
- 国办发明电〔2020〕1号: 春节假期延长至2月2日(星期日), 2月3日(星期一)起正常上班.
Weeks without any of these dates are ordinary Monday–Friday weeks. The green channel is 1 working day (三(一)).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jointcredit_common.testing.factories import uscc
from repair_service.calendar import WorkingDayCalendar

CASES = [
    # (name, accepted_at, expected due_at, source)
    ("friday_afternoon", "2020-03-06T16:30:00+08:00", "2020-03-09T16:30:00+08:00",
     "ordinary week: Friday → Monday (no holiday near 2020-03-06 in 国办发〔2019〕16号)"),
    ("friday_before_make_up_saturday", "2020-05-08T15:00:00+08:00", "2020-05-09T15:00:00+08:00",
     "5月9日(星期六)上班 (国办发〔2019〕16号)"),
    ("make_up_saturday", "2020-05-09T10:15:00+08:00", "2020-05-11T10:15:00+08:00",
     "5月9日(星期六)上班; Sunday 05-10 rests; Monday 05-11 works"),
    ("eve_of_national_day", "2020-09-30T17:00:00+08:00", "2020-10-09T17:00:00+08:00",
     "国庆中秋 10月1日至8日 off; 10-09 (Friday) works (国办发〔2019〕16号)"),
    ("eve_of_dragon_boat", "2020-06-24T14:00:00+08:00", "2020-06-28T14:00:00+08:00",
     "端午 6月25日至27日 off, 6月28日(星期日)上班 (国办发〔2019〕16号)"),
    ("before_extended_spring_festival", "2020-01-23T11:00:00+08:00", "2020-02-03T11:00:00+08:00",
     "春节 01-24..30 extended to 02-02 (国办发明电〔2020〕1号); 2月3日起正常上班"),
    ("utc_friday_afternoon", "2020-03-06T08:00:00+00:00", "2020-03-09T16:00:00+08:00",
     "08:00Z = Friday 16:00 in Shanghai; ordinary week"),
]


@pytest.mark.consumers
@pytest.mark.parametrize(("name", "accepted_at", "expected", "source"), CASES, ids=[c[0] for c in CASES])
async def test_calendar_add_and_repair_deadline_agree_with_the_official_schedule(repair, name, accepted_at, expected, source):
    response = await repair.client.get("/v1/calendar/add", params={"from": accepted_at, "days": 1})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == expected, source

    enterprise = uscc(9000 + CASES.index(next(c for c in CASES if c[0] == name)))
    record = await repair.list_record(f"enterprise:{enterprise}")
    filed = await repair.post(repair.application(enterprise, [record], accepted_at=accepted_at), repair.admin)
    assert filed.status_code == 201, filed.text
    assert filed.json()["channel"] == "green"
    assert filed.json()["due_at"] == expected, source
    stored = await repair.rows("SELECT backdated, applicant_role FROM repair_applications")
    assert stored == [{"backdated": True, "applicant_role": "admin"}]


@pytest.mark.consumers
async def test_a_year_outside_the_calendar_data_is_a_clear_problem(repair):
    covered = WorkingDayCalendar.covered_years()
    outside = covered.stop + 3  # no State Council schedule published for it in chinesecalendar
    response = await repair.client.get("/v1/calendar/add", params={"from": f"{outside}-06-02T10:00:00+08:00", "days": 1})
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "query.from" and problem["covered_years"] == [covered.start, covered.stop - 1]
    assert f"{outside}-06-02" in problem["detail"]

    enterprise = uscc(9100)
    record = await repair.list_record(f"enterprise:{enterprise}")
    before = f"{covered.start - 1}-06-02T10:00:00+08:00"  # a past year before the data (backdating is past-only)
    filed = await repair.post(repair.application(enterprise, [record], accepted_at=before), repair.admin)
    assert filed.status_code == 422, filed.text
    problem = filed.json()
    assert problem["field"] == "body.accepted_at" and problem["covered_years"] == [covered.start, covered.stop - 1]
    assert problem["uncovered_date"] == f"{covered.start - 1}-06-02"
    assert await repair.scalar("SELECT count(*) FROM repair_applications") == 0
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.%'") == 0


async def test_the_last_day_of_the_data_needs_the_next_year_and_a_city_override_supplies_it(repair):
    last_year = WorkingDayCalendar.covered_years().stop - 1  # 2026 with chinesecalendar 1.11.0
    # The last working day of the data + 1 working day lands in a year without data: refused, not guessed.
    day = date(last_year, 12, 31)
    while not WorkingDayCalendar().is_working_day(day):  # 2026-12-31 is a Thursday and works
        day -= timedelta(days=1)
    last = await repair.client.get("/v1/calendar/add", params={"from": f"{day.isoformat()}T10:00:00+08:00", "days": 1})
    assert last.status_code == 422 and last.json()["field"] == "query.from"
    assert f"{last_year + 1}-01-01" in last.json()["detail"]
    # The city publishes its own days until the State Council schedule is packaged (admin, audited).
    overrides = {f"{last_year + 1}-01-01": False, f"{last_year + 1}-01-02": False, f"{last_year + 1}-01-03": False,
                 f"{last_year + 1}-01-04": True}
    for day, working in overrides.items():
        assert (await repair.client.put(f"/v1/calendar/overrides/{day}", json={"working": working, "reason": "大连市通知（测试）"},
                                        headers=repair.department)).status_code == 403
        response = await repair.client.put(f"/v1/calendar/overrides/{day}", json={"working": working, "reason": "大连市通知（测试）"},
                                           headers=repair.admin)
        assert response.status_code == 200, response.text
    result = await repair.client.get("/v1/calendar/add", params={"from": f"{last_year + 1}-01-01T09:00:00+08:00", "days": 1})
    # 01-01 is closed by override: the clock starts 01-04 00:00 and one full working day ends 01-05 00:00.
    assert result.status_code == 200 and result.json()["result"] == f"{last_year + 1}-01-05T00:00:00+08:00"
    listed = (await repair.client.get("/v1/calendar/overrides")).json()["items"]
    assert [i["date"] for i in listed] == list(overrides)
    assert await repair.scalar("SELECT count(*) FROM audit_log WHERE action = 'calendar.override.set'") == 4
    assert (await repair.client.delete(f"/v1/calendar/overrides/{last_year + 1}-01-04", headers=repair.admin)).status_code == 204
    assert (await repair.client.delete(f"/v1/calendar/overrides/{last_year + 1}-01-04", headers=repair.admin)).status_code == 404


@pytest.mark.consumers
async def test_a_city_closure_moves_the_repair_deadline(repair):
    # The city closes Monday 2020-03-09 (an override): Friday 16:30 + 1 working day → Tuesday 2020-03-10 16:30.
    assert (await repair.client.put("/v1/calendar/overrides/2020-03-09", json={"working": False, "reason": "测试闭馆"},
                                    headers=repair.admin)).status_code == 200
    enterprise = uscc(9200)
    record = await repair.list_record(f"enterprise:{enterprise}")
    filed = await repair.post(repair.application(enterprise, [record], accepted_at="2020-03-06T16:30:00+08:00"), repair.admin)
    assert filed.status_code == 201 and filed.json()["due_at"] == "2020-03-10T16:30:00+08:00"
