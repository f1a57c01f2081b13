"""Receiving reports: validate against the catalog and the department's scope, store, announce (one transaction)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, case, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingest_service.reports.models import idempotency_keys, reports
from ingest_service.reports.schemas import ReportIn, ReportOut, SubjectOut
from jointcredit_common.auth import Principal
from jointcredit_common.catalog import Catalog, UnknownCodeError
from jointcredit_common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas import Evidence, Exemption, ReportClassified, ReportReceived, ReportWithdrawn, SubjectRef
from jointcredit_common.pii import InvalidIdentifier, PiiCipher, PiiHasher, mask_name, mask_resident_id, normalize_subject_id
from jointcredit_common.paging import decode_cursor, encode_cursor
from jointcredit_common.subjects import SUBJECT_ID_CONTEXT, SUBJECT_NAME_CONTEXT, subject_key


def validate_report(report_in: ReportIn, *, principal: Principal, catalog: Catalog, today: date, field_prefix: str = "body") -> str:
    """Return the normalised subject id, or raise a problem naming the offending field."""
    try:
        subject_id = normalize_subject_id(report_in.subject.type, report_in.subject.id, today=today)
    except InvalidIdentifier as exc:
        raise ValidationFailed(f"subject.id is not a valid {exc.kind}: {exc.reason}", field=f"{field_prefix}.subject.id") from exc
    try:
        behavior = catalog.behavior(report_in.behavior)
    except UnknownCodeError as exc:
        raise ValidationFailed(f"unknown behaviour code {report_in.behavior!r} in catalog {catalog.reference}", field=f"{field_prefix}.behavior") from exc
    if report_in.subject.type not in behavior.subject_types:
        raise ValidationFailed(
            f"behaviour {behavior.code} ({behavior.clause}) applies to {', '.join(behavior.subject_types)}, not {report_in.subject.type}",
            field=f"{field_prefix}.behavior",
        )
    if not principal.has_scope(behavior.code):
        raise Forbidden(f"department {principal.principal} may not report behaviour {behavior.code}", field=f"{field_prefix}.behavior")
    if report_in.occurred_on > today:
        raise ValidationFailed("occurred_on is in the future", field=f"{field_prefix}.occurred_on")
    evidence = report_in.evidence
    if evidence.kind != "none":
        for name in ("document_no", "authority", "decided_on"):
            if not getattr(evidence, name):
                raise ValidationFailed(f"evidence.{name} is required when evidence.kind is {evidence.kind}", field=f"{field_prefix}.evidence.{name}")
        if evidence.decided_on and evidence.decided_on > today:
            raise ValidationFailed("evidence.decided_on is in the future", field=f"{field_prefix}.evidence.decided_on")
    elif evidence.document_no or evidence.authority or evidence.decided_on:
        raise ValidationFailed("evidence details given but evidence.kind is none", field=f"{field_prefix}.evidence.kind")
    if report_in.exemption is not None and behavior.outcome != "exemption":
        raise ValidationFailed(f"exemption applies only to exemption codes (三(三)), not {behavior.code}", field=f"{field_prefix}.exemption")
    return subject_id


def report_row(
    report_in: ReportIn, subject_id: str, *, principal: Principal, cipher: PiiCipher, hasher: PiiHasher,
    report_id: uuid.UUID | None = None, received_at: datetime | None = None,
) -> dict[str, Any]:
    citizen = report_in.subject.type == "citizen"
    return {
        "id": report_id or uuid.uuid4(),
        "department": principal.principal,
        "subject_type": report_in.subject.type,
        "subject_key": subject_key(report_in.subject.type, subject_id, hasher),
        "subject_id": None if citizen else subject_id,
        "subject_id_encrypted": cipher.encrypt(subject_id, context=SUBJECT_ID_CONTEXT) if citizen else None,
        "subject_name": None if citizen else report_in.subject.name,
        "subject_name_encrypted": cipher.encrypt(report_in.subject.name, context=SUBJECT_NAME_CONTEXT) if citizen else None,
        "behavior": report_in.behavior,
        "occurred_on": report_in.occurred_on,
        "description": report_in.description,
        "evidence": report_in.evidence.model_dump(mode="json"),
        "exemption": report_in.exemption.model_dump(mode="json") if report_in.exemption else None,
        "status": "received",
        "received_at": received_at or datetime.now(UTC),
    }


def received_event(row: dict[str, Any], subject_id: str, name: str) -> ReportReceived:
    citizen = row["subject_type"] == "citizen"
    return ReportReceived(
        report_id=str(row["id"]),
        department=row["department"],
        subject=SubjectRef(
            type=row["subject_type"],
            key=row["subject_key"],
            display_id=mask_resident_id(subject_id) if citizen else subject_id,
            display_name=mask_name(name) if citizen else name,
            id_encrypted=row["subject_id_encrypted"],
            name_encrypted=row["subject_name_encrypted"],
        ),
        behavior=row["behavior"],
        occurred_on=row["occurred_on"],
        description=row["description"],
        evidence=Evidence(**row["evidence"]),
        exemption=Exemption(**row["exemption"]) if row["exemption"] else None,
        received_at=row["received_at"],
    )


def accepted_body(row: dict[str, Any]) -> dict[str, Any]:
    """The 202 answer to a stored report."""
    return {
        "id": str(row["id"]),
        "status": "received",
        "received_at": row["received_at"].isoformat(),
        "subject": {"type": row["subject_type"], "key": row["subject_key"]},
        "behavior": row["behavior"],
        "links": {"self": f"/v1/reports/{row['id']}"},
    }


async def create_report(
    session: AsyncSession, *, report_in: ReportIn, subject_id: str, principal: Principal, cipher: PiiCipher,
    hasher: PiiHasher, outbox: Outbox,
) -> dict[str, Any]:
    row = report_row(report_in, subject_id, principal=principal, cipher=cipher, hasher=hasher)
    await session.execute(insert(reports), row)
    await outbox.add(session, received_event(row, subject_id, report_in.subject.name), key=row["subject_key"])
    return row


def to_out(row: Any, *, viewer: Principal, cipher: PiiCipher) -> ReportOut:
    """Citizens' id and name in clear only for the reporting department (DESIGN §4); masked for anyone else."""
    if row["subject_type"] == "citizen":
        clear_id = cipher.decrypt(row["subject_id_encrypted"], context="subject.id")
        clear_name = cipher.decrypt(row["subject_name_encrypted"], context="subject.name")
        owner = viewer.role == "department" and viewer.principal == row["department"]
        shown_id, shown_name = (clear_id, clear_name) if owner else (mask_resident_id(clear_id), mask_name(clear_name))
    else:
        shown_id, shown_name = row["subject_id"], row["subject_name"]
    return ReportOut(
        id=str(row["id"]),
        status=row["status"],
        department=row["department"],
        subject=SubjectOut(type=row["subject_type"], key=row["subject_key"], id=shown_id, name=shown_name),
        behavior=row["behavior"],
        occurred_on=row["occurred_on"],
        received_at=row["received_at"],
        evidence=row["evidence"],
        exemption=row["exemption"],
        outcome=row["outcome"],
        clause_codes=row["clause_codes"],
        reason_zh=row["reason_zh"],
        classified_at=row["classified_at"],
        withdrawn_at=row["withdrawn_at"],
        withdraw_reason=row["withdraw_reason"],
    )


