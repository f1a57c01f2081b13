"""Bearer-token auth with roles and scopes. Tokens are random 256-bit secrets stored only as SHA-256.

Roles: ``department`` (reports; scopes = behaviour codes it may report), ``agency`` (scopes = its agency code),
``reviewer`` (scopes = repair stages), ``admin``. A scope ``*`` grants every scope of the role.
Revocation and rotation take effect within ``CACHE_SECONDS`` on every replica.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.errors import Forbidden, Unauthorized
from jointcredit_common.staging import stage
from jointcredit_common.tables import audit_log, credentials
from jointcredit_common.tracing import current_traceparent

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

ROLES = ("department", "agency", "reviewer", "admin")
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    principal: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    credential_id: str | None = None

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token(role: str) -> str:
    return f"jc_{role[:4]}_{secrets.token_urlsafe(32)}"


class TokenStore:
    """Looks tokens up in this service's ``credentials`` table, with a short cache."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def lookup(self, token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self.sessionmaker() as session:
            row = (
                await session.execute(
                    select(credentials).where(
                        credentials.c.token_sha256 == digest,
                        credentials.c.revoked_at.is_(None),
                        or_(credentials.c.expires_at.is_(None), credentials.c.expires_at > func.now()),
                    )
                )
            ).mappings().first()
        principal = (
            Principal(role=row["role"], principal=row["principal"], scopes=frozenset(row["scopes"]), credential_id=str(row["id"]))
            if row
            else None
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, principal)
        return principal

    def forget(self) -> None:
        self._cache.clear()


async def upsert_credential(
    session: AsyncSession, *, role: str, principal: str, token_sha256: str, scopes: list[str], description: str | None = None
) -> None:
    """Import a configured token (bootstrap admin, development demo credentials) at every start. A token revoked
    through the API stays revoked: the import never sets ``revoked_at`` back (security review H5)."""
    await session.execute(
        pg_insert(credentials)
        .values(id=uuid.uuid4(), role=role, principal=principal, token_sha256=token_sha256, scopes=scopes, description=description)
        .on_conflict_do_update(
            index_elements=[credentials.c.token_sha256],
            set_={"role": role, "principal": principal, "scopes": scopes},
        )
    )


async def issue_credential(
    session: AsyncSession, *, role: str, principal: str, scopes: list[str], description: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, str]:
    """A new token for ``principal`` (returned once, stored hashed). Returns (credential id, token)."""
    token = generate_token(role)
    credential_id = uuid.uuid4()
    await session.execute(
        insert(credentials).values(
            id=credential_id, role=role, principal=principal, token_sha256=hash_token(token), scopes=scopes,
            description=description, expires_at=expires_at,
        )
    )
    return str(credential_id), token


async def revoke_credentials(session: AsyncSession, *, role: str, principal: str, credential_id: str | None = None) -> int:
    query = update(credentials).where(
        credentials.c.role == role, credentials.c.principal == principal, credentials.c.revoked_at.is_(None)
    )
    if credential_id:
        query = query.where(credentials.c.id == uuid.UUID(credential_id))
    result = cast("CursorResult[Any]", await session.execute(query.values(revoked_at=func.now())))  # an UPDATE's result
    return result.rowcount


def load_credentials_file(path: Path) -> list[dict[str, Any]]:
    entries = json.loads(path.read_text())
    for entry in entries:
        if entry.get("role") not in ROLES:
            raise ValueError(f"{path}: unknown role {entry.get('role')!r}")
    return entries


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <token>")


async def current_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("a bearer token is required", field="header.Authorization")
    if (known := getattr(request.state, "principal", None)) is not None:
        return known  # resolved earlier in this request (e.g. ingest's JsonWriteRoute checks it before the body)
    principal = await request.app.state.runtime.tokens.lookup(creds.credentials)
    if principal is None:
        raise Unauthorized("the bearer token is unknown, expired or revoked", field="header.Authorization")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_role(*roles: str, admins: bool = True):  # noqa: ANN201 - a FastAPI dependency
    """Only these roles (and admins, unless ``admins=False``: a job admins must not do, e.g. deciding reviews)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles and not (admins and principal.is_admin):
            raise Forbidden(f"this operation needs the role {' or '.join(roles)}; you are {principal.role}",
                            field="header.Authorization")
        return principal

    return Depends(dependency)


AdminPrincipal = Annotated[Principal, require_role("admin")]


async def record_audit(session: AsyncSession, **fields: Any) -> None:  # noqa: ANN401
    """Who, when, what, why — in the same transaction as the write it describes (DESIGN §4); ``fields`` as for
    :func:`audit_row`."""
    await stage(session, write_audit_rows, [audit_row(**fields)])


async def write_audit_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One INSERT for any number of audit rows, at once or at the end of a consumer batch (staging)."""
    await session.execute(insert(audit_log), rows)  # parameters, not .values(): one cached statement


def audit_row(
    *,
    principal: Principal,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    detail: dict[str, Any] | None = None,
    request: Request | None = None,
) -> dict[str, Any]:
    """The ``audit_log`` row ``record_audit`` writes, for callers that insert many in one statement."""
    return {
        "actor_role": principal.role,
        "actor": principal.principal,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "detail": detail or {},
        "client_addr": request.client.host if request and request.client else None,
        "traceparent": current_traceparent.get(),
    }
