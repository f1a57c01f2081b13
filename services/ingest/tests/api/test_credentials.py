"""Department and admin credentials through the common credential router, at ingest's paths (DESIGN §4, §6)."""

from __future__ import annotations

from sqlalchemy import select

from jointcredit_common.tables import audit_log, credentials
from jointcredit_common.testing.credentials import audit_actions, bearer, walk_credential_lifecycle


async def test_a_department_token_is_issued_listed_rotated_and_revoked_at_the_registry_paths(ingest):
    walked = await walk_credential_lifecycle(
        ingest.client, ingest.runtime.sessionmaker, role="department",
        tokens_path="/v1/admin/departments/tax_bureau/tokens", other_tokens_path="/v1/admin/departments/finance_bureau/tokens",
        admin=ingest.auth("admin", "ops_admin"), outsider=ingest.auth(),
        use=lambda headers: ingest.client.get("/v1/departments/me", headers=headers),
    )
    assert walked["first"]["department"] == "tax_bureau" and walked["first"]["scopes"] == ["X4"]
    ids = [walked["first"]["id"], walked["second"]["id"]]
    assert await audit_actions(ingest.runtime.sessionmaker, ids) == [
        ("admin", "ops_admin", "department.token.issue"), ("admin", "ops_admin", "department.token.rotate"),
        ("admin", "ops_admin", "department.token.revoke"),
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


async def test_admin_credentials_are_managed_through_the_api(ingest):
    walked = await walk_credential_lifecycle(
        ingest.client, ingest.runtime.sessionmaker, role="admin",
        tokens_path="/v1/admin/admins/li.na/tokens", other_tokens_path="/v1/admin/admins/ops_admin/tokens",
        admin=ingest.auth("admin", "ops_admin"), outsider=ingest.auth(),
        use=lambda headers: ingest.client.get("/v1/admin/departments", headers=headers),
    )
    assert walked["first"]["scopes"] == ["*"] and walked["first"]["principal"] == "li.na"


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
