"""End to end, real processes (ingest, rating, sanctions) on the real broker: a department reports a
dishonest enterprise at ingest → rating lists it → sanctions issues the measures on the agencies' topics →
an objection is upheld at rating → the record is withdrawn → sanctions lifts every measure it issued."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

pytestmark = pytest.mark.e2e
SHANGHAI = timezone(timedelta(hours=8))
ISSUED = "cn.dalian.jointcredit.measure.issued.v1"
LIFTED = "cn.dalian.jointcredit.measure.lifted.v1"


def poll(fetch, what: str, timeout: float = 30.0):  # noqa: ANN001, ANN201
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = fetch()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {last}")


async def test_upheld_objection_withdraws_the_listing_and_sanctions_lifts_every_measure(jc_stack):
    stack = jc_stack("ingest", "rating", "sanctions")
    enterprise = uscc(890_001)
    department = {"Authorization": f"Bearer {stack.token('department', 'market_regulation')}"}
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    today = datetime.now(SHANGHAI).date()
    report = {
        "subject": {"type": "enterprise", "id": enterprise, "name": "大连异议撤销测试防护用品有限公司"},
        "behavior": "E4", "occurred_on": (today - timedelta(days=20)).isoformat(), "description": "销售不合格口罩",
        "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕90号", "authority": "大连市市场监督管理局",
                     "decided_on": (today - timedelta(days=5)).isoformat()},
    }
    with httpx.Client(base_url=stack.url("ingest"), timeout=10) as ingest:
        assert ingest.post("/v1/reports", json=report, headers=department).status_code == 202
    with httpx.Client(base_url=stack.url("rating"), timeout=10) as rating:
        listed = poll(lambda: rating.get("/v1/public/lists/dishonest", params={"q": enterprise}).json()["items"],
                      "the dishonest listing")
        record_id = listed[0]["record_id"]
        # The P3 measure (通报批评、公开谴责) reaches its agency's own topic.
        topic = stack.topic("measures.credit_china_dalian")
        events = await read_topic(stack.bootstrap, topic, timeout=60,
                                  until=lambda evs: any(e.type == ISSUED and e.data["record_id"] == record_id for e in evs))
        issued = {e.data["measure_id"] for e in events if e.type == ISSUED and e.data["record_id"] == record_id}
        assert issued

        filed = rating.post(f"/v1/records/{record_id}/objections", json={"grounds": "处罚决定已被复议撤销"}, headers=department)
        assert filed.status_code == 201, filed.text
        assert rating.get("/v1/public/lists/dishonest", params={"q": enterprise}).json()["items"][0]["disputed"] is True
        decided = rating.post(f"/v1/records/{record_id}/objections/{filed.json()['id']}:decide",
                              json={"decision": "upheld", "reason": "行政复议决定撤销原处罚"}, headers=admin)
        assert decided.status_code == 200 and decided.json()["record_state"] == "withdrawn"
        assert rating.get("/v1/public/lists/dishonest", params={"q": enterprise}).json()["items"] == []

    events = await read_topic(stack.bootstrap, topic, timeout=60, settle=1.0,
                              until=lambda evs: issued <= {e.data["measure_id"] for e in evs if e.type == LIFTED})
    lifted = [e.data for e in events if e.type == LIFTED and e.data["record_id"] == record_id]
    assert sorted(d["measure_id"] for d in lifted) == sorted(issued)  # each lifted exactly once
