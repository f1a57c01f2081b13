"""Every identity × every endpoint of every service, against the expected-access table (conftest.py).

Identities: no credential, a made-up token, a revoked token, and a credential of each role (department, agency,
reviewer, admin). The endpoints are read from each app's routes, so a new endpoint without an entry in the table
fails here, and so does an entry whose endpoint is gone. For each (endpoint, identity):
- allowed by the table → anything but 401/403 (and never a 5xx): the request got past authentication and
  authorisation, whatever its input then earns (404 for the made-up ids used here, 422 for the empty body);
- a role the table does not allow → 403 problem; no credential → 401 problem with ``WWW-Authenticate: Bearer``;
- a made-up or revoked token → 401 wherever the endpoint reads credentials at all (its OpenAPI ``security``),
  and ignored on endpoints that never look at one.
Every 401/403 is RFC 9457 problem+json naming the ``field`` at fault.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import routing
from fastapi.routing import APIRoute

from jointcredit_common.auth import issue_credential, revoke_credentials
from jointcredit_common.devstack import SERVICES
from jointcredit_common.openapi import iter_api_routes
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.plugin import token_of

pytestmark = pytest.mark.hostile

WRITE_METHODS = {"POST", "PUT", "PATCH"}
FASTAPI_DOC_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # public by design


def _non_api_paths(app: Any) -> set[str]:
    flatten = getattr(routing, "iter_route_contexts", None)
    contexts = flatten(app.routes) if flatten else app.routes
    return {getattr(c, "path_format", None) or c.path for c in contexts
            if not isinstance(getattr(c, "original_route", c), APIRoute)}


async def _revoked_token(app: Any) -> str:
    """A department credential of this service that has been revoked (tokens are per service database)."""
    runtime = app.state.runtime
    async with runtime.sessionmaker() as session, session.begin():
        credential_id, token = await issue_credential(session, role="department", principal="market_regulation",
                                                      scopes=["W1"], description="authz matrix: revoked")
        assert await revoke_credentials(session, role="department", principal="market_regulation",
                                        credential_id=credential_id) == 1
    runtime.tokens.forget()
    return token


def _expected(identity: str, allowed: frozenset[str], reads_credentials: bool) -> str:
    if identity in ("made-up token", "revoked token"):
        return "401" if reads_credentials else "through"
    if identity in allowed:
        return "through"
    return "401" if identity == "anonymous" else "403"


def _outcome(response: Any) -> str:
    return str(response.status_code) if response.status_code in (401, 403) else "through"


@pytest.mark.parametrize("name", list(SERVICES))
async def test_every_identity_gets_exactly_the_access_the_table_grants(name: str, jc_app, jc_credentials, access_policy):
    create_app, settings_cls = access_policy.service(name)
    creds = jc_credentials[1]
    unlimited = {"rate_limit_per_second": 0, "anonymous_rate_limit_per_second": 0}
    async with jc_app(name, create_app, settings_cls, **unlimited) as (app, client):
        routes = {(method, route.path_format) for route in iter_api_routes(app.routes) for method in route.methods}
        listed = {(method, path) for service, method, path in access_policy.table if service == name}
        assert routes - listed == set(), f"{name}: endpoints without an entry in the expected-access table"
        assert listed - routes == set(), f"{name}: table entries for endpoints that no longer exist"
        assert _non_api_paths(app) == FASTAPI_DOC_ROUTES, f"{name}: a route outside the OpenAPI document"

        identities: dict[str, dict[str, str]] = {
            "anonymous": {},
            "made-up token": {"Authorization": "Bearer jc_dept_" + "A" * 43},
            "revoked token": {"Authorization": f"Bearer {await _revoked_token(app)}"},
            **{role: {"Authorization": f"Bearer {token_of(creds, role, principal)}"}
               for role, principal in access_policy.principals.items()},
        }
        openapi = app.openapi()
        mismatches: list[str] = []
        calls = 0
        for method, path in sorted(routes):
            reads_credentials = bool(openapi["paths"][path][method.lower()].get("security"))
            for rule in access_policy.rules_of(name, method, path):
                values = access_policy.path_params | rule.path_params
                url = re.sub(r"\{(\w+)\}", lambda m, values=values: values[m.group(1)], path)
                for identity, headers in identities.items():
                    response = await client.request(method, url, headers=headers, json={} if method in WRITE_METHODS else None)
                    calls += 1
                    expected, got = _expected(identity, rule.allowed, reads_credentials), _outcome(response)
                    server_error = response.status_code >= 500 and not (path == "/readyz" and response.status_code == 503)
                    if server_error or expected != got:
                        mismatches.append(f"{method} {url} as {identity}: expected {expected}, got {response.status_code} "
                                          f"{response.text[:160]}  [{rule.why}]")
                    elif got in ("401", "403"):
                        body = response.json()
                        is_problem = response.headers["content-type"] == "application/problem+json"
                        if not is_problem or body.get("status") != response.status_code or not body.get("field"):
                            mismatches.append(f"{method} {url} as {identity}: {got} is not a problem naming its field: {body}")
                        if got == "401" and response.headers.get("www-authenticate") != "Bearer":
                            mismatches.append(f"{method} {url} as {identity}: 401 without WWW-Authenticate: Bearer")
        assert not mismatches, f"{name}: {len(mismatches)} of {calls} calls disagree with the table:\n" + "\n".join(mismatches)
        for doc in sorted(FASTAPI_DOC_ROUTES - {"/docs/oauth2-redirect"}):
            assert (await client.get(doc)).status_code == 200


async def test_a_department_sees_and_withdraws_only_its_own_reports(jc_app, jc_credentials, access_policy):
    create_app, settings_cls = access_policy.service("ingest")
    creds = jc_credentials[1]
    market = {"Authorization": f"Bearer {token_of(creds, 'department', 'market_regulation')}"}
    court = {"Authorization": f"Bearer {token_of(creds, 'department', 'intermediate_court')}"}
    report = {"subject": {"type": "enterprise", "id": uscc(9101), "name": "大连某某物流有限公司"}, "behavior": "W1",
              "occurred_on": (date.today() - timedelta(days=40)).isoformat(), "description": "未落实复工防控措施",
              "evidence": {"kind": "none"}}
    async with jc_app("ingest", create_app, settings_cls) as (_, client):
        created = await client.post("/v1/reports", json=report, headers=market)
        assert created.status_code == 202, created.text
        own = f"/v1/reports/{created.json()['id']}"
        assert (await client.get(own, headers=market)).status_code == 200
        # another department learns nothing, not even that the report exists
        assert (await client.get(own, headers=court)).status_code == 404
        assert (await client.post(f"{own}/withdraw", json={"reason": "撤销"}, headers=court)).status_code == 404
        assert (await client.get("/v1/reports", headers=court)).json()["items"] == []
        foreign = await client.get("/v1/reports", params={"department": "market_regulation"}, headers=court)
        assert foreign.status_code == 403 and foreign.json()["field"] == "query.department"
        assert [r["id"] for r in (await client.get("/v1/reports", headers=market)).json()["items"]] == [created.json()["id"]]
