"""Department (objections) and admin (the credit office) credentials on rating, through the API — no SQL (issue 11)."""

from __future__ import annotations

from jointcredit_common.testing.credentials import audit_actions, walk_credential_lifecycle

UNKNOWN_RECORD = "/v1/records/00000000-0000-4000-8000-0000000000aa/objections"


async def test_a_filing_department_credential_is_managed_through_the_api(rating_app, kit, tokens):
    async with rating_app() as (app, client):
        walked = await walk_credential_lifecycle(
            client, app.state.runtime.sessionmaker, role="department",
            tokens_path="/v1/admin/departments/health_commission/tokens",
            other_tokens_path="/v1/admin/departments/public_security/tokens",
            admin=kit.auth(tokens("admin")), outsider=kit.auth(tokens("department", "market_regulation")),
            use=lambda headers: client.get(UNKNOWN_RECORD, headers=headers),  # a department's call: 404, not 401/403
        )
        assert walked["first"]["department"] == "health_commission" and walked["first"]["scopes"] == []
        bad = await client.post("/v1/admin/departments/Health Commission/tokens", headers=kit.auth(tokens("admin")))
        assert (bad.status_code, bad.json()["field"]) == (422, "path.code")


async def test_a_credit_office_admin_credential_is_managed_through_the_api(rating_app, kit, tokens):
    async with rating_app() as (app, client):
        walked = await walk_credential_lifecycle(
            client, app.state.runtime.sessionmaker, role="admin",
            tokens_path="/v1/admin/admins/zhang.wei/tokens", other_tokens_path="/v1/admin/admins/ops_admin/tokens",
            admin=kit.auth(tokens("admin")), outsider=kit.auth(tokens("reviewer", "reviewer_initial")),
            use=lambda headers: client.get("/v1/objections", headers=headers),
        )
        ids = [walked["first"]["id"], walked["second"]["id"]]
        assert await audit_actions(app.state.runtime.sessionmaker, ids) == [
            ("admin", "ops_admin", "admin.token.issue"), ("admin", "ops_admin", "admin.token.rotate"),
            ("admin", "ops_admin", "admin.token.revoke"),
        ]
