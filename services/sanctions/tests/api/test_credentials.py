"""Agency and admin credentials on sanctions, through the common credential router at the agencies' paths."""

from __future__ import annotations

from jointcredit_common.testing.credentials import audit_actions, walk_credential_lifecycle


async def test_an_agency_token_is_issued_rotated_and_revoked_at_the_agency_paths(sanctions):
    async with sanctions() as h:
        walked = await walk_credential_lifecycle(
            h.client, h.runtime.sessionmaker, role="agency",
            tokens_path="/v1/agencies/sasac/tokens", other_tokens_path="/v1/agencies/railway/tokens",
            admin=h.auth("admin"), outsider=h.auth("agency", "sasac"),
            use=lambda headers: h.client.get("/v1/agencies/sasac/measures", headers=headers),
        )
        assert walked["second"]["agency"] == "sasac" and walked["second"]["scopes"] == ["sasac"]
        ids = [walked["first"]["id"], walked["second"]["id"]]
        assert [a for _, _, a in await audit_actions(h.runtime.sessionmaker, ids)] == [
            "agency.token.issue", "agency.token.rotate", "agency.token.revoke"]
        unknown = await h.client.get("/v1/agencies/nobody/tokens", headers=h.auth("admin"))
        assert (unknown.status_code, unknown.json()["field"]) == (404, "path.agency")
        chosen = await h.client.post("/v1/agencies/sasac/tokens", json={"scopes": ["railway"]}, headers=h.auth("admin"))
        assert (chosen.status_code, chosen.json()["field"]) == (422, "body.scopes")


async def test_admin_credentials_are_managed_through_the_api(sanctions):
    async with sanctions() as h:
        await walk_credential_lifecycle(
            h.client, h.runtime.sessionmaker, role="admin",
            tokens_path="/v1/admin/admins/zhou.jie/tokens", other_tokens_path="/v1/admin/admins/ops_admin/tokens",
            admin=h.auth("admin"), outsider=h.auth("agency", "sasac"),
            use=lambda headers: h.client.get("/v1/admin/dead-letters", headers=headers),
        )
