"""``POST /v1/reports:batch``: many reports in one request, each validated exactly like a single report.

- Body: a JSON array (``application/json``) or NDJSON (``application/x-ndjson``, one report per line, blank lines
  ignored), at most ``max_batch_items`` items and ``max_batch_body_bytes`` bytes.
- Per-item results ``{index, status: 202|4xx, id | problem}`` in input order; a bad item never blocks good ones.
- Valid items are stored in chunks (``batch_chunk_size``), one transaction per chunk holding the multi-row inserts of
  the reports, their ``report.received.v1`` outbox rows and their audit rows.
- With an ``Idempotency-Key`` the key is reserved first and report ids are derived from (department, key, body,
  index): a retry after a crash half-way resumes — reports already committed are not stored or announced twice —
  and a retry after success replays the original response.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ijson
import orjson
from fastapi import Request
from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from jointcredit_common.auth import Principal, audit_row, write_audit_rows
from jointcredit_common.catalog import Catalog
from jointcredit_common.errors import (
    Conflict,
    MalformedBody,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    ValidationFailed,
)
from jointcredit_common.events.outbox import write_outbox_rows
from jointcredit_common.logging import get_logger
from ingest_service.reports.models import idempotency_keys, reports
from ingest_service.reports.schemas import ReportIn
from ingest_service.reports.service import received_event, report_row, validate_report

log = get_logger(__name__)
BATCH_NAMESPACE = uuid.UUID("6f1c7c1e-2d0a-4c55-9d43-5b0e8a1f3b21")
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines")


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_batch(body: bytes, content_type: str, *, max_items: int) -> list[Any]:
    """The items of a batch body; an NDJSON line that is not JSON becomes a MalformedBody problem for that item."""
    if content_type == "application/json" or (content_type.startswith("application/") and content_type.endswith("+json")):
        items = _json_array_items(body, max_items=max_items)
    elif content_type in NDJSON_TYPES:
        items = []
        for line in body.split(b"\n"):
            if not line.strip():
                continue
            if len(items) > max_items:
                break
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                items.append(MalformedBody(f"line is not valid JSON: {exc}", field=f"body.{len(items)}"))
    else:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json (an array) or application/x-ndjson, not {content_type or 'missing'}",
            field="header.Content-Type",
        )
    if not items:
        raise ValidationFailed("the batch is empty", field="body")
    if len(items) > max_items:
        raise PayloadTooLarge(f"a batch holds at most {max_items} items", field="body", limit_items=max_items)
    return items


def _json_array_items(body: bytes, *, max_items: int) -> list[Any]:
    """The items of a JSON array, read one at a time, so the item cap holds while parsing: 32 MiB of ``[{},{},…]``
    would otherwise become millions of objects in memory before the cap could be checked (security review M9)."""
    if body.lstrip()[:1] != b"[":
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise MalformedBody(f"the body is not valid JSON: {exc}", field="body") from None
        raise ValidationFailed("a batch is a JSON array of reports (or NDJSON with Content-Type application/x-ndjson)",
                               field="body")
    items: list[Any] = []
    try:
        for item in ijson.items(body, "item", use_float=True):
            if len(items) == max_items:
                raise PayloadTooLarge(f"a batch holds at most {max_items} items", field="body", limit_items=max_items)
            items.append(item)
    except ijson.JSONError as exc:
        reason = " ".join(str(exc).split())  # yajl's message spans lines
        raise MalformedBody(f"the body is not valid JSON: {reason}", field="body") from None
    return items


def pydantic_problem(exc: ValidationError, prefix: str) -> ValidationFailed:
    errors = [
        {"field": ".".join([prefix, *(str(p) for p in err.get("loc", ()))]), "message": err.get("msg"), "type": err.get("type")}
        for err in exc.errors(include_input=False, include_url=False)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ValidationFailed(detail, field=errors[0]["field"] if errors else prefix, errors=errors)


def validate_item(raw: Any, index: int, *, principal: Principal, catalog: Catalog, today: date) -> tuple[ReportIn, str] | Problem:
    prefix = f"body.{index}"
    if isinstance(raw, Problem):
        return raw
    if not isinstance(raw, dict):
        return ValidationFailed("each item must be a JSON object (a report)", field=prefix)
    try:
        report_in = ReportIn.model_validate(raw)
    except ValidationError as exc:
        return pydantic_problem(exc, prefix)
    try:
        return report_in, validate_report(report_in, principal=principal, catalog=catalog, today=today, field_prefix=prefix)
    except Problem as problem:
        return problem


async def reserve_key(runtime: Any, *, department: str, key: str, fingerprint: str) -> tuple[int, Any] | None:
    """Reserve an Idempotency-Key for a batch. Returns a finished response to replay, or None to (re)run the batch."""
    now = datetime.now(UTC)
    async with runtime.unit_of_work() as session:
        await session.execute(
            delete(idempotency_keys).where(idempotency_keys.c.department == department, idempotency_keys.c.key == key,
                                           idempotency_keys.c.expires_at <= now)
        )
        reserved = await session.execute(
            pg_insert(idempotency_keys)
            .values(department=department, key=key, request_sha256=fingerprint, status_code=0, response={},
                    expires_at=now + timedelta(hours=runtime.settings.idempotency_ttl_hours))
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        )
        if reserved.first() is not None:
            return None
        row = (
            await session.execute(
                select(idempotency_keys).where(idempotency_keys.c.department == department, idempotency_keys.c.key == key)
            )
        ).mappings().one()
    if row["request_sha256"] != fingerprint:
        raise Conflict("Idempotency-Key was already used with a different request body", field="header.Idempotency-Key")
    if row["status_code"] == 0:
        return None  # in progress elsewhere or interrupted: resume; deterministic ids keep it from doubling
    return row["status_code"], row["response"]


async def finish_key(runtime: Any, *, department: str, key: str, status_code: int, response: Any) -> None:
    async with runtime.unit_of_work() as session:
        await session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.department == department, idempotency_keys.c.key == key)
            .values(status_code=status_code, response=response)
        )


async def store_batch(
    runtime: Any, request: Request, *, principal: Principal, items: list[Any], catalog: Catalog, today: date,
    key: str | None, fingerprint: str,
) -> dict[str, Any]:
    results: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, ReportIn, str]] = []
    for index, raw in enumerate(items):
        checked = validate_item(raw, index, principal=principal, catalog=catalog, today=today)
        if isinstance(checked, Problem):
            results[index] = {"index": index, "status": checked.status, "problem": checked.to_dict()}
        else:
            valid.append((index, *checked))
    batch_id = str(uuid.uuid4())
    chunk_size = max(1, runtime.settings.batch_chunk_size)
    for start in range(0, len(valid), chunk_size):
        chunk = valid[start:start + chunk_size]
        received_at = datetime.now(UTC)
        rows = [
            report_row(report_in, subject_id, principal=principal, cipher=runtime.cipher, hasher=runtime.hasher,
                       received_at=received_at,
                       report_id=uuid.uuid5(BATCH_NAMESPACE, f"{principal.principal}|{key}|{fingerprint}|{index}") if key else None)
            for index, report_in, subject_id in chunk
        ]
        try:
            async with runtime.unit_of_work() as session:
                # executemany + RETURNING: SQLAlchemy's "insertmanyvalues" sends multi-row INSERTs from one cached statement
                inserted = set(
                    (await session.execute(
                        pg_insert(reports).on_conflict_do_nothing(index_elements=["id"]).returning(reports.c.id), rows
                    )).scalars()
                )
                fresh = [(row, item) for row, item in zip(rows, chunk, strict=True) if row["id"] in inserted]
                if fresh:
                    await write_outbox_rows(session, [
                        runtime.outbox.row(received_event(row, subject_id, report_in.subject.name), key=row["subject_key"])
                        for row, (_, report_in, subject_id) in fresh
                    ])
                    await write_audit_rows(session, [
                        audit_row(principal=principal, action="report.create", target_type="report", target_id=str(row["id"]),
                                  detail={"behavior": row["behavior"], "subject_key": row["subject_key"],
                                          "batch_id": batch_id, "index": index}, request=request)
                        for row, (index, _, _) in fresh
                    ])
        except Exception:  # noqa: BLE001 - a failed chunk must not hide the other chunks' results
            log.exception("batch_chunk_failed", batch_id=batch_id, first_index=chunk[0][0], size=len(chunk))
            unavailable = Problem("this item could not be stored (a server error); retry it", field=None)
            unavailable.status, unavailable.title, unavailable.slug = 503, "Service unavailable", "service-unavailable"
            for index, _, _ in chunk:
                results[index] = {"index": index, "status": 503, "problem": unavailable.to_dict()}
            continue
        for row, (index, _, _) in zip(rows, chunk, strict=True):
            results[index] = {"index": index, "status": 202, "id": str(row["id"])}
    accepted = sum(1 for r in results if r and r["status"] == 202)
    return {"batch_id": batch_id, "accepted": accepted, "rejected": len(items) - accepted, "results": results}
