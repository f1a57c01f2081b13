"""One walk through a credential's life, run against each service's real app by that service's tests.

The router is one (``jointcredit_common.credentials``); what differs per service is where it is mounted, who the
principal is and what the credential is for — so each service passes a ``use`` call that only that role can make.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.tables import audit_log, credentials

Headers = dict[str, str]


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def _counts(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessionmaker() as session:
        return (
            (await session.scalar(select(func.count()).select_from(credentials))) or 0,
            (await session.scalar(select(func.count()).select_from(credentials).where(credentials.c.revoked_at.is_not(None)))) or 0,
            (await session.scalar(select(func.count()).select_from(audit_log))) or 0,
        )


async def audit_actions(sessionmaker: async_sessionmaker[AsyncSession], target_ids: list[str]) -> list[tuple[str, str, str]]:
    """(actor role, actor, action) of the audit rows about these credentials, oldest first."""
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(audit_log.c.actor_role, audit_log.c.actor, audit_log.c.action)
            .where(audit_log.c.target_type == "credential", audit_log.c.target_id.in_(target_ids)).order_by(audit_log.c.id)
        )).all()
    return [tuple(r) for r in rows]


async def walk_credential_lifecycle(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tokens_path: str,
    role: str,
    admin: Headers,
    outsider: Headers,
    use: Callable[[Headers], Awaitable[httpx.Response]],
    issue_body: dict[str, Any] | None = None,
    other_tokens_path: str | None = None,
) -> dict[str, Any]:
    """Issue → list → use → rotate → revoke → refusals, asserting each answer. ``use(headers)`` is a call only this
    credential's role may make (not 401/403 while valid). ``other_tokens_path``: the same role's path for another
    principal, through which this principal's credential ids must be unknown (404). Returns the ids and tokens."""
    before = await _counts(sessionmaker)

    # Refusals first: a non-admin, no credential, bad input — each a problem document that changes nothing.
    forbidden = await client.post(tokens_path, json=issue_body, headers=outsider)
    assert (forbidden.status_code, forbidden.json()["field"]) == (403, "header.Authorization"), forbidden.text
    assert (await client.get(tokens_path, headers=outsider)).status_code == 403
    assert (await client.get(tokens_path)).status_code == 401
    past = await client.post(tokens_path, json={**(issue_body or {}), "expires_at": "2020-01-01T00:00:00+08:00"}, headers=admin)
    assert (past.status_code, past.json()["field"]) == (422, "body.expires_at"), past.text
    naive = await client.post(tokens_path, json={**(issue_body or {}), "expires_at": "2099-01-01T00:00:00"}, headers=admin)
    assert (naive.status_code, naive.json()["field"]) == (422, "body.expires_at"), naive.text
    extra = await client.post(tokens_path, json={**(issue_body or {}), "token": "mine"}, headers=admin)
    assert (extra.status_code, extra.json()["field"]) == (422, "body.token"), extra.text
    assert extra.headers["content-type"].startswith("application/problem+json")
    assert await _counts(sessionmaker) == before, "refused requests change nothing"

    issued = await client.post(tokens_path, json={**(issue_body or {}), "description": "对接系统"}, headers=admin)
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    first = issued.json()
    assert first["role"] == role and first["token"] and first["description"] == "对接系统"
    assert (await use(bearer(first["token"]))).status_code not in (401, 403)

    listed = await client.get(tokens_path, headers=admin)
    assert listed.status_code == 200, listed.text
    items = {item["id"]: item for item in listed.json()["items"]}
    assert first["id"] in items and items[first["id"]]["revoked_at"] is None
    assert first["token"] not in listed.text and all("token" not in item for item in items.values())

    # Rotation: one step; the old token stops at once, the new one keeps the scopes.
    rotated = await client.post(f"{tokens_path}/{first['id']}:rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["replaces"]["id"] == first["id"] and second["scopes"] == first["scopes"]
    assert second["description"] == "对接系统" and second["token"] != first["token"]
    old = await use(bearer(first["token"]))
    assert (old.status_code, old.json().get("field")) == (401, "header.Authorization"), old.text
    assert (await use(bearer(second["token"]))).status_code not in (401, 403)

    before = await _counts(sessionmaker)
    for path, status, field in [
        (f"{tokens_path}/{first['id']}:rotate", 409, "path.credential_id"),  # already revoked by the rotation
        (f"{tokens_path}/{first['id']}:revoke", 409, "path.credential_id"),
        (f"{tokens_path}/{uuid.uuid4()}:revoke", 404, "path.credential_id"),
        (f"{tokens_path}/{uuid.uuid4()}:rotate", 404, "path.credential_id"),
        (f"{tokens_path}/not-a-uuid:revoke", 404, "path.credential_id"),  # an id that is not a UUID names nothing
        *([(f"{other_tokens_path}/{second['id']}:revoke", 404, "path.credential_id")] if other_tokens_path else []),
    ]:
        response = await client.post(path, headers=admin)
        assert (response.status_code, response.json().get("field")) == (status, field), (path, response.text)
    refused = await client.post(f"{tokens_path}/{second['id']}:revoke", headers=outsider)
    assert refused.status_code == 403
    assert await _counts(sessionmaker) == before, "refused requests change nothing"

    revoked = await client.post(f"{tokens_path}/{second['id']}:revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True and revoked.json()["revoked_at"]
    gone = await use(bearer(second["token"]))
    assert (gone.status_code, gone.json().get("field")) == (401, "header.Authorization"), gone.text
    again = await client.post(f"{tokens_path}/{second['id']}:revoke", headers=admin)
    assert (again.status_code, again.json()["field"]) == (409, "path.credential_id"), again.text

    final = {item["id"]: item for item in (await client.get(tokens_path, headers=admin)).json()["items"]}
    assert final[first["id"]]["revoked_at"] and final[second["id"]]["revoked_at"]
    return {"first": first, "second": second}
