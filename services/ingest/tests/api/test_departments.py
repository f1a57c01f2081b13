"""The department registry and department credentials (admin API); the registry is a department's effective scope."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from jointcredit_common.tables import audit_log, credentials
from jointcredit_common.testing.factories import uscc

NEW = {"code": "emergency_management", "name_zh": "市应急管理局", "behaviors": ["W1", "W4", "E6"]}


def report(behavior: str = "W1", n: int = 1) -> dict:
    return {"subject": {"type": "enterprise", "id": uscc(3000 + n), "name": "大连某某化工有限公司"},
            "behavior": behavior, "occurred_on": "2020-03-02", "evidence": {"kind": "none"}}


async def test_the_demo_departments_are_seeded_with_their_scopes(ingest):
    response = await ingest.client.get("/v1/admin/departments", headers=ingest.auth("admin", "ops_admin"))
    assert response.status_code == 200
    by_code = {d["code"]: d for d in response.json()["items"]}
    assert set(by_code) == {c["principal"] for c in ingest.credentials if c["role"] == "department"}
    assert by_code["market_regulation"]["name_zh"] == "市市场监督管理局"
    assert "W1" in by_code["market_regulation"]["behaviors"]
    assert by_code["intermediate_court"]["behaviors"] == ["*"]


async def test_register_issue_report_rotate_revoke(ingest):
    admin = ingest.auth("admin", "ops_admin")
    created = await ingest.client.post("/v1/admin/departments", json=NEW, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["behaviors"] == NEW["behaviors"]

    issued = await ingest.client.post(f"/v1/admin/departments/{NEW['code']}/tokens", json={"description": "主系统对接"}, headers=admin)
    assert issued.status_code == 201, issued.text
    token, token_id = issued.json()["token"], issued.json()["id"]
    stored = await ingest.rows(select(credentials).where(credentials.c.principal == NEW["code"]))
    assert [r["token_sha256"] for r in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(dict(r)) for r in stored), "the token itself is never stored"
    listed = (await ingest.client.get(f"/v1/admin/departments/{NEW['code']}/tokens", headers=admin)).json()["items"]
    assert [t["id"] for t in listed] == [token_id] and "token" not in listed[0]

    bearer = {"Authorization": f"Bearer {token}"}
    assert (await ingest.client.post("/v1/reports", json=report("W4"), headers=bearer)).status_code == 202
    out_of_scope = await ingest.client.post("/v1/reports", json=report("E7"), headers=bearer)
    assert (out_of_scope.status_code, out_of_scope.json()["field"]) == (403, "body.behavior")

    # Rotation: a second token, then the first is revoked.
    second = (await ingest.client.post(f"/v1/admin/departments/{NEW['code']}/tokens", headers=admin)).json()
    revoked = await ingest.client.post(f"/v1/admin/departments/{NEW['code']}/tokens/{token_id}:revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    refused = await ingest.client.post("/v1/reports", json=report("W4", 2), headers=bearer)
    assert (refused.status_code, refused.json()["field"]) == (401, "header.Authorization")
    accepted = await ingest.client.post("/v1/reports", json=report("W4", 3), headers={"Authorization": f"Bearer {second['token']}"})
    assert accepted.status_code == 202
    again = await ingest.client.post(f"/v1/admin/departments/{NEW['code']}/tokens/{token_id}:revoke", headers=admin)
    assert again.status_code == 409

    actions = [r["action"] for r in await ingest.rows(select(audit_log.c.action).where(audit_log.c.actor == "ops_admin"))]
    assert actions == ["department.create", "department.token.issue", "department.token.issue", "department.token.revoke"]


async def test_the_registry_not_the_token_decides_the_scope(ingest):
    admin = ingest.auth("admin", "ops_admin")
    assert (await ingest.client.post("/v1/reports", json=report("W1"), headers=ingest.auth())).status_code == 202
    patched = await ingest.client.patch("/v1/admin/departments/market_regulation", json={"behaviors": ["W2"]}, headers=admin)
    assert patched.status_code == 200, patched.text
    me = await ingest.client.get("/v1/departments/me", headers=ingest.auth())
    assert (me.json()["code"], me.json()["behaviors"]) == ("market_regulation", ["W2"])
    refused = await ingest.client.post("/v1/reports", json=report("W1", 2), headers=ingest.auth())
    assert (refused.status_code, refused.json()["field"]) == (403, "body.behavior")
    assert (await ingest.client.post("/v1/reports", json=report("W2", 3), headers=ingest.auth())).status_code == 202

    disabled = await ingest.client.patch("/v1/admin/departments/market_regulation", json={"disabled": True}, headers=admin)
    assert disabled.json()["disabled_at"]
    refused = await ingest.client.post("/v1/reports", json=report("W2", 4), headers=ingest.auth())
    assert (refused.status_code, refused.json()["field"]) == (403, "header.Authorization")
    await ingest.client.patch("/v1/admin/departments/market_regulation", json={"disabled": False}, headers=admin)
    assert (await ingest.client.post("/v1/reports", json=report("W2", 5), headers=ingest.auth())).status_code == 202
    assert await ingest.count("reports") == 3


async def test_a_department_credential_without_a_registry_entry_cannot_report(ingest):
    from jointcredit_common.auth import issue_credential

    async with ingest.runtime.sessionmaker() as session, session.begin():
        _, token = await issue_credential(session, role="department", principal="ghost_bureau", scopes=["*"])
    refused = await ingest.client.post("/v1/reports", json=report(), headers={"Authorization": f"Bearer {token}"})
    assert (refused.status_code, refused.json()["field"]) == (403, "header.Authorization")
    assert await ingest.count("reports") == 0


async def test_bad_admin_requests_change_nothing(ingest):
    admin = ingest.auth("admin", "ops_admin")
    assert (await ingest.client.post("/v1/admin/departments", json=NEW, headers=admin)).status_code == 201
    before = await ingest.counts("departments", "credentials", "audit_log")
    cases = [
        ("post", "/v1/admin/departments", NEW, admin, 409, "body.code"),
        ("post", "/v1/admin/departments", {**NEW, "code": "Bad Code"}, admin, 422, "body.code"),
        ("post", "/v1/admin/departments", {**NEW, "code": "x_bureau", "behaviors": ["W1", "Q7"]}, admin, 422, "body.behaviors.1"),
        ("post", "/v1/admin/departments", {**NEW, "code": "x_bureau", "behaviors": ["*", "W1"]}, admin, 422, "body.behaviors"),
        ("post", "/v1/admin/departments", {**NEW, "code": "x_bureau", "extra": True}, admin, 422, "body.extra"),
        ("post", "/v1/admin/departments", {**NEW, "code": "x_bureau"}, ingest.auth(), 403, "header.Authorization"),
        ("post", "/v1/admin/departments", {**NEW, "code": "x_bureau"}, {}, 401, "header.Authorization"),
        ("patch", "/v1/admin/departments/nobody", {"name_zh": "无"}, admin, 404, "path.code"),
        ("patch", f"/v1/admin/departments/{NEW['code']}", {}, admin, 422, "body"),
        ("post", "/v1/admin/departments/nobody/tokens", {}, admin, 404, "path.code"),
        ("post", f"/v1/admin/departments/{NEW['code']}/tokens", {"expires_at": "2020-01-01T00:00:00+08:00"}, admin, 422,
         "body.expires_at"),
        ("post", f"/v1/admin/departments/{NEW['code']}/tokens", {}, ingest.auth(), 403, "header.Authorization"),
        ("post", f"/v1/admin/departments/{NEW['code']}/tokens/not-a-uuid:revoke", None, admin, 404, "path.credential_id"),
        ("post", f"/v1/admin/departments/{NEW['code']}/tokens/6d1f0e43-1b7c-4a1e-9d0c-000000000000:revoke", None, admin, 404,
         "path.credential_id"),
    ]
    for method, path, body, headers, status, field in cases:
        response = await ingest.client.request(method, path, json=body, headers=headers)
        assert (response.status_code, response.json().get("field")) == (status, field), (method, path, body, response.text)
    assert await ingest.counts("departments", "credentials", "audit_log") == before


async def test_a_token_cannot_be_revoked_through_another_department(ingest):
    admin = ingest.auth("admin", "ops_admin")
    await ingest.client.post("/v1/admin/departments", json=NEW, headers=admin)
    token_id = (await ingest.client.post(f"/v1/admin/departments/{NEW['code']}/tokens", headers=admin)).json()["id"]
    response = await ingest.client.post(f"/v1/admin/departments/tax_bureau/tokens/{token_id}:revoke", headers=admin)
    assert response.status_code == 404
