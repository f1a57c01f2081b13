"""What the fuzzer found, pinned: bad input that used to reach the database as a 500 is now a 4xx problem that
names the field, and changes nothing. (The fuzzer is randomised within a budget; these cases stay covered.)"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from jointcredit_common.tables import MAX_BIGINT
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.plugin import token_of

pytestmark = pytest.mark.hostile


def bearer(jc_credentials: Any, role: str, principal: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(jc_credentials[1], role, principal)}"}


def assert_problem(response: Any, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field, response.json()


async def test_nul_characters_are_refused_where_they_enter_and_nothing_is_stored(jc_app, jc_credentials):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings

    department = bearer(jc_credentials, "department", "market_regulation")
    admin = bearer(jc_credentials, "admin")
    async with jc_app("ingest", create_app, IngestSettings) as (_, client):
        assert_problem(await client.get("/v1/reports", params={"department": "a\x00b"}, headers=admin), 422, "query.department")
        assert_problem(await client.get("/v1/public/commitments", params={"q": "\x00"}), 422, "query.q")
        assert_problem(await client.get("/v1/public/commitments/%00"), 422, "path")
        keyed = {**department, "Idempotency-Key": "k\x00"}
        report = {
            "subject": {"type": "enterprise", "id": uscc(8101), "name": "大连某某贸易有限公司"},
            "behavior": "W1", "occurred_on": (date.today() - timedelta(days=40)).isoformat(),
            "description": "未落实复工防控\x00措施", "evidence": {"kind": "none"},
        }
        assert_problem(await client.post("/v1/reports", json=report, headers=keyed), 422, "header.Idempotency-Key")
        # a NUL escape inside the JSON body (PostgreSQL text cannot hold it; it used to be a 500 from the INSERT)
        assert_problem(await client.post("/v1/reports", json=report, headers=department), 422, "body")
        commitment = {"enterprise_id": uscc(8102), "enterprise_name": "某某\x00公司", "signatory": "张三",
                      "signed_on": "2020-03-01", "text": "严格落实疫情防控措施"}
        assert_problem(await client.post("/v1/commitments", json=commitment, headers=department), 422, "body")
        assert (await client.get("/v1/reports", headers=admin)).json()["items"] == []
        assert (await client.get("/v1/public/commitments")).json()["items"] == []
        # the same report without the NUL is accepted: the refusal was about the character, not the report
        report["description"] = "未落实复工防控措施"
        assert (await client.post("/v1/reports", json=report, headers=department)).status_code == 202


async def test_ids_and_cursors_beyond_bigint_are_validation_problems_not_database_errors(jc_app, jc_credentials):
    from sanctions_service.main import create_app
    from sanctions_service.settings import SanctionsSettings

    agency = bearer(jc_credentials, "agency", "xinyidai_banks")
    admin = bearer(jc_credentials, "admin")
    too_big = str(MAX_BIGINT + 1)
    async with jc_app("sanctions", create_app, SanctionsSettings) as (_, client):
        assert_problem(await client.get("/v1/measures", params={"after": too_big}, headers=agency), 422, "query.after")
        assert_problem(await client.get("/v1/agencies/xinyidai_banks/measures", params={"since": too_big}, headers=agency),
                       422, "query.since")
        assert_problem(await client.post(f"/v1/admin/dead-letters/{too_big}:redrive", headers=admin), 422, "path.dead_letter_id")
        webhook = await client.post("/v1/agencies/xinyidai_banks/webhooks", headers=agency,
                                    json={"url": "https://bank.example/hook", "secret": "s" * 32})
        assert webhook.status_code == 201, webhook.text
        deliveries = f"/v1/webhooks/{webhook.json()['id']}/deliveries"
        assert_problem(await client.get(deliveries, params={"after": too_big}, headers=agency), 422, "query.after")
        assert_problem(await client.get(f"{deliveries}/{too_big}", headers=agency), 422, "path.delivery_id")
        assert_problem(await client.post(f"{deliveries}:redrive", json={"delivery_ids": [int(too_big)]}, headers=agency),
                       422, "body.delivery_ids.0")
        assert (await client.get(deliveries, params={"after": str(MAX_BIGINT)}, headers=agency)).status_code == 200
