"""The credential router's shape: the paths it serves and the mistakes it refuses at start-up (no database here;
the behaviour is tested through each service's real app, see jointcredit_common.testing.credentials)."""

from __future__ import annotations

import pytest

from jointcredit_common.credentials import admin_credentials_router, any_name, credentials_router


def test_it_serves_list_issue_rotate_and_revoke_under_the_services_own_path():
    router = credentials_router(role="agency", path="/v1/agencies/{agency}/tokens", principal_param="agency",
                                principal_check=any_name([]))
    assert sorted((sorted(r.methods)[0], r.path) for r in router.routes) == [
        ("GET", "/v1/agencies/{agency}/tokens"), ("POST", "/v1/agencies/{agency}/tokens"),
        ("POST", "/v1/agencies/{agency}/tokens/{credential_id}:revoke"),
        ("POST", "/v1/agencies/{agency}/tokens/{credential_id}:rotate"),
    ]
    assert {r.path for r in admin_credentials_router().routes} >= {"/v1/admin/admins/{name}/tokens"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "auditor", "path": "/v1/admin/auditors/{name}/tokens", "principal_param": "name"}, "unknown role"),
    ({"role": "reviewer", "path": "/v1/admin/reviewers/tokens", "principal_param": "name"}, "has no {name}"),
])
def test_a_wrong_role_or_path_is_refused_when_the_app_is_built(kwargs, message):
    with pytest.raises(ValueError, match=message):
        credentials_router(**kwargs, principal_check=any_name([]))
