"""Real processes (ingest + rating), the real broker and databases: a 10,000-report batch is accepted and every report
reaches ``classified``; a withdrawal then undoes the credit record rating built on one of them (DESIGN §2 due process).
The timings are printed for docs/benchmarks.md."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from jointcredit_common.events.schemas import RecordWithdrawn
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

# Recent conduct: key warning and red periods run from the conduct (issue 13 item 2); a 2020 act reported now is history.
RECENT_CONDUCT = ((datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=10)).isoformat()

pytestmark = pytest.mark.e2e
COUNT = 10_000


def report(n: int) -> dict:
    return {"subject": {"type": "enterprise", "id": uscc(100_000 + n), "name": f"大连第{n}号企业有限公司"},
            "behavior": "W1", "occurred_on": RECENT_CONDUCT, "description": "未严格履行复工复产规定", "evidence": {"kind": "none"}}


def wait_until_none_received(client: httpx.Client, token: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get("/v1/reports", params={"status": "received", "limit": 1}, headers={"Authorization": f"Bearer {token}"})
        if not page.json()["items"]:
            return
        time.sleep(0.5)
    raise AssertionError("reports still unclassified after the timeout")


@pytest.mark.timeout(600)  # two processes classify 10,000 reports end to end: ~90 s idle, minutes under load
async def test_a_batch_of_10000_reports_is_accepted_and_every_one_is_classified(jc_stack):
    stack = jc_stack("ingest", "rating")
    token = stack.token("department", "market_regulation")
    auth = {"Authorization": f"Bearer {token}"}
    body = b"\n".join(orjson.dumps(report(n)) for n in range(COUNT))
    with httpx.Client(base_url=stack.url("ingest"), timeout=300) as client:
        started = time.perf_counter()
        response = client.post("/v1/reports:batch", content=body, headers={**auth, "Content-Type": "application/x-ndjson"})
        accepted_after = time.perf_counter() - started
        assert response.status_code == 200, response.text[:500]
        assert response.json()["accepted"] == COUNT
        ids = [r["id"] for r in response.json()["results"]]

        wait_until_none_received(client, token, timeout=600)
        classified_after = time.perf_counter() - started

        outcomes: dict[str, int] = {}
        classified_at: list[str] = []
        seen = 0
        cursor = None
        while True:
            params = {"status": "classified", "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/reports", params=params, headers=auth).json()
            for item in page["items"]:
                outcomes[item["outcome"]] = outcomes.get(item["outcome"], 0) + 1
                classified_at.append(item["classified_at"])
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == COUNT and outcomes == {"key_warning": COUNT}

        received = datetime.fromisoformat(response.json()["results"][0].get("received_at", "") or
                                          client.get(f"/v1/reports/{ids[0]}", headers=auth).json()["received_at"])
        rating_span = (max(map(datetime.fromisoformat, classified_at)) - received).total_seconds()
        print(f"\nBENCHMARK batch of {COUNT} reports ({len(body) / 1e6:.1f} MB NDJSON): accepted in {accepted_after:.1f} s, "
              f"all classified (visible at ingest) after {classified_after:.1f} s ({COUNT / classified_after:.0f} reports/s "
              f"end to end); rating classified the last one {rating_span:.1f} s after the first was received")

        withdrawn = client.post(f"/v1/reports/{ids[42]}/withdraw", json={"reason": "经复核，该企业已按规定整改，原报告有误"}, headers=auth)
        assert withdrawn.status_code == 200, withdrawn.text
    events = await read_topic(stack.bootstrap, stack.topic("ratings"), timeout=90,
                              until=lambda evs: any(e.type == RecordWithdrawn.type_name() for e in evs))
    ended = [e for e in events if e.type == RecordWithdrawn.type_name()]
    assert [e.data["report_id"] for e in ended] == [ids[42]]
    assert ended[0].key == f"enterprise:{uscc(100_042)}"
