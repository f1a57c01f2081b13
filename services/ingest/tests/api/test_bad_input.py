"""DESIGN §4 / issue 3 §6: every bad input gets an RFC 9457 problem naming the offending field, a 4xx, and changes
nothing — no report, no outbox event, no idempotency record, no audit row."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
import pytest

from jointcredit_common.testing.factories import uscc
from ingest_support import resident_id

TOMORROW = (date.today() + timedelta(days=2)).isoformat()  # +2: "today" is Asia/Shanghai's, may be ahead of UTC

ENTERPRISE = {
    "subject": {"type": "enterprise", "id": uscc(7), "name": "大连某某机械制造有限公司"},
    "behavior": "W1",
    "occurred_on": "2020-03-02",
    "description": "未严格履行复工复产规定",
    "evidence": {"kind": "none"},
}
CITIZEN = {
    "subject": {"type": "citizen", "id": resident_id(5), "name": "张三丰"},
    "behavior": "C2",
    "occurred_on": "2020-03-02",
    "evidence": {"kind": "administrative_penalty", "document_no": "大公（中）行罚决字〔2020〕15号",
                 "authority": "大连市公安局中山分局", "decided_on": "2020-03-05"},
}
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕12号", "authority": "大连市市场监督管理局",
           "decided_on": "2020-03-10"}


def changed(base: dict, path: str, value: Any = ..., *, drop: bool = False) -> dict:
    body = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[part]
    if drop:
        del node[last]
    else:
        node[last] = value
    return body


def bad_uscc() -> str:
    good = uscc(7)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def bad_resident_id() -> str:
    good = resident_id(5)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


@dataclass
class Case:
    id: str
    status: int
    field: str | None
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    auth: tuple[str, str | None] | None = ("department", "market_regulation")
    raw_auth: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


CASES = [
    # --- the body is not a report at all
    Case("malformed-json", 400, "body", content=b'{"subject": {"type": "enterprise",', content_type="application/json"),
    Case("json-array-instead-of-object", 422, "body", json=[ENTERPRISE]),
    Case("json-null", 422, "body", json=None, content=b"null", content_type="application/json"),
    Case("empty-body", 422, "body", content=b"", content_type="application/json"),
    Case("text-plain", 415, "header.Content-Type", content=orjson.dumps(ENTERPRISE), content_type="text/plain"),
    Case("missing-content-type", 415, "header.Content-Type", content=orjson.dumps(ENTERPRISE)),
    Case("not-utf8", 400, "body", content=b'{"subject": "\xff\xfe"}', content_type="application/json"),
    Case("malformed-json-without-auth", 401, "header.Authorization", content=b"{", content_type="application/json", auth=None),
    Case("form-encoded", 415, "header.Content-Type", content=b"behavior=W1", content_type="application/x-www-form-urlencoded"),
    Case("oversized-body", 413, "body", json=changed(ENTERPRISE, "description", "很" * 400_000)),
    # --- wrong shapes and types
    Case("unknown-top-level-field", 422, "body.colour", json={**ENTERPRISE, "colour": "red"}),
    Case("unknown-nested-field", 422, "body.subject.age", json=changed(ENTERPRISE, "subject.age", 40)),
    Case("missing-subject", 422, "body.subject", json=changed(ENTERPRISE, "subject", drop=True)),
    Case("missing-occurred-on", 422, "body.occurred_on", json=changed(ENTERPRISE, "occurred_on", drop=True)),
    Case("subject-type-unknown", 422, "body.subject.type", json=changed(ENTERPRISE, "subject.type", "company")),
    Case("subject-id-number", 422, "body.subject.id", json=changed(ENTERPRISE, "subject.id", 91210200123456789)),
    Case("subject-name-blank", 422, "body.subject.name", json=changed(ENTERPRISE, "subject.name", "   ")),
    Case("behavior-number", 422, "body.behavior", json=changed(ENTERPRISE, "behavior", 1)),
    Case("occurred-on-unix-zero", 422, "body.occurred_on", json=changed(ENTERPRISE, "occurred_on", 0)),
    Case("occurred-on-timestamp-string", 422, "body.occurred_on", json=changed(ENTERPRISE, "occurred_on", "1583107200")),
    Case("occurred-on-not-a-date", 422, "body.occurred_on", json=changed(ENTERPRISE, "occurred_on", "2020-02-30")),
    Case("description-too-long", 422, "body.description", json=changed(ENTERPRISE, "description", "x" * 4001)),
    Case("evidence-kind-unknown", 422, "body.evidence.kind", json=changed(ENTERPRISE, "evidence.kind", "warning")),
    Case("risk-controllable-string", 422, "body.exemption.risk_controllable",
         json={**changed(ENTERPRISE, "behavior", "X1"), "exemption": {"cause": "force_majeure", "risk_controllable": "yes"}}),
    Case("exemption-cause-unknown", 422, "body.exemption.cause",
         json={**changed(ENTERPRISE, "behavior", "X1"), "exemption": {"cause": "bad_luck", "risk_controllable": True}}),
    # --- identifiers
    Case("uscc-bad-checksum", 422, "body.subject.id", json=changed(ENTERPRISE, "subject.id", bad_uscc())),
    Case("uscc-bad-length", 422, "body.subject.id", json=changed(ENTERPRISE, "subject.id", uscc(7)[:-2])),
    Case("uscc-letter-not-allowed", 422, "body.subject.id", json=changed(ENTERPRISE, "subject.id", "9I" + uscc(7)[2:])),
    Case("resident-id-bad-checksum", 422, "body.subject.id", json=changed(CITIZEN, "subject.id", bad_resident_id()),
         auth=("department", "public_security")),
    Case("resident-id-future-birth-date", 422, "body.subject.id",
         json=changed(CITIZEN, "subject.id", resident_id(5, born=date(date.today().year + 1, 1, 15))),
         auth=("department", "public_security")),
    Case("resident-id-for-enterprise", 422, "body.subject.id", json=changed(ENTERPRISE, "subject.id", resident_id(5))),
    # --- the catalog
    Case("behavior-unknown", 422, "body.behavior", json=changed(ENTERPRISE, "behavior", "E99")),
    Case("behavior-lowercase", 422, "body.behavior", json=changed(ENTERPRISE, "behavior", "w1")),
    Case("citizen-code-for-enterprise", 422, "body.behavior", json=changed(ENTERPRISE, "behavior", "C2"),
         auth=("department", "intermediate_court")),
    Case("enterprise-code-for-citizen", 422, "body.behavior", json=changed(CITIZEN, "behavior", "W1"),
         auth=("department", "intermediate_court")),
    Case("occurred-on-future", 422, "body.occurred_on", json=changed(ENTERPRISE, "occurred_on", TOMORROW)),
    # --- evidence and exemption rules
    Case("penalty-without-document-no", 422, "body.evidence.document_no",
         json=changed(changed(ENTERPRISE, "evidence", PENALTY), "evidence.document_no", drop=True)),
    Case("penalty-without-authority", 422, "body.evidence.authority",
         json=changed(changed(ENTERPRISE, "evidence", PENALTY), "evidence.authority", "")),
    Case("judgment-without-decided-on", 422, "body.evidence.decided_on",
         json=changed(changed(ENTERPRISE, "evidence", {**PENALTY, "kind": "judicial_judgment"}), "evidence.decided_on", drop=True)),
    Case("evidence-decided-in-future", 422, "body.evidence.decided_on",
         json=changed(changed(ENTERPRISE, "evidence", PENALTY), "evidence.decided_on", TOMORROW)),
    Case("evidence-details-with-kind-none", 422, "body.evidence.kind",
         json=changed(ENTERPRISE, "evidence", {"kind": "none", "document_no": "大市监罚〔2020〕12号"})),
    Case("exemption-on-non-x-code", 422, "body.exemption",
         json={**ENTERPRISE, "exemption": {"cause": "force_majeure", "risk_controllable": True}}),
    # --- credentials and scope
    Case("missing-auth", 401, "header.Authorization", json=ENTERPRISE, auth=None),
    Case("unknown-token", 401, "header.Authorization", json=ENTERPRISE, auth=None, raw_auth="Bearer jc_depa_not-a-real-token"),
    Case("basic-auth-scheme", 401, "header.Authorization", json=ENTERPRISE, auth=None, raw_auth="Basic dXNlcjpwYXNz"),
    Case("agency-token", 403, "header.Authorization", json=ENTERPRISE, auth=("agency", None)),
    Case("reviewer-token", 403, "header.Authorization", json=ENTERPRISE, auth=("reviewer", "reviewer_initial")),
    Case("admin-token", 403, "header.Authorization", json=ENTERPRISE, auth=("admin", "ops_admin")),
    Case("department-out-of-scope", 403, "body.behavior", json=ENTERPRISE, auth=("department", "tax_bureau")),
    Case("citizen-code-out-of-scope", 403, "body.behavior", json=CITIZEN, auth=("department", "market_regulation")),
    # --- headers
    Case("idempotency-key-too-long", 422, "header.Idempotency-Key", json=ENTERPRISE, headers={"Idempotency-Key": "k" * 201}),
]

TABLES = ("reports", "outbox", "idempotency_keys", "audit_log")


def test_the_table_is_big_enough():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_report_is_rejected_with_a_problem_and_changes_nothing(shared_ingest, case: Case):
    """One app for the whole table: every case is rejected, so none changes what the next one sees."""
    ingest = shared_ingest
    before = await ingest.counts(*TABLES)
    headers = dict(case.headers)
    if case.auth is not None:
        headers.update(ingest.auth(*case.auth))
    if case.raw_auth is not None:
        headers["Authorization"] = case.raw_auth
    if case.content is not None:
        if case.content_type:
            headers["Content-Type"] = case.content_type
        response = await ingest.client.post("/v1/reports", content=case.content, headers=headers)
    else:
        response = await ingest.client.post("/v1/reports", json=case.json, headers=headers)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == case.status
    assert problem.get("field") == case.field, problem
    assert problem["type"].startswith("https://") and problem["title"] and problem["detail"]
    assert await ingest.counts(*TABLES) == before


async def test_the_good_bodies_of_the_table_are_accepted(ingest):
    """Guards the table: each case differs from an accepted report only by the defect it names."""
    first = await ingest.client.post("/v1/reports", json=ENTERPRISE, headers=ingest.auth())
    second = await ingest.client.post("/v1/reports", json=CITIZEN, headers=ingest.auth("department", "public_security"))
    exempt = {**changed(ENTERPRISE, "behavior", "X1"), "exemption": {"cause": "force_majeure", "risk_controllable": True}}
    third = await ingest.client.post("/v1/reports", json=exempt, headers=ingest.auth())
    penalty = await ingest.client.post("/v1/reports", json=changed(ENTERPRISE, "evidence", PENALTY), headers=ingest.auth())
    assert [r.status_code for r in (first, second, third, penalty)] == [202] * 4, [r.text for r in (first, second, third, penalty)]
    assert await ingest.count("reports") == 4
    assert await ingest.count("outbox") == 4


async def test_behaviour_outside_the_validity_window_is_accepted_not_dropped(ingest):
    """Before 2020-02-21 is not bad input: it is stored and announced, and rating classifies it out_of_scope."""
    response = await ingest.client.post("/v1/reports", json=changed(ENTERPRISE, "occurred_on", "2019-12-01"), headers=ingest.auth())
    assert response.status_code == 202, response.text
    assert await ingest.counts("reports", "outbox") == {"reports": 1, "outbox": 1}
