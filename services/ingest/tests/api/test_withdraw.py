"""POST /v1/reports/{id}/withdraw: the owning department withdraws; report.withdrawn.v1 tells downstream to undo."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from jointcredit_common.events.schemas import ReportClassified, ReportWithdrawn
from jointcredit_common.tables import outbox
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic
from ingest_service.reports.service import apply_classification

REPORT = {
    "subject": {"type": "enterprise", "id": uscc(21), "name": "大连某某医疗器械有限公司"},
    "behavior": "E4",
    "occurred_on": "2020-03-02",
    "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕44号", "authority": "大连市市场监督管理局",
                 "decided_on": "2020-03-09"},
}
REASON = "行政处罚决定经行政复议被撤销（大政复决字〔2020〕7号）"


async def _report(ingest) -> str:
    response = await ingest.client.post("/v1/reports", json=REPORT, headers=ingest.auth())
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def test_the_owning_department_withdraws_and_the_event_reaches_the_broker(ingest):
    report_id = await _report(ingest)
    response = await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": REASON}, headers=ingest.auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "withdrawn" and body["withdraw_reason"] == REASON and body["withdrawn_at"]
    shown = (await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth())).json()
    assert shown["status"] == "withdrawn"

    topic = ingest.runtime.topic("reports")
    events = await read_topic(ingest.runtime.settings.kafka_bootstrap_servers, topic,
                              until=lambda evs: any(e.type == ReportWithdrawn.type_name() for e in evs), timeout=30)
    withdrawn = [e for e in events if e.type == ReportWithdrawn.type_name()]
    assert len(withdrawn) == 1
    assert withdrawn[0].key == f"enterprise:{uscc(21)}"
    assert withdrawn[0].data["report_id"] == report_id and withdrawn[0].data["reason"] == REASON
    assert withdrawn[0].data["department"] == "market_regulation"
    audit = await ingest.rows(select(ingest_audit()).where(ingest_audit().c.action == "report.withdraw"))
    assert [a["target_id"] for a in audit] == [report_id]


def ingest_audit():
    from jointcredit_common.tables import audit_log

    return audit_log


async def test_another_departments_report_is_404_and_unchanged(ingest):
    report_id = await _report(ingest)
    before = await ingest.counts("outbox", "audit_log")
    response = await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": REASON},
                                        headers=ingest.auth("department", "intermediate_court"))
    assert response.status_code == 404, response.text
    assert response.json()["field"] == "path.report_id"
    assert (await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth())).json()["status"] == "received"
    assert await ingest.counts("outbox", "audit_log") == before


async def test_withdrawing_twice_is_409_and_emits_once(ingest):
    report_id = await _report(ingest)
    first = await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": REASON}, headers=ingest.auth())
    assert first.status_code == 200
    second = await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": "again"}, headers=ingest.auth())
    assert second.status_code == 409, second.text
    assert second.json()["field"] == "path.report_id"
    types = await ingest.rows(select(outbox.c.type))
    assert sorted(t["type"] for t in types).count(ReportWithdrawn.type_name()) == 1


async def test_bad_withdrawals(ingest):
    report_id = await _report(ingest)
    before = await ingest.counts("outbox", "audit_log")
    cases = [
        (f"/v1/reports/{report_id}/withdraw", {}, ingest.auth(), 422, "body.reason"),
        (f"/v1/reports/{report_id}/withdraw", {"reason": "  "}, ingest.auth(), 422, "body.reason"),
        (f"/v1/reports/{report_id}/withdraw", {"reason": REASON, "extra": 1}, ingest.auth(), 422, "body.extra"),
        ("/v1/reports/not-a-uuid/withdraw", {"reason": REASON}, ingest.auth(), 404, "path.report_id"),
        ("/v1/reports/8a0b8e8e-0000-4000-8000-000000000000/withdraw", {"reason": REASON}, ingest.auth(), 404, "path.report_id"),
        (f"/v1/reports/{report_id}/withdraw", {"reason": REASON}, ingest.auth("admin", "ops_admin"), 403, "header.Authorization"),
        (f"/v1/reports/{report_id}/withdraw", {"reason": REASON}, {}, 401, "header.Authorization"),
    ]
    for path, body, headers, status, field in cases:
        response = await ingest.client.post(path, json=body, headers=headers)
        assert (response.status_code, response.json().get("field")) == (status, field), (path, body, response.text)
    assert (await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth())).json()["status"] == "received"
    assert await ingest.counts("outbox", "audit_log") == before


async def test_a_classification_arriving_after_withdrawal_keeps_the_report_withdrawn(ingest):
    report_id = await _report(ingest)
    await ingest.client.post(f"/v1/reports/{report_id}/withdraw", json={"reason": REASON}, headers=ingest.auth())
    classified = ReportClassified(report_id=report_id, subject_key="enterprise:x", outcome="dishonest", clause_codes=["E4"],
                                  reason_zh="……", catalog="dalian-2020-4@1.0.0", classified_at=datetime.now(UTC))
    for _ in range(2):  # delivered twice: still one effect
        async with ingest.runtime.sessionmaker() as session, session.begin():
            await apply_classification(session, classified)
    shown = (await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth())).json()
    assert shown["status"] == "withdrawn"
    assert shown["outcome"] == "dishonest" and shown["clause_codes"] == ["E4"]