async def get_report(session: AsyncSession, report_id: uuid.UUID, *, viewer: Principal) -> Any:
    rid = report_id
    row = (await session.execute(select(reports).where(reports.c.id == rid))).mappings().first()
    # Another department's report is "not found" rather than "forbidden": its existence is not theirs to know.
    if row is None or (viewer.role == "department" and row["department"] != viewer.principal):
        raise NotFound(f"no report {report_id}", field="path.report_id")
    return row


async def list_reports(
    session: AsyncSession, *, viewer: Principal, department: str | None, status: str | None, since: datetime | None,
    cursor: str | None, limit: int,
) -> tuple[list[Any], str | None]:
    query = select(reports).order_by(reports.c.received_at, reports.c.id).limit(limit + 1)
    if viewer.role == "department":
        if department and department != viewer.principal:
            raise Forbidden("a department may list only its own reports", field="query.department")
        department = viewer.principal
    if department:
        query = query.where(reports.c.department == department)
    if status:
        query = query.where(reports.c.status == status)
    if since:
        query = query.where(reports.c.received_at >= since)
    if cursor:
        at, rid = decode_cursor(cursor, datetime, uuid.UUID)
        query = query.where(or_(reports.c.received_at > at, and_(reports.c.received_at == at, reports.c.id > rid)))
    rows = (await session.execute(query)).mappings().all()
    next_cursor = encode_cursor(rows[limit - 1]["received_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return list(rows[:limit]), next_cursor


# --- Idempotency-Key -----------------------------------------------------------------------------------


def request_fingerprint(body: bytes, *, path: str = "") -> str:
    """Same key + same body → the original response. Bodies compare by their JSON value, not their bytes.

    The path is part of the fingerprint: one key reused on another endpoint is a different request (409).
    """
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    return hashlib.sha256(path.encode() + b"\n" + canonical).hexdigest()


async def replay_idempotent(session: AsyncSession, *, department: str, key: str, fingerprint: str) -> tuple[int, Any] | None:
    row = (
        await session.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.department == department,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_at > datetime.now(UTC),
            )
        )
    ).mappings().first()
    if row is None:
        return None
    if row["request_sha256"] != fingerprint:
        raise Conflict("Idempotency-Key was already used with a different request body", field="header.Idempotency-Key")
    return row["status_code"], row["response"]


