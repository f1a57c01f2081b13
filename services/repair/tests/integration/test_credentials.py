"""Reviewers', applicant departments' and admins' credentials on repair, through the API — no SQL (issue 11, H5)."""

from __future__ import annotations

import pytest

from jointcredit_common.testing.credentials import audit_actions, bearer, walk_credential_lifecycle
from jointcredit_common.testing.factories import uscc

pytestmark = pytest.mark.consumers  # the listings a review needs reach repair as events


async def _accepted_application(repair, n: int) -> str:
    enterprise = uscc(n)
    record_id = await repair.list_record(f"enterprise:{enterprise}")
    response = await repair.post(repair.application(enterprise, [record_id]))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_reviewer_credential_issued_through_the_api_decides_its_review_stage(repair):
    app_id = await _accepted_application(repair, 7101)
    issued = await repair.client.post("/v1/admin/reviewers/zhao.lei/tokens", json={"scopes": ["initial"]}, headers=repair.admin)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    assert (issued.json()["role"], issued.json()["reviewer"], issued.json()["scopes"]) == ("reviewer", "zhao.lei", ["initial"])
    zhao_lei = bearer(issued.json()["token"])

    no_scope = await repair.review(app_id, "re_review", headers=zhao_lei)
    assert (no_scope.status_code, no_scope.json()["field"]) == (403, "body.stage")  # scoped to the initial stage only
    decided = await repair.review(app_id, "initial", reason="初审：材料齐全", headers=zhao_lei)
    assert decided.status_code == 200, decided.text
    assert decided.json()["next_stage"] == "re_review"
    assert [(s["stage"], s["reviewer"]) for s in decided.json()["steps"]] == [("initial", "zhao.lei")]

    audit = await repair.rows("SELECT actor_role, actor, action FROM audit_log ORDER BY id")
    assert [tuple(a.values()) for a in audit if a["action"] != "repair.accept"] == [
        ("admin", "ops_admin", "reviewer.token.issue"), ("reviewer", "zhao.lei", "repair.review.initial"),
    ]


async def test_reviewer_tokens_are_listed_rotated_with_their_stages_and_revoked(repair):
    walked = await walk_credential_lifecycle(
        repair.client, repair.runtime.sessionmaker, role="reviewer", issue_body={"scopes": ["re_review", "final"]},
        tokens_path="/v1/admin/reviewers/sun.li/tokens", other_tokens_path="/v1/admin/reviewers/reviewer_final/tokens",
        admin=repair.admin, outsider=repair.reviewer("initial"),
        use=lambda headers: repair.client.get("/v1/repairs", headers=headers),
    )
    assert walked["second"]["scopes"] == ["re_review", "final"], "rotation keeps the stages"
    assert [a for _, _, a in await audit_actions(repair.runtime.sessionmaker, [walked["first"]["id"], walked["second"]["id"]])] \
        == ["reviewer.token.issue", "reviewer.token.rotate", "reviewer.token.revoke"]


async def test_a_reviewer_credential_needs_known_stages(repair):
    path = "/v1/admin/reviewers/zhou.min/tokens"
    before = await repair.scalar("SELECT count(*) FROM credentials"), await repair.scalar("SELECT count(*) FROM audit_log")
    for body, field in [({}, "body.scopes"), ({"scopes": []}, "body.scopes"), ({"scopes": ["initial", "approve"]}, "body.scopes.1"),
                        ({"scopes": ["*"]}, "body.scopes.0"), ({"scopes": ["final", "final"]}, "body.scopes")]:
        response = await repair.client.post(path, json=body, headers=repair.admin)
        assert (response.status_code, response.json()["field"]) == (422, field), (body, response.text)
    assert (await repair.client.post("/v1/admin/reviewers/Zhou Min/tokens", json={"scopes": ["final"]},
                                     headers=repair.admin)).json()["field"] == "path.name"
    assert (await repair.client.post(path, json={"scopes": ["final"]}, headers=repair.department)).status_code == 403
    assert (await repair.scalar("SELECT count(*) FROM credentials"), await repair.scalar("SELECT count(*) FROM audit_log")) == before


async def test_an_applicant_department_credential_is_managed_through_the_api(repair):
    await walk_credential_lifecycle(
        repair.client, repair.runtime.sessionmaker, role="department",
        tokens_path="/v1/admin/departments/tax_bureau/tokens", other_tokens_path="/v1/admin/departments/finance_bureau/tokens",
        admin=repair.admin, outsider=repair.department,
        use=lambda headers: repair.client.get("/v1/repairs", headers=headers),
    )


async def test_admin_credentials_are_managed_through_the_api(repair):
    walked = await walk_credential_lifecycle(
        repair.client, repair.runtime.sessionmaker, role="admin",
        tokens_path="/v1/admin/admins/qian.jun/tokens", other_tokens_path="/v1/admin/admins/ops_admin/tokens",
        admin=repair.admin, outsider=repair.reviewer("final"),
        use=lambda headers: repair.client.get("/v1/admin/dead-letters", headers=headers),
    )
    assert walked["first"]["scopes"] == ["*"]
