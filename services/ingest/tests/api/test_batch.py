"""POST /v1/reports:batch — JSON array or NDJSON, per-item results, a bad item never blocks good ones."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from jointcredit_common.events.schemas import ReportReceived
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic
from ingest_service.reports.models import idempotency_keys, reports
from ingest_support import resident_id

_spec = importlib.util.spec_from_file_location("ingest_bad_input_cases", Path(__file__).with_name("test_bad_input.py"))
bad_input = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bad_input  # dataclasses look their module up
_spec.loader.exec_module(bad_input)

TABLES = ("reports", "outbox", "idempotency_keys", "audit_log")


def report(n: int, **changes) -> dict:
    return {
        "subject": {"type": "enterprise", "id": uscc(1000 + n), "name": f"大连第{n}号企业有限公司"},
        "behavior": "W1",
        "occurred_on": "2020-03-02",
        "evidence": {"kind": "none"},
        **changes,
    }


async def test_a_mixed_batch_stores_the_good_items_and_explains_the_bad_ones(ingest):
    items = [
        report(0),
        report(1, subject={"type": "enterprise", "id": bad_input.bad_uscc(), "name": "坏码企业"}),
        report(2),
        report(3, behavior="C2"),  # a citizen code for an enterprise
        {"not": "a report"},
        "a string",
        report(6, behavior="X4"),  # market_regulation may not report X4 (tax)
        report(7),
    ]
    response = await ingest.client.post("/v1/reports:batch", json=items, headers=ingest.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["status"] for r in results] == [202, 422, 202, 422, 422, 422, 403, 202]
    assert [r["problem"]["field"] for r in results if r["status"] != 202] == [
        "body.1.subject.id", "body.3.behavior", "body.4.subject", "body.5", "body.6.behavior"]
    ids = [r["id"] for r in results if r["status"] == 202]
    stored = await ingest.rows(select(reports.c.id, reports.c.subject_id))
    assert sorted(str(r["id"]) for r in stored) == sorted(ids)
    assert {r["subject_id"] for r in stored} == {uscc(1000), uscc(1002), uscc(1007)}
    assert await ingest.counts("outbox", "audit_log") == {"outbox": 3, "audit_log": 3}
    for r in results:
        if r["status"] == 202:
            shown = await ingest.client.get(f"/v1/reports/{r['id']}", headers=ingest.auth())
            assert shown.json()["status"] == "received"


async def test_ndjson_with_a_broken_line_and_blank_lines(ingest):
    lines = [orjson.dumps(report(0)), b"", orjson.dumps(report(1))[:-5], b"   ",
             orjson.dumps({**report(2), "subject": {"type": "citizen", "id": resident_id(3), "name": "李四"}, "behavior": "C5"}),
             orjson.dumps(report(3))]
    headers = {**ingest.auth("department", "intermediate_court"), "Content-Type": "application/x-ndjson"}
    response = await ingest.client.post("/v1/reports:batch", content=b"\n".join(lines) + b"\n", headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 400, 202, 202]
    assert results[1]["problem"]["field"] == "body.1"
    assert await ingest.counts("reports", "outbox") == {"reports": 3, "outbox": 3}
    citizen = (await ingest.rows(select(reports).where(reports.c.subject_type == "citizen")))[0]
    assert citizen["subject_id"] is None and resident_id(3) not in citizen["subject_id_encrypted"]


ITEM_CASES = [c for c in bad_input.CASES if c.json is not None and isinstance(c.json, dict)
              and c.auth == ("department", "market_regulation") and not c.headers and c.status != 413]
# The table-driven tests below share one app (a module-scoped fixture): the whole-batch cases need this limit.
SHARED_INGEST_SETTINGS = {"max_batch_items": 5}


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", ITEM_CASES, ids=lambda c: c.id)
async def test_items_are_validated_exactly_like_single_reports(shared_ingest, case):
    """Each bad single report of the table, as item 1 of a batch between two good ones: same status, same field."""
    ingest = shared_ingest  # one app for every case: each case reports its own two subjects, counts are deltas
    n = 100 * (1 + ITEM_CASES.index(case))
    before = await ingest.counts("reports", "outbox")
    response = await ingest.client.post("/v1/reports:batch", json=[report(n), case.json, report(n + 2)], headers=ingest.auth())
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, case.status, 202]
    assert results[1]["problem"]["field"] == case.field.replace("body", "body.1", 1)
    assert await ingest.counts("reports", "outbox") == {"reports": before["reports"] + 2, "outbox": before["outbox"] + 2}


WHOLE_BATCH_CASES = [
    ("not-an-array", {"json": report(0)}, 422, "body"),
    ("empty-array", {"json": []}, 422, "body"),
    ("empty-ndjson", {"content": b"\n\n", "headers": {"Content-Type": "application/x-ndjson"}}, 422, "body"),
    ("malformed-json", {"content": b"[{", "headers": {"Content-Type": "application/json"}}, 400, "body"),
    ("text-plain", {"content": b"[]", "headers": {"Content-Type": "text/plain"}}, 415, "header.Content-Type"),
    ("too-many-items", {"json": [report(n) for n in range(6)]}, 413, "body"),
    ("too-many-ndjson-lines", {"content": b"\n".join(orjson.dumps(report(n)) for n in range(7)),
                               "headers": {"Content-Type": "application/x-ndjson"}}, 413, "body"),
    ("missing-auth", {"json": [report(0)], "auth": None}, 401, "header.Authorization"),
    ("agency-token", {"json": [report(0)], "auth": ("agency", None)}, 403, "header.Authorization"),
    ("key-too-long", {"json": [report(0)], "headers": {"Idempotency-Key": "k" * 201}}, 422, "header.Idempotency-Key"),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("name", "request_", "status", "field"), WHOLE_BATCH_CASES, ids=[c[0] for c in WHOLE_BATCH_CASES])
async def test_a_batch_that_is_bad_as_a_whole_changes_nothing(shared_ingest, name, request_, status, field):
    ingest = shared_ingest  # max_batch_items=5 (SHARED_INGEST_SETTINGS)
    before = await ingest.counts(*TABLES)
    auth = request_.get("auth", ("department", "market_regulation"))
    headers = {**(ingest.auth(*auth) if auth else {}), **request_.get("headers", {})}
    if "json" in request_:
        response = await ingest.client.post("/v1/reports:batch", json=request_["json"], headers=headers)
    else:
        response = await ingest.client.post("/v1/reports:batch", content=request_["content"], headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert await ingest.counts(*TABLES) == before


async def test_chunks_commit_separately_and_every_event_reaches_the_broker(ingest_with):
    async with ingest_with(batch_chunk_size=3) as ingest:
        items = [report(n) for n in range(10)]
        items[4] = report(4, occurred_on="2999-01-01")
        response = await ingest.client.post("/v1/reports:batch", json=items, headers=ingest.auth())
        assert response.status_code == 200, response.text
        ids = {r["id"] for r in response.json()["results"] if r["status"] == 202}
        assert len(ids) == 9
        received = await ingest.rows(select(reports.c.received_at).distinct())
        assert len(received) == 3, "9 valid items in chunks of 3: three transactions"
        events = await read_topic(ingest.runtime.settings.kafka_bootstrap_servers, ingest.runtime.topic("reports"),
                                  until=lambda evs: len(evs) >= 9, timeout=30, settle=1.0)
        assert sorted(e.data["report_id"] for e in events) == sorted(ids)
        assert all(e.type == ReportReceived.type_name() for e in events)


async def test_batch_idempotency_replays_and_resumes_without_doubling(ingest):
    items = [report(n) for n in range(4)] + [report(9, behavior="E99")]
    headers = {**ingest.auth(), "Idempotency-Key": "nightly-2020-03-02"}
    first = await ingest.client.post("/v1/reports:batch", json=items, headers=headers)
    assert first.status_code == 200
    replay = await ingest.client.post("/v1/reports:batch", json=items, headers=headers)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == first.json()
    assert await ingest.counts("reports", "outbox") == {"reports": 4, "outbox": 4}

    other = await ingest.client.post("/v1/reports:batch", json=items[:2], headers=headers)
    assert other.status_code == 409 and other.json()["field"] == "header.Idempotency-Key"

    # A crash after the reports were committed but before the response was stored: the key is still "in progress".
    async with ingest.runtime.sessionmaker() as session, session.begin():
        await session.execute(update(idempotency_keys).values(status_code=0, response={}))
    resumed = await ingest.client.post("/v1/reports:batch", json=items, headers=headers)
    assert resumed.status_code == 200
    assert [r.get("id") for r in resumed.json()["results"]] == [r.get("id") for r in first.json()["results"]]
    assert await ingest.counts("reports", "outbox") == {"reports": 4, "outbox": 4}


async def test_a_batch_of_10000_is_accepted_within_the_body_limit(ingest):
    import time

    lines = b"\n".join(orjson.dumps(report(n)) for n in range(10_000))
    started = time.perf_counter()
    response = await ingest.client.post("/v1/reports:batch", content=lines,
                                        headers={**ingest.auth(), "Content-Type": "application/x-ndjson"}, timeout=300)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    assert response.json()["accepted"] == 10_000
    assert await ingest.counts("reports", "outbox", "audit_log") == {"reports": 10_000, "outbox": 10_000, "audit_log": 10_000}
    print(f"10,000 reports accepted in {elapsed:.2f} s ({len(lines) / 1e6:.1f} MB NDJSON)")
