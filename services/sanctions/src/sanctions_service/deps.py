"""Typed dependencies and the one rule of agency access: an agency sees and acts on its own measures only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from jointcredit_common.auth import Principal, require_role
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import Forbidden, NotFound
from jointcredit_common.app import ServiceRuntime

AgencyOrAdmin = Annotated[Principal, require_role("agency")]  # require_role lets admins through too


def get_runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def known_agency(agency: str, *, field: str = "path.agency") -> str:
    if agency not in {a.code for a in load_catalog().agencies}:
        raise NotFound(f"no implementing agency {agency!r} in the catalog", field=field)
    return agency


def ensure_agency_access(principal: Principal, agency: str, *, field: str = "path.agency") -> None:
    """Admins see every agency; an agency token only the agency its scope names (DESIGN §4)."""
    if principal.is_admin:
        return
    if principal.role != "agency" or not principal.has_scope(agency):
        raise Forbidden("an agency reads and acts on its own measures only", field=field)


async def _agency_in_path(agency: str, principal: AgencyOrAdmin) -> Principal:
    ensure_agency_access(principal, agency)
    return principal


# For writes under /v1/agencies/{agency}/…: the agency check runs as a dependency, so another agency's caller
# gets 403 before its body is validated (a 422 would come first otherwise).
AgencyOfPath = Annotated[Principal, Depends(_agency_in_path)]


def own_agency(principal: Principal) -> str | None:
    """The agency an agency token acts for (its principal), None for an admin."""
    return None if principal.is_admin else principal.principal
