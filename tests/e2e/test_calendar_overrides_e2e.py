"""The city's calendar overrides have one owner: set on repair, learned by rating through the bus — real processes.

An admin closes the next working day on repair (PUT /v1/calendar/overrides/{date}); repair writes
calendar.override_changed.v1 with it; rating's calendar consumer mirrors it, and the next objection filed at rating
is due one working day later than before. Nothing reads another service's database.
"""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from jointcredit_common.calendar import WorkingDayCalendar
from jointcredit_common.clock import today_in_china
from jointcredit_common.testing.factories import uscc

pytestmark = pytest.mark.e2e


def poll(check, what: str, timeout: float = 30.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_closure_set_on_repair_moves_the_objection_deadline_at_rating(jc_stack):
    stack = jc_stack("ingest", "rating", "repair")
    today = today_in_china()
    department = {"Authorization": f"Bearer {stack.token('department', 'market_regulation')}"}
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    enterprise = uscc(4101)
    report = {
        "subject": {"type": "enterprise", "id": enterprise, "name": "大连日历联动测试有限公司"},
        "behavior": "E7", "occurred_on": (today - timedelta(days=30)).isoformat(), "description": "哄抬口罩价格",
        "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕91号",
                     "authority": "大连市市场监督管理局", "decided_on": (today - timedelta(days=10)).isoformat()},
    }
    national = WorkingDayCalendar()
    closed = national.next_working_day(today)
    before = national.nth_working_day_after(today, 5).day
    after = WorkingDayCalendar({closed: False}).nth_working_day_after(today, 5).day
    assert after > before

    with httpx.Client(base_url=stack.url("ingest"), timeout=10) as ingest, \
            httpx.Client(base_url=stack.url("rating"), timeout=10) as rating, \
            httpx.Client(base_url=stack.url("repair"), timeout=10) as repair:
        assert ingest.post("/v1/reports", json=report, headers=department).status_code == 202
        record = poll(lambda: next(iter(rating.get(f"/v1/subjects/enterprise/{enterprise}", headers=admin)
                                        .json().get("records", [])), None), "rating to list the enterprise")
        objections = f"/v1/records/{record['id']}/objections"

        def objection_due_on() -> str:
            filed = rating.post(objections, json={"grounds": "企业称售价系进货成本上涨所致"}, headers=admin)
            assert filed.status_code == 201, filed.text
            decided = rating.post(f"{objections}/{filed.json()['id']}:decide", json={"decision": "rejected", "reason": "不成立"},
                                  headers=admin)
            assert decided.status_code == 200, decided.text
            return filed.json()["due_on"]

        assert objection_due_on() == before.isoformat()
        set_override = repair.put(f"/v1/calendar/overrides/{closed.isoformat()}",
                                  json={"working": False, "reason": "大连市人民政府通知（测试）"}, headers=admin)
        assert set_override.status_code == 200, set_override.text
        poll(lambda: objection_due_on() == after.isoformat(), "rating to learn the closure from repair's event")
