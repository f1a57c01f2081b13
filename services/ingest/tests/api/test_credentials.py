"""Department and admin credentials through the common credential router, at ingest's paths (DESIGN §4, §6)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from jointcredit_common.tables import audit_log, credentials
from jointcredit_common.testing.credentials import audit_actions, bearer, walk_credential_lifecycle


@pytest.mark.parametrize(("role", "principal", "other", "use", "scopes"), [
    ("department", "tax_bureau", "finance_bureau", "/v1/departments/me", ["X4"]),  # its registry entry's codes
    ("admin", "li.na", "ops_admin", "/v1/admin/departments", ["*"]),
])
async def test_a_token_is_issued_listed_rotated_and_revoked_through_the_api(ingest, role, principal, other, use, scopes):
    base = {"department": "/v1/admin/departments", "admin": "/v1/admin/admins"}[role]
    walked = await walk_credential_lifecycle(
        ingest.client, ingest.runtime.sessionmaker, role=role,
        tokens_path=f"{base}/{principal}/tokens", other_tokens_path=f"{base}/{other}/tokens",
        admin=ingest.auth("admin", "ops_admin"), outsider=ingest.auth(),
        use=lambda headers: ingest.client.get(use, headers=headers),
    )
    assert walked["first"][role] == principal and walked["first"]["scopes"] == walked["second"]["scopes"] == scopes
    ids = [walked["first"]["id"], walked["second"]["id"]]
    assert await audit_actions(ingest.runtime.sessionmaker, ids) == [
        ("admin", "ops_admin", f"{role}.token.issue"), ("admin", "ops_admin", f"{role}.token.rotate"),
        ("admin", "ops_admin", f"{role}.token.revoke"),
    ]


async def test_a_department_tokens_scopes_follow_its_registry_entry_and_cannot_be_chosen(ingest):
    admin = ingest.auth("admin", "ops_admin")
    before = await ingest.counts("credentials", "audit_log")
    chosen = await ingest.client.post("/v1/admin/departments/tax_bureau/tokens", json={"scopes": ["*"]}, headers=admin)
    assert (chosen.status_code, chosen.json()["field"]) == (422, "body.scopes"), chosen.text
    unknown = await ingest.client.post("/v1/admin/departments/nobody/tokens", headers=admin)
    assert (unknown.status_code, unknown.json()["field"]) == (404, "path.code")
    listing = await ingest.client.get("/v1/admin/departments/nobody/tokens", headers=admin)
    assert (listing.status_code, listing.json()["field"]) == (404, "path.code")
    assert await ingest.counts("credentials", "audit_log") == before


async def test_a_named_admin_issued_by_the_api_is_the_actor_of_what_they_do(ingest):
    created = await ingest.client.post("/v1/admin/admins/wang.fang/tokens", json={"description": "信用办 王芳"},
                                       headers=ingest.auth("admin", "ops_admin"))
    assert created.status_code == 201, created.text
    wang_fang = bearer(created.json()["token"])
    department = {"code": "emergency_management", "name_zh": "市应急管理局", "behaviors": ["W1"]}
    assert (await ingest.client.post("/v1/admin/departments", json=department, headers=wang_fang)).status_code == 201
    token = await ingest.client.post("/v1/admin/departments/emergency_management/tokens", headers=wang_fang)
    assert token.status_code == 201, token.text

    rows = await ingest.rows(select(audit_log.c.actor_role, audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id))
    assert [tuple(r.values()) for r in rows] == [
        ("admin", "ops_admin", "admin.token.issue"), ("admin", "wang.fang", "department.create"),
        ("admin", "wang.fang", "department.token.issue"),
    ]
    stored = await ingest.rows(select(credentials.c.role, credentials.c.principal, credentials.c.description)
                               .where(credentials.c.principal.in_(["wang.fang", "emergency_management"]))
                               .order_by(credentials.c.created_at))
    assert [tuple(r.values()) for r in stored] == [("admin", "wang.fang", "信用办 王芳"),
                                                   ("department", "emergency_management", "issued by wang.fang")]


async def test_an_admin_name_must_be_a_login_name(ingest):
    admin = ingest.auth("admin", "ops_admin")
    before = await ingest.counts("credentials", "audit_log")
    for name in ("Li Na", "x", "-dash", "a" * 65):
        response = await ingest.client.post(f"/v1/admin/admins/{name}/tokens", headers=admin)
        assert (response.status_code, response.json()["field"]) == (422, "path.name"), (name, response.text)
    anonymous = await ingest.client.post("/v1/admin/admins/Li Na/tokens")
    assert anonymous.status_code == 401, "who are you comes before what is wrong with the request"
    assert await ingest.counts("credentials", "audit_log") == before


async def test_the_bootstrap_admin_hands_over_to_a_named_admin_and_stays_revoked_after_a_restart(ingest_with):
    bootstrap = "jc_admi_bootstrap-secret-of-this-test"
    settings = {"admin_bootstrap_token_sha256": hashlib.sha256(bootstrap.encode()).hexdigest()}
    async with ingest_with(**settings) as ingest:
        first = await ingest.client.post("/v1/admin/admins/wang.fang/tokens", headers=bearer(bootstrap))
        assert first.status_code == 201, first.text
        wang_fang = bearer(first.json()["token"])
        listed = (await ingest.client.get("/v1/admin/admins/bootstrap-admin/tokens", headers=wang_fang)).json()["items"]
        assert len(listed) == 1 and listed[0]["description"] == "bootstrap admin from settings"
        revoked = await ingest.client.post(f"/v1/admin/admins/bootstrap-admin/tokens/{listed[0]['id']}:revoke", headers=wang_fang)
        assert revoked.status_code == 200, revoked.text
        assert (await ingest.client.get("/v1/admin/departments", headers=bearer(bootstrap))).status_code == 401

    async with ingest_with(**settings) as ingest:  # a restart imports the configured token again: it stays revoked
        assert (await ingest.client.get("/v1/admin/departments", headers=bearer(bootstrap))).status_code == 401
        assert (await ingest.client.get("/v1/admin/departments", headers=wang_fang)).status_code == 200
        actors = await ingest.rows(select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.target_type == "credential")
                                   .order_by(audit_log.c.id))
        assert [tuple(r.values()) for r in actors] == [("bootstrap-admin", "admin.token.issue"),
                                                       ("wang.fang", "admin.token.revoke")]
