from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from jointcredit_common.domain import SubjectType
from jointcredit_common.auth import Principal
from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import NotFound, Unauthorized, ValidationFailed
from jointcredit_common.pii import InvalidIdentifier
from jointcredit_common.app import ServiceRuntime
from jointcredit_common.subjects import subject_key_of
from rating_service.records.models import classifications, credit_records, subjects
from rating_service.records.service import LIVE_STATES

router = APIRouter(tags=["subjects"])
PUBLIC = Principal(role="public", principal="anonymous")
catalog_router = APIRouter(tags=["catalog"])


@catalog_router.get("/v1/catalog", summary="The policy catalog in force (大信办字〔2020〕4号 as data)")
async def get_catalog(request: Request) -> dict[str, Any]:
    """The catalog as the service applies it: ``validity.ends_on`` is the end of the emergency response in force (the
    setting, else the catalog's), and ``validity.emergency_response`` says where it comes from."""
    settings = request.app.state.runtime.settings
    catalog = load_catalog().with_overrides(emergency_ends_on=settings.emergency_end_date)
    body = catalog.model_dump(mode="json")
    body["validity"]["emergency_response"] = {
        "setting": settings.emergency_ends_on.isoformat() if isinstance(settings.emergency_ends_on, date)
        else settings.emergency_ends_on,  # "not_ended", or None: not set (refused in production)
        "ended": catalog.validity.ends_on is not None,
    }
    return body


def _subject_key(runtime: ServiceRuntime, subject_type: str, subject_id: str) -> str:
    try:
        return subject_key_of(subject_type, subject_id, runtime.hasher)
    except InvalidIdentifier as exc:
        raise ValidationFailed(f"not a valid {exc.kind}: {exc.reason}", field="path.id") from exc


_optional_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)]


async def requester(request: Request, subject_type: str, creds: HTTPAuthorizationCredentials | None) -> Principal:
    """Enterprise credit information is public; a citizen's needs a credential (any role) until the platform
    can verify a citizen's own identity. Masked either way (DESIGN §4)."""
    runtime: ServiceRuntime = request.app.state.runtime
    if creds is not None and creds.credentials:
        principal = await runtime.tokens.lookup(creds.credentials)
        if principal is None:
            raise Unauthorized("the bearer token is unknown, expired or revoked", field="header.Authorization")
        return principal
    if subject_type == "citizen":
        raise Unauthorized("a citizen's credit information needs a credential", field="header.Authorization")
    return PUBLIC


def shows_record(principal: Principal, record: Mapping[str, Any]) -> bool:
    """What has ended (withdrawn, repaired, expired, or history when reported) is no longer public nor shared: it
    stays, 依规保存, in the file the credit office (admin) and the department that reported it read (DESIGN §7)."""
    return (record["state"] in LIVE_STATES or principal.is_admin
            or (principal.role == "department" and principal.principal == record["department"]))


# What the subject view shows of each record; not the pre-listing notice (kilobytes of TOASTed JSON each).
SUBJECT_RECORD_COLUMNS = [credit_records.c[name] for name in (
    "id", "report_id", "department", "list", "behavior", "clause_codes", "tier", "state", "publicity_starts_on",
    "publicity_ends_on", "measures", "suppressed_measures", "reason_zh", "evidence", "ended_at", "end_reason")]


@router.get("/v1/subjects/{subject_type}/{subject_id}", summary="A subject's records, lists and publicity dates")
async def get_subject(
    request: Request, subject_type: SubjectType, subject_id: str, creds: Bearer
) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    key = _subject_key(runtime, subject_type, subject_id)
    principal = await requester(request, subject_type, creds)
    async with runtime.sessionmaker() as session:
        subject = (await session.execute(select(subjects).where(subjects.c.key == key))).mappings().first()
        if subject is None:
            raise NotFound("no credit information about this subject", field="path.id")
        records = (await session.execute(
            select(*SUBJECT_RECORD_COLUMNS).where(credit_records.c.subject_key == key)
            .order_by(credit_records.c.created_at, credit_records.c.id)
        )).mappings().all()
        decided = (await session.execute(
            select(classifications.c.report_id, classifications.c.record_id, classifications.c.outcome,
                   classifications.c.clause_codes, classifications.c.decided_at).where(classifications.c.subject_key == key)
        )).mappings().all()
    hidden = {r["id"] for r in records if not shows_record(principal, r)}
    records = [r for r in records if r["id"] not in hidden]
    live = [r for r in records if r["state"] in LIVE_STATES]
    return {
        "subject": {"type": subject["type"], "key": key, "id": subject["display_id"], "name": subject["display_name"]},
        "lists": sorted({r["list"] for r in live}),
        "records": [
            {"id": str(r["id"]), "report_id": str(r["report_id"]), "list": r["list"], "behavior": r["behavior"],
             "clause_codes": r["clause_codes"], "tier": r["tier"], "state": r["state"],
             "publicity_starts_on": r["publicity_starts_on"], "publicity_ends_on": r["publicity_ends_on"],
             "measures": r["measures"], "suppressed_measures": r["suppressed_measures"], "reason_zh": r["reason_zh"],
             "evidence": r["evidence"], "ended_at": r["ended_at"], "end_reason": r["end_reason"]}
            for r in records
        ],
        # The decision on a report whose record is not shown is not shown either (nothing of it).
        "classifications": [
            {"report_id": str(d["report_id"]), "outcome": d["outcome"], "clause_codes": d["clause_codes"],
             "decided_at": d["decided_at"]}
            for d in decided if d["record_id"] not in hidden
        ],
    }