async def remember_idempotent(
    session: AsyncSession, *, department: str, key: str, fingerprint: str, status_code: int, response: Any, ttl_hours: float
) -> bool:
    """Store the response with the report in the same transaction. False: a concurrent request won the key."""
    await session.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.department == department, idempotency_keys.c.key == key,
            idempotency_keys.c.expires_at <= datetime.now(UTC),
        )
    )
    result = await session.execute(
        pg_insert(idempotency_keys)
        .values(department=department, key=key, request_sha256=fingerprint, status_code=status_code, response=response,
                expires_at=datetime.now(UTC) + timedelta(hours=ttl_hours))
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    return result.first() is not None


async def apply_classification(session: AsyncSession, classified: ReportClassified) -> None:
    """report.classified.v1 (rating's model) → the report's visible status and outcome.

    A report withdrawn before its classification arrived stays ``withdrawn`` but still records the outcome it had,
    so the history is complete. Only the first classification counts (safe if delivered twice).
    """
    await session.execute(_APPLY_CLASSIFICATION, {
        "p_id": uuid.UUID(classified.report_id), "p_outcome": classified.outcome, "p_clause_codes": classified.clause_codes,
        "p_reason_zh": classified.reason_zh, "p_classified_at": classified.classified_at,
    })


# Built once with bind parameters: one compiled statement for every report.classified event.
_APPLY_CLASSIFICATION = (
    update(reports)
    .where(reports.c.id == bindparam("p_id"), reports.c.classified_at.is_(None))
    .values(status=case((reports.c.status == "received", "classified"), else_=reports.c.status),
            outcome=bindparam("p_outcome"), clause_codes=bindparam("p_clause_codes"),
            reason_zh=bindparam("p_reason_zh"), classified_at=bindparam("p_classified_at"))
)


# --- withdrawal ----------------------------------------------------------------------------------------


async def withdraw_report(
    session: AsyncSession, report_id: uuid.UUID, *, principal: Principal, reason: str, outbox: Outbox
) -> Any:
    """The owning department withdraws its report (e.g. the penalty was revoked on appeal); downstream undoes it."""
    rid = report_id
    row = (await session.execute(select(reports).where(reports.c.id == rid).with_for_update())).mappings().first()
    if row is None or row["department"] != principal.principal:
        raise NotFound(f"no report {report_id}", field="path.report_id")
    if row["status"] == "withdrawn":
        raise Conflict(f"report {report_id} was already withdrawn at {row['withdrawn_at'].isoformat()}", field="path.report_id")
    withdrawn_at = datetime.now(UTC)
    updated = (
        await session.execute(
            update(reports).where(reports.c.id == rid)
            .values(status="withdrawn", withdrawn_at=withdrawn_at, withdraw_reason=reason)
            .returning(*reports.c)
        )
    ).mappings().one()
    await outbox.add(
        session,
        ReportWithdrawn(report_id=str(rid), department=row["department"], subject_key=row["subject_key"], reason=reason,
                        withdrawn_at=withdrawn_at),
        key=row["subject_key"],
    )
    return updated


# --- housekeeping --------------------------------------------------------------------------------------


async def purge_expired_idempotency_keys(runtime: Any) -> None:
    """One housekeeping pass: expired Idempotency-Key records are deleted (they are already ignored once expired)."""
    async with runtime.unit_of_work() as session:
        await session.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= datetime.now(UTC)))
