"""The walking skeleton, for real: four service processes, the real broker and real databases.

POST a W1 report (no penalty) at ingest → report.received → rating lists the enterprise on the key warning
list (一.1) → subject.listed → sanctions issues the catalog's measures on each agency's topic → ingest shows
the outcome at GET /v1/reports/{id}.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jointcredit_common.catalog import load_catalog
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

# Recent conduct: key warning and red periods run from the conduct (issue 13 item 2); a 2020 act reported now is history.
RECENT_CONDUCT = ((datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=10)).isoformat()

pytestmark = pytest.mark.e2e


def wait_for_status(client: httpx.Client, url: str, token: str, status: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(url, headers={"Authorization": f"Bearer {token}"}).json()
        if body.get("status") == status:
            return body
        time.sleep(0.25)
    raise AssertionError(f"report never reached {status}: {body}")


async def test_resumption_violation_without_penalty_reaches_the_agencies_as_key_warning_measures(jc_stack):
    stack = jc_stack("ingest", "rating", "sanctions", "repair")
    token = stack.token("department", "market_regulation")
    enterprise = uscc(4001)
    report = {
        "subject": {"type": "enterprise", "id": enterprise, "name": "大连某某机械制造有限公司"},
        "behavior": "W1",
        "occurred_on": RECENT_CONDUCT,
        "description": "未严格履行复工复产规定",
        "evidence": {"kind": "none"},
    }
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with httpx.Client(base_url=stack.url("ingest"), timeout=10) as client:
        response = client.post("/v1/reports", json=report, headers={
            "Authorization": f"Bearer {token}", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["status"] == "received"
        classified = wait_for_status(client, f"/v1/reports/{accepted['id']}", token, "classified")
    assert classified["outcome"] == "key_warning"
    assert classified["clause_codes"] == ["W1"]
    assert "大信办字〔2020〕4号" in classified["reason_zh"]

    catalog = load_catalog()
    expected = {(route.agency, code) for code in catalog.behavior("W1").measures for route in catalog.measure(code).agencies}
    assert expected, "the catalog routes W1's measures to agencies"
    for agency in {agency for agency, _ in expected}:
        wanted = {code for a, code in expected if a == agency}
        events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"),
                                  until=lambda evs, w=wanted: {e.data["measure"] for e in evs} >= w, timeout=30)
        issued = [e for e in events if e.type.endswith("measure.issued.v1")]
        assert {e.data["measure"] for e in issued} == wanted
        assert all(e.key == f"enterprise:{enterprise}" and e.data["list"] == "key_warning" for e in issued)
        assert all(e.data["basis"]["document"] == "大信办字〔2020〕4号" for e in issued)
        # The W3C trace started by the department's HTTP request reaches the agency's event, two hops later.
        assert all(e.traceparent and e.traceparent.split("-")[1] == trace_id for e in issued)
