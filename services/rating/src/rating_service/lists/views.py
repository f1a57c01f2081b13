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

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import Select, func, literal_column, or_, select, tuple_

from jointcredit_common.domain import ListName, SubjectType
from jointcredit_common.paging import decode_cursor, encode_cursor
from jointcredit_common.catalog import load_catalog
from jointcredit_common.pii import InvalidIdentifier, PiiHasher
from jointcredit_common.app import ServiceRuntime
from jointcredit_common.subjects import subject_key_of as key_of
from rating_service.records.models import credit_records, subjects
from rating_service.records.service import LIVE, today_in_china

router = APIRouter(tags=["public lists"])

ListKey = ListName


__all__ = ["public_list_query", "router"]

# Constants in the SQL text, not parameters (see LIVE): the indexes of 0003 must match in a generic plan too.
# "enterprise:<USCC>" | "citizen:<hash>": the subject type of a record without joining subjects (indexed, 0003).
SUBJECT_TYPE_OF_KEY = func.split_part(credit_records.c.subject_key, literal_column("':'"), literal_column("1"))
# The distinct bigrams of a subject's displayed name and ID, GIN-indexed (0003): a name fragment's must all be there.
SUBJECT_BIGRAMS = func.rating_subject_bigrams(subjects.c.display_name, subjects.c.display_id)


# What a public item shows; not the pre-listing notice (kilobytes of JSON each, TOASTed: never read for a page).
PUBLIC_COLUMNS = [credit_records.c[name] for name in (
    "id", "list", "behavior", "clause_codes", "tier", "state", "publicity_starts_on", "publicity_ends_on", "measures",
    "evidence", "reason_zh", "catalog")]


def subject_key_of(hasher: PiiHasher, q: str) -> str | None:
    """The subject key ``q`` names if it is a full USCC or resident ID (citizens via the keyed hash)."""
    for subject_type in ("enterprise", "citizen"):
        try:
            return key_of(subject_type, q, hasher)
        except InvalidIdentifier:
            continue
    return None


def public_list_query(
    list_key: str, *, today: date, limit: int, subject_key: str | None = None, name_fragment: str | None = None,
    subject_type: str | None = None, after: tuple[date, uuid.UUID] | None = None,
) -> Select:
    """One page of a public list, newest publicity first: ``limit + 1`` rows (the extra one says "there is more").

    Served by the partial index ``credit_records_public_page`` (list, publicity_starts_on DESC, id DESC) or, with
    a type filter, ``credit_records_public_page_type`` (0003); the cursor is a keyset seek into it."""
    query = (
        select(*PUBLIC_COLUMNS, subjects.c.type.label("subject_type"), subjects.c.display_id, subjects.c.display_name)
        .join(subjects, subjects.c.key == credit_records.c.subject_key)
        .where(
            credit_records.c.list == list_key,
            LIVE,
            credit_records.c.publicity_starts_on <= today,
            credit_records.c.publicity_ends_on >= today,
        )
        .order_by(credit_records.c.publicity_starts_on.desc(), credit_records.c.id.desc())
        .limit(limit + 1)
    )
    if subject_key is not None:
        query = query.where(credit_records.c.subject_key == subject_key)
    if name_fragment is not None:
        pattern = "%" + name_fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(subjects.c.display_name.ilike(pattern, escape="\\"),
                                subjects.c.display_id.ilike(pattern, escape="\\")))
        if len(name_fragment) >= 2:  # candidates from the bigram index (0003); the ILIKE above rechecks them
            query = query.where(SUBJECT_BIGRAMS.op("@>", is_comparison=True)(func.rating_bigrams(name_fragment)))
    if subject_type is not None:
        query = query.where(SUBJECT_TYPE_OF_KEY == literal_column(f"'{_subject_type(subject_type)}'"),
                            subjects.c.type == subject_type)
    if after is not None:
        query = query.where(tuple_(credit_records.c.publicity_starts_on, credit_records.c.id) < tuple_(*after))
    return query


def _subject_type(value: str) -> str:
    if value not in ("enterprise", "citizen"):  # it is written into the SQL text
        raise ValueError(f"unknown subject type {value!r}")
    return value


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
        "status_zh": catalog.templates_zh.records.public_status["disputed" if row["state"] == "disputed" else "active"],
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
    subject_type: SubjectType | None = Query(None, alias="type"),
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(None, max_length=200),
) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    today = today_in_china()
    q = q.strip() if q else None
    key = subject_key_of(runtime.hasher, q) if q else None
    query = public_list_query(
        list_key, today=today, limit=limit, subject_key=key, name_fragment=q if q and key is None else None,
        subject_type=subject_type, after=decode_cursor(cursor, date, uuid.UUID) if cursor else None,
    )
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
