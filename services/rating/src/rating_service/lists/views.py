"""Public lists (重点警示名单 / 守信红名单 / 失信名单): what the credit platform publishes, masked.

Shown: records of the list whose publicity period contains today (Asia/Shanghai) and whose state is
``active`` or ``disputed``. A disputed record stays published, marked 异议处理中 (``disputed: true``): the
penalty or judgment it rests on stands until an objection is upheld, and national practice marks rather
than hides information under objection. Repaired, withdrawn and expired records are never shown.

Citizens appear only as stored: masked name (张*三) and masked ID (2101**********123X); the full ID is
never in this database. ``q`` finds a subject by its full USCC or resident ID (exact, via the keyed hash for
citizens), or by a fragment of the displayed name / ID (enterprise names; masked text for citizens).
Paging is keyset (newest publicity first): pass ``next_cursor`` back as ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import or_, select, tuple_

from jointcredit_common.catalog import load_catalog
from jointcredit_common.errors import ValidationFailed
from jointcredit_common.pii import InvalidIdentifier, normalize_subject_id
from jointcredit_common.service import ServiceRuntime
from rating_service.records.models import credit_records, subjects
from rating_service.records.service import LIVE_STATES, today_in_china

router = APIRouter(tags=["public lists"])

ListKey = Literal["key_warning", "red", "dishonest"]
DISPUTED_ZH = "异议处理中"
PUBLISHED_ZH = "公示中"


def encode_cursor(starts_on: date, record_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([starts_on.isoformat(), str(record_id)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date, uuid.UUID]:
    try:
        starts_on, record_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return date.fromisoformat(starts_on), uuid.UUID(record_id)
    except (binascii.Error, ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed("cursor is not one this API returned", field="query.cursor") from exc


def _search_condition(runtime: ServiceRuntime, q: str) -> Any:
    for subject_type in ("enterprise", "citizen"):
        try:
            normalized = normalize_subject_id(subject_type, q)
        except InvalidIdentifier:
            continue
        key = f"enterprise:{normalized}" if subject_type == "enterprise" else f"citizen:{runtime.hasher.keyed_hash(normalized)}"
        return credit_records.c.subject_key == key
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(subjects.c.display_name.ilike(pattern, escape="\\"), subjects.c.display_id.ilike(pattern, escape="\\"))


def public_item(row: Any) -> dict[str, Any]:
    catalog = load_catalog()
    codes = list(row["clause_codes"])
    behaviors = [catalog.behavior(c) for c in codes if c in {b.code for b in catalog.behaviors}]
    evidence = row["evidence"] or None
    tier = catalog.tier(row["tier"]) if row["tier"] else None
    return {
        "record_id": str(row["id"]),
        "list": row["list"],
        "list_name_zh": catalog.list_policy(row["list"]).name_zh,
        "subject": {"type": row["subject_type"], "id": row["display_id"], "name": row["display_name"]},
        "behavior": row["behavior"],
        "clause_codes": codes,
        "clause_refs": [b.clause for b in behaviors],
        "behavior_zh": behaviors[0].text_zh if behaviors else None,
        "tier": row["tier"],
        "tier_name_zh": tier.name_zh if tier else None,
        "state": row["state"],
        "disputed": row["state"] == "disputed",
        "status_zh": DISPUTED_ZH if row["state"] == "disputed" else PUBLISHED_ZH,
        "publicity_starts_on": row["publicity_starts_on"],
        "publicity_ends_on": row["publicity_ends_on"],
        "measures": row["measures"],
        "evidence": (
            {"kind": evidence.get("kind"), "document_no": evidence.get("document_no"), "authority": evidence.get("authority"),
             "decided_on": evidence.get("decided_on")}
            if evidence and evidence.get("kind") not in (None, "none") else None
        ),
        "reason_zh": row["reason_zh"],
        "catalog": row["catalog"],
    }


@router.get("/v1/public/lists/{list_key}", summary="A public list: paginated, searchable, citizens masked")
async def get_public_list(
    request: Request,
    list_key: ListKey,
    q: str | None = Query(None, min_length=1, max_length=100, description="full USCC / resident ID, or part of a name or ID"),
    subject_type: Literal["enterprise", "citizen"] | None = Query(None, alias="type"),
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    today = today_in_china()
    query = (
        select(credit_records, subjects.c.type.label("subject_type"), subjects.c.display_id, subjects.c.display_name)
        .join(subjects, subjects.c.key == credit_records.c.subject_key)
        .where(
            credit_records.c.list == list_key,
            credit_records.c.state.in_(LIVE_STATES),
            credit_records.c.publicity_starts_on <= today,
            credit_records.c.publicity_ends_on >= today,
        )
        .order_by(credit_records.c.publicity_starts_on.desc(), credit_records.c.id.desc())
        .limit(limit + 1)
    )
    q = q.strip() if q else None
    if q:
        query = query.where(_search_condition(runtime, q))
    if subject_type:
        query = query.where(subjects.c.type == subject_type)
    if cursor:
        after_date, after_id = decode_cursor(cursor)
        query = query.where(tuple_(credit_records.c.publicity_starts_on, credit_records.c.id) < tuple_(after_date, after_id))
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(query)).mappings().all()
    page, more = rows[:limit], len(rows) > limit
    return {
        "list": list_key,
        "list_name_zh": load_catalog().list_policy(list_key).name_zh,
        "as_of": today,
        "items": [public_item(r) for r in page],
        "next_cursor": encode_cursor(page[-1]["publicity_starts_on"], page[-1]["id"]) if more else None,
    }
