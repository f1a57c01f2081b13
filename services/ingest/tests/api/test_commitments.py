"""Commitments (承诺书, notice §一): departments file them; the public lists and searches them (paginated)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from sqlalchemy import select

from jointcredit_common.events.schemas_ingest import CommitmentFiled
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic
from ingest_service.reports.models import commitments

TEXT = "本企业承诺：严格落实复工复产疫情防控各项措施，对返岗员工开展健康监测，落实消毒、通风等措施……"


def commitment(n: int, **changes) -> dict:
    return {"enterprise_id": uscc(5000 + n), "enterprise_name": f"大连{n:03d}号精密机械有限公司", "signatory": "王小明",
            "signed_on": "2020-02-25", "text": f"{TEXT}（{n}）", **changes}


async def test_filed_commitments_are_public_with_the_signatory_masked(ingest):
    doc = hashlib.sha256(b"scan.pdf").hexdigest()
    filed = await ingest.client.post("/v1/commitments", json=commitment(1, text=None, document_sha256=doc.upper()),
                                     headers=ingest.auth())
    assert filed.status_code == 201, filed.text
    commitment_id = filed.json()["id"]
    public = await ingest.client.get("/v1/public/commitments")  # no credential
    assert public.status_code == 200
    [item] = public.json()["items"]
    assert item["id"] == commitment_id and item["enterprise_id"] == uscc(5001)
    assert item["signatory"] == "王*明" and item["document_sha256"] == doc
    assert item["department"] == "market_regulation" and item["department_name_zh"] == "市市场监督管理局"
    one = await ingest.client.get(f"/v1/public/commitments/{commitment_id}")
    assert one.json() == item
    [row] = await ingest.rows(select(commitments))
    assert "王小明" not in str(dict(row)), "the signatory is stored encrypted"
    assert ingest.runtime.cipher.decrypt(row["signatory_encrypted"], context="commitment.signatory") == "王小明"

    events = await read_topic(ingest.runtime.settings.kafka_bootstrap_servers, ingest.runtime.topic("commitments"),
                              until=lambda evs: len(evs) >= 1, timeout=30)
    assert [e.type for e in events] == [CommitmentFiled.type_name()]
    assert events[0].key == f"enterprise:{uscc(5001)}" and events[0].data["signatory_masked"] == "王*明"
    assert "王小明" not in str(events[0].data)


async def test_public_list_is_keyset_paginated_and_searchable(ingest):
    for n in range(7):
        assert (await ingest.client.post("/v1/commitments", json=commitment(n), headers=ingest.auth())).status_code == 201
    seen, cursor = [], None
    while True:
        page = (await ingest.client.get("/v1/public/commitments", params={"limit": 3, **({"cursor": cursor} if cursor else {})})).json()
        seen += [i["enterprise_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [uscc(5000 + n) for n in reversed(range(7))], "newest first, each once"

    by_name = (await ingest.client.get("/v1/public/commitments", params={"q": "003号精密"})).json()["items"]
    assert [i["enterprise_id"] for i in by_name] == [uscc(5003)]
    by_id = (await ingest.client.get("/v1/public/commitments", params={"q": uscc(5004).lower()})).json()["items"]
    assert [i["enterprise_id"] for i in by_id] == [uscc(5004)]
    by_prefix = (await ingest.client.get("/v1/public/commitments", params={"q": uscc(5004)[:12]})).json()["items"]
    assert len(by_prefix) == 7
    wildcard = (await ingest.client.get("/v1/public/commitments", params={"q": "%"})).json()["items"]
    assert wildcard == [], "LIKE wildcards in q are literal"


async def test_bad_commitments_change_nothing(ingest):
    first = await ingest.client.post("/v1/commitments", json=commitment(1), headers=ingest.auth())
    assert first.status_code == 201
    before = await ingest.counts("commitments", "outbox", "audit_log")
    good_uscc = uscc(5002)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    cases = [
        (commitment(1), ingest.auth(), 409, "body"),
        (commitment(2, enterprise_id=good_uscc[:-1] + ("0" if good_uscc[-1] != "0" else "1")), ingest.auth(), 422, "body.enterprise_id"),
        (commitment(2, signed_on=tomorrow), ingest.auth(), 422, "body.signed_on"),
        (commitment(2, signed_on=0), ingest.auth(), 422, "body.signed_on"),
        (commitment(2, text=None), ingest.auth(), 422, "body.text"),
        (commitment(2, document_sha256="abc"), ingest.auth(), 422, "body.document_sha256"),
        (commitment(2, signatory=""), ingest.auth(), 422, "body.signatory"),
        (commitment(2, extra=1), ingest.auth(), 422, "body.extra"),
        (commitment(2), {}, 401, "header.Authorization"),
        (commitment(2), ingest.auth("agency", None), 403, "header.Authorization"),
    ]
    for body, headers, status, field in cases:
        response = await ingest.client.post("/v1/commitments", json=body, headers=headers)
        assert (response.status_code, response.json().get("field")) == (status, field), (body, response.text)
    assert (await ingest.client.post("/v1/commitments", json=commitment(1), headers=ingest.auth())).json()["existing_id"] == \
        first.json()["id"]
    for params, field in [({"cursor": "garbage"}, "query.cursor"), ({"limit": 0}, "query.limit"), ({"limit": 101}, "query.limit"),
                          ({"q": "x" * 101}, "query.q")]:
        response = await ingest.client.get("/v1/public/commitments", params=params)
        assert (response.status_code // 100, response.json()["field"]) == (4, field)
    assert (await ingest.client.get("/v1/public/commitments/nope")).status_code == 404
    assert await ingest.counts("commitments", "outbox", "audit_log") == before
