"""Deadline arithmetic through the API: GET /v1/calendar/add and POST /v1/repairs (admin-backdated accepted_at).

Expected values are read off the State Council schedules, not computed by the implementation:
- 国办发〔2019〕16号 (2020 holidays): 元旦 1月1日; 春节 1月24日至30日, 1月19日(星期日)、2月1日(星期六)上班;
  劳动节 5月1日至5日, 4月26日(星期日)、5月9日(星期六)上班; 端午 6月25日至27日, 6月28日(星期日)上班;
  国庆中秋 10月1日至8日, 9月27日(星期日)、10月10日(星期六)上班.
- 国办发明电〔2020〕1号: 春节假期延长至2月2日(星期日), 2月3日(星期一)起正常上班.
Weeks without any of these dates are ordinary Monday–Friday weeks. The green channel is 1 working day (三(一)).
"""

from __future__ import annotations

import pytest

from jointcredit_common.testing.factories import uscc

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
async def test_a_year_beyond_the_provisional_one_is_a_clear_problem_naming_the_date(repair):
    # Official schedules cover 2004-2026 (chinesecalendar, schedules/2026.yaml), 2027 is provisional, 2028 is not covered.
    response = await repair.client.get("/v1/calendar/add", params={"from": "2028-06-02T10:00:00+08:00", "days": 1})
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "query.from" and problem["covered_years"] == [2004, 2027]
    assert problem["uncovered_date"] == "2028-06-02" and "2028-06-02" in problem["detail"]
    # The last day of the provisional year + 1 working day needs 2028: refused, not guessed.
    response = await repair.client.get("/v1/calendar/add", params={"from": "2027-12-31T10:00:00+08:00", "days": 1})
    assert response.status_code == 422 and response.json()["uncovered_date"] == "2028-01-01"
    assert (await repair.client.get("/v1/calendar/days/2028-01-03")).status_code == 422

    enterprise = uscc(9100)
    record = await repair.list_record(f"enterprise:{enterprise}")
    before = "2003-06-02T10:00:00+08:00"  # a past year before the data (backdating is past-only)
    filed = await repair.post(repair.application(enterprise, [record], accepted_at=before), repair.admin)
    assert filed.status_code == 422, filed.text
    problem = filed.json()
    assert problem["field"] == "body.accepted_at" and problem["covered_years"] == [2004, 2027]
    assert problem["uncovered_date"] == "2003-06-02"
    assert await repair.scalar("SELECT count(*) FROM repair_applications") == 0
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.%'") == 0


@pytest.mark.parametrize(
    ("start", "expected", "why"),
    [("2026-12-31T10:00:00+08:00", "2027-01-04T10:00:00+08:00", "元旦 2027-01-01 (Fri), then the weekend"),
     ("2027-02-04T10:00:00+08:00", "2027-02-09T10:00:00+08:00", "春节 除夕 2027-02-05 to 初三 02-08")],
)
async def test_the_year_after_the_last_official_schedule_is_answered_provisionally(repair, start, expected, why):
    response = await repair.client.get("/v1/calendar/add", params={"from": start, "days": 1})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == expected, why
    assert response.json()["provisional"] is True
    official = await repair.client.get("/v1/calendar/add", params={"from": "2026-12-30T10:00:00+08:00", "days": 1})
    assert official.json()["provisional"] is False
    day = (await repair.client.get("/v1/calendar/days/2027-02-05")).json()
    assert day == {"date": "2027-02-05", "working_day": False, "provisional": True}
    assert 'jc_calendar_provisional_answers_total{service="repair",use="calendar_add"}' in (await repair.client.get("/metrics")).text


async def test_coverage_is_reported_with_its_sources(repair):
    body = (await repair.client.get("/v1/calendar/coverage")).json()
    assert body["official_years"] == [2004, 2026] and body["provisional_year"] == 2027
    assert body["official_until"] == "2026-12-31" and body["provisional_until"] == "2027-12-31"
    assert "国办发明电〔2025〕7号" in body["sources"]["2026"] and "国务院令第795号" in body["sources"]["2027"]
    ready = (await repair.client.get("/readyz")).json()
    assert ready["details"]["calendar"]["official_until"] == "2026-12-31"


async def test_a_city_override_in_the_provisional_year_is_used_and_published(repair):
    # The city announces that Monday 2027-01-04 stays closed: 2026-12-31 + 1 → Tuesday 2027-01-05, still provisional
    # (the walk crossed provisional days), and rating and sanctions are told by event.
    response = await repair.client.put("/v1/calendar/overrides/2027-01-04", json={"working": False, "reason": "大连市通知（测试）"},
                                       headers=repair.department)
    assert response.status_code == 403
    response = await repair.client.put("/v1/calendar/overrides/2027-01-04", json={"working": False, "reason": "大连市通知（测试）"},
                                       headers=repair.admin)
    assert response.status_code == 200, response.text
    result = await repair.client.get("/v1/calendar/add", params={"from": "2026-12-31T10:00:00+08:00", "days": 1})
    assert result.json()["result"] == "2027-01-05T10:00:00+08:00" and result.json()["provisional"] is True
    assert (await repair.client.get("/v1/calendar/overrides")).json()["items"] == [
        {"date": "2027-01-04", "working": False, "reason": "大连市通知（测试）"}]
    assert (await repair.client.delete("/v1/calendar/overrides/2027-01-04", headers=repair.admin)).status_code == 204
    assert (await repair.client.delete("/v1/calendar/overrides/2027-01-04", headers=repair.admin)).status_code == 404
    result = await repair.client.get("/v1/calendar/add", params={"from": "2026-12-31T10:00:00+08:00", "days": 1})
    assert result.json()["result"] == "2027-01-04T10:00:00+08:00"
    assert await repair.scalar("SELECT count(*) FROM audit_log WHERE action LIKE 'calendar.override.%'") == 2
    events = await repair.rows("SELECT key, data FROM outbox WHERE type LIKE '%calendar.override_changed.v1' ORDER BY seq")
    assert [(e["key"], e["data"]["working"], e["data"]["day"]) for e in events] == [
        ("calendar:2027-01-04", False, "2027-01-04"), ("calendar:2027-01-04", None, "2027-01-04")]


@pytest.mark.consumers
async def test_a_city_closure_moves_the_repair_deadline(repair):
    # The city closes Monday 2020-03-09 (an override): Friday 16:30 + 1 working day → Tuesday 2020-03-10 16:30.
    assert (await repair.client.put("/v1/calendar/overrides/2020-03-09", json={"working": False, "reason": "测试闭馆"},
                                    headers=repair.admin)).status_code == 200
    enterprise = uscc(9200)
    record = await repair.list_record(f"enterprise:{enterprise}")
    filed = await repair.post(repair.application(enterprise, [record], accepted_at="2020-03-06T16:30:00+08:00"), repair.admin)
    assert filed.status_code == 201 and filed.json()["due_at"] == "2020-03-10T16:30:00+08:00"
