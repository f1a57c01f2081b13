"""GET /v1/admin/audit: every write is in the audit trail (who, when, what, from where), exportable as CSV/NDJSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import orjson

from jointcredit_common.testing.factories import uscc
from ingest_service.audit.views import _cell

REPORT = {"subject": {"type": "enterprise", "id": uscc(77), "name": "大连某某物流有限公司"}, "behavior": "W3",
          "occurred_on": "2020-03-02", "evidence": {"kind": "none"}}


async def _writes(ingest) -> str:
    report_id = (await ingest.client.post("/v1/reports", json=REPORT, headers=ingest.auth())).json()["id"]
    await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": "误报"}, headers=ingest.auth())
    await ingest.client.post("/v1/admin/departments", json={"code": "port_authority", "name_zh": "大连港口管理局", "behaviors": ["W1"]},
                             headers=ingest.auth("admin", "ops_admin"))
    return report_id


async def test_ndjson_export_holds_every_write_with_who_what_and_where(ingest):
    started = datetime.now(UTC) - timedelta(minutes=1)
    report_id = await _writes(ingest)
    response = await ingest.client.get("/v1/admin/audit", params={"from": started.isoformat(), "format": "ndjson"},
                                       headers=ingest.auth("admin", "ops_admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    records = [orjson.loads(line) for line in response.content.splitlines()]
    assert [(r["action"], r["actor"]) for r in records] == [
        ("report.create", "market_regulation"), ("report.withdraw", "market_regulation"), ("department.create", "ops_admin")]
    assert records[0]["target_id"] == report_id and records[0]["client_addr"] == "127.0.0.1"
    assert records[1]["detail"]["reason"] == "误报"
    assert all(r["at"] and r["actor_role"] for r in records)
    # The export itself is audited (after the range it read was fixed, so it shows up in the next export).
    again = await ingest.client.get("/v1/admin/audit", params={"from": started.isoformat(), "action": "audit.export"},
                                    headers=ingest.auth("admin", "ops_admin"))
    [export] = [orjson.loads(line) for line in again.content.splitlines()]
    assert export["actor"] == "ops_admin" and export["detail"]["format"] == "ndjson"


async def test_csv_export_and_the_range(ingest):
    started = datetime.now(UTC) - timedelta(minutes=1)
    await _writes(ingest)
    admin = ingest.auth("admin", "ops_admin")
    response = await ingest.client.get("/v1/admin/audit", params={"from": started.isoformat(), "format": "csv"}, headers=admin)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["report.create", "report.withdraw", "department.create"]
    assert orjson.loads(rows[2]["detail"])["name_zh"] == "大连港口管理局"

    later = datetime.now(UTC) + timedelta(minutes=1)
    empty = await ingest.client.get("/v1/admin/audit", params={"from": later.isoformat(), "format": "csv"}, headers=admin)
    assert list(csv.DictReader(io.StringIO(empty.content.decode("utf-8-sig")))) == []
    window = await ingest.client.get("/v1/admin/audit", params={"from": started.isoformat(), "to": started.isoformat(timespec="seconds")
                                                                 .replace("+00:00", "Z")}, headers=admin)
    assert window.status_code == 422 and window.json()["field"] == "query.to"


async def test_only_admins_export_and_bad_parameters_are_named(ingest):
    ok_from = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cases = [
        ({"from": ok_from}, ingest.auth(), 403, "header.Authorization"),
        ({"from": ok_from}, {}, 401, "header.Authorization"),
        ({}, ingest.auth("admin", "ops_admin"), 422, "query.from"),
        ({"from": "yesterday"}, ingest.auth("admin", "ops_admin"), 422, "query.from"),
        ({"from": ok_from, "format": "xlsx"}, ingest.auth("admin", "ops_admin"), 422, "query.format"),
    ]
    for params, headers, status, field in cases:
        response = await ingest.client.get("/v1/admin/audit", params=params, headers=headers)
        assert (response.status_code, response.json().get("field")) == (status, field), (params, response.text)
    assert await ingest.count("audit_log") == 0


def test_csv_cells_cannot_become_spreadsheet_formulas():
    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("-1+1") == "'-1+1" and _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("market_regulation") == "market_regulation" and _cell(None) == "" and _cell({"a": 1}) == '{"a":1}'
