"""Reading reports back: status lifecycle, department isolation, keyset pagination, personal data masked."""

from __future__ import annotations

from sqlalchemy import select

from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic
from ingest_service.reports.models import reports
from ingest_support import resident_id

CITIZEN_ID = resident_id(88)
CITIZEN = {"subject": {"type": "citizen", "id": CITIZEN_ID, "name": "欧阳娜娜"}, "behavior": "C2", "occurred_on": "2020-03-02",
           "evidence": {"kind": "administrative_penalty", "document_no": "大公（中）行罚决字〔2020〕88号",
                        "authority": "大连市公安局中山分局", "decided_on": "2020-03-04"}}


def enterprise(n: int) -> dict:
    return {"subject": {"type": "enterprise", "id": uscc(6000 + n), "name": f"大连{n}号公司"}, "behavior": "W2",
            "occurred_on": "2020-03-02", "evidence": {"kind": "none"}}


async def test_citizens_are_encrypted_at_rest_in_events_and_masked_for_anyone_but_the_owner(ingest):
    owner = ingest.auth("department", "public_security")
    response = await ingest.client.post("/v1/reports", json=CITIZEN, headers=owner)
    assert response.status_code == 202, response.text
    report_id = response.json()["id"]
    assert CITIZEN_ID not in response.text
    [row] = await ingest.rows(select(reports))
    assert CITIZEN_ID not in str(dict(row)) and "欧阳娜娜" not in str(dict(row))
    assert row["subject_key"].startswith("citizen:") and CITIZEN_ID not in row["subject_key"]

    mine = (await ingest.client.get(f"/v1/reports/{report_id}", headers=owner)).json()
    assert mine["subject"]["id"] == CITIZEN_ID and mine["subject"]["name"] == "欧阳娜娜"
    admin = (await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth("admin", "ops_admin"))).json()
    assert admin["subject"]["id"] == CITIZEN_ID[:4] + "*" * 10 + CITIZEN_ID[-4:] and admin["subject"]["name"] == "欧**娜"
    other = await ingest.client.get(f"/v1/reports/{report_id}", headers=ingest.auth("department", "health_commission"))
    assert other.status_code == 404

    [event] = await read_topic(ingest.runtime.settings.kafka_bootstrap_servers, ingest.runtime.topic("reports"),
                               until=lambda evs: len(evs) >= 1, timeout=30)
    assert CITIZEN_ID not in str(event.data) and "欧阳娜娜" not in str(event.data)
    assert ingest.runtime.cipher.decrypt(event.data["subject"]["id_encrypted"], context="subject.id") == CITIZEN_ID


async def test_listing_is_per_department_filtered_and_keyset_paginated(ingest):
    ids = [(await ingest.client.post("/v1/reports", json=enterprise(n), headers=ingest.auth())).json()["id"] for n in range(5)]
    await ingest.client.post("/v1/reports", json=CITIZEN, headers=ingest.auth("department", "public_security"))
    await ingest.client.post(f"/v1/reports/{ids[1]}/withdraw", json={"reason": "撤销"}, headers=ingest.auth())
    seen, cursor = [], None
    while True:
        page = (await ingest.client.get("/v1/reports", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                                        headers=ingest.auth())).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids, "a department sees only its own reports, oldest first, each once"
    withdrawn = (await ingest.client.get("/v1/reports", params={"status": "withdrawn"}, headers=ingest.auth())).json()["items"]
    assert [i["id"] for i in withdrawn] == [ids[1]]
    forbidden = await ingest.client.get("/v1/reports", params={"department": "public_security"}, headers=ingest.auth())
    assert (forbidden.status_code, forbidden.json()["field"]) == (403, "query.department")
    everything = (await ingest.client.get("/v1/reports", headers=ingest.auth("admin", "ops_admin"))).json()["items"]
    assert len(everything) == 6
    bad_cursor = await ingest.client.get("/v1/reports", params={"cursor": "nope"}, headers=ingest.auth())
    assert (bad_cursor.status_code, bad_cursor.json()["field"]) == (422, "query.cursor")  # one cursor codec, one code
