"""The registry of member departments (成员单位): who may report which catalog behaviour codes.

A department's effective scope is its registry entry, not the scopes written on its tokens: changing the
registry changes what every token of that department may report (within ``CACHE_SECONDS`` on every replica).
Development and test stacks seed the registry from the demo principals (the bootstrap credentials file).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jointcredit_common.auth import CurrentPrincipal, Principal, load_credentials_file
from jointcredit_common.catalog import UnknownCodeError, load_catalog
from jointcredit_common.errors import Forbidden, ValidationFailed
from jointcredit_common.logging import get_logger
from ingest_service.reports.models import departments

log = get_logger(__name__)
CACHE_SECONDS = 5.0
ALL_CODES = "*"

# Chinese names of the demo departments (development seed only; production departments are created by admins).
DEMO_NAMES_ZH = {
    "market_regulation": "市市场监督管理局",
    "health_commission": "市卫生健康委员会",
    "public_security": "市公安局",
    "hr_social_security": "市人力资源和社会保障局",
    "tax_bureau": "国家税务总局大连市税务局",
    "finance_bureau": "市金融发展局",
    "intermediate_court": "大连市中级人民法院",
}


class DepartmentDirectory:
    """Department code → allowed behaviour codes (None: not registered or disabled), cached briefly."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._cache: dict[str, tuple[float, frozenset[str] | None]] = {}

    async def scope(self, code: str) -> frozenset[str] | None:
        now = time.monotonic()
        cached = self._cache.get(code)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        async with self.sessionmaker() as session:
            row = (await session.execute(select(departments).where(departments.c.code == code))).mappings().first()
        scope = frozenset(row["behaviors"]) if row is not None and row["disabled_at"] is None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[code] = (now, scope)
        return scope

    def forget(self) -> None:
        self._cache.clear()


def directory(request: Request) -> DepartmentDirectory:
    return request.app.state.runtime.extras["departments"]


async def reporting_department(request: Request, principal: CurrentPrincipal) -> Principal:
    """A department credential, with its scope replaced by the department's registry entry."""
    if principal.role != "department":
        raise Forbidden(f"only member departments may do this; this credential's role is {principal.role}",
                        field="header.Authorization")
    scope = await directory(request).scope(principal.principal)
    if scope is None:
        raise Forbidden(f"department {principal.principal} is not registered or is disabled", field="header.Authorization")
    return dataclasses.replace(principal, scopes=scope)


ReportingDepartment = Annotated[Principal, Depends(reporting_department)]


def check_behaviors(codes: list[str], *, field: str = "body.behaviors") -> list[str]:
    """Catalog codes (deduplicated, in order), or exactly ["*"] for every code."""
    if ALL_CODES in codes:
        if codes != [ALL_CODES]:
            raise ValidationFailed('"*" (every code) cannot be combined with other codes', field=field)
        return codes
    catalog = load_catalog()
    for i, code in enumerate(codes):
        try:
            catalog.behavior(code)
        except UnknownCodeError as exc:
            raise ValidationFailed(f"unknown behaviour code {code!r} in catalog {catalog.reference}", field=f"{field}.{i}") from exc
    return list(dict.fromkeys(codes))


def department_out(row: Any) -> dict[str, Any]:
    return {
        "code": row["code"],
        "name_zh": row["name_zh"],
        "behaviors": list(row["behaviors"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "disabled_at": row["disabled_at"],
    }


async def seed_demo_departments(runtime: Any) -> None:
    """Start-up hook: registry entries for the demo departments (never in production; existing entries win)."""
    runtime.extras["departments"] = DepartmentDirectory(runtime.sessionmaker)
    settings = runtime.settings
    path = settings.bootstrap_credentials_file
    if settings.environment == "production" or path is None or not path.exists():
        return
    entries = [e for e in load_credentials_file(path) if e["role"] == "department"]
    if not entries:
        return
    async with runtime.unit_of_work() as session:
        for entry in entries:
            await session.execute(
                pg_insert(departments)
                .values(code=entry["principal"], name_zh=DEMO_NAMES_ZH.get(entry["principal"], entry["principal"]),
                        behaviors=list(entry.get("scopes", [])))
                .on_conflict_do_nothing()
            )
    log.info("demo_departments_seeded", count=len(entries))

