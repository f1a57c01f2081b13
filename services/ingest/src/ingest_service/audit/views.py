"""Audit export (DESIGN §4): every write is in ``audit_log`` (who, when, what, from which address); admins export a
time range as CSV or NDJSON. The export is streamed from one database snapshot and is itself audited.

Naive ``from``/``to`` values (and plain dates) are read in Asia/Shanghai time; the range is ``[from, to)``.
Personal data never reaches the audit trail in clear (citizens appear by keyed hash), so the export needs no masking.
CSV cells that a spreadsheet would run as a formula (=, +, -, @ …) are prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import and_, or_, select

from jointcredit_common.auth import AdminPrincipal, record_audit
from jointcredit_common.errors import ValidationFailed
from jointcredit_common.tables import audit_log

router = APIRouter(tags=["audit"])
SHANGHAI_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
PAGE = 1000
COLUMNS = ("id", "at", "actor_role", "actor", "action", "target_type", "target_id", "client_addr", "traceparent", "detail")
MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI_TZ)


def _record(row: Any) -> dict[str, Any]:
    return {c: (row[c].isoformat() if isinstance(row[c], datetime) else row[c]) for c in COLUMNS}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode() if isinstance(value, (dict, list)) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/v1/admin/audit", summary="Export the audit trail for a time range (CSV or NDJSON)",
            responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}})
async def export_audit(
    request: Request,
    admin: AdminPrincipal,
    from_: datetime = Query(alias="from", description="start (inclusive), ISO 8601; naive = Asia/Shanghai"),
    to: datetime | None = Query(None, description="end (exclusive), ISO 8601; default now"),
    format: Literal["csv", "ndjson"] = Query("ndjson"),  # noqa: A002 - the public query parameter's name
    action: str | None = Query(None, max_length=100, description="only this action, e.g. report.create"),
) -> StreamingResponse:
    runtime = request.app.state.runtime
    start = _aware(from_)
    end = _aware(to) if to is not None else datetime.now(UTC)
    if end <= start:
        raise ValidationFailed("`to` must be after `from`", field="query.to")
    async with runtime.unit_of_work() as session:
        await record_audit(session, principal=admin, action="audit.export", target_type="audit_log",
                           detail={"from": start.isoformat(), "to": end.isoformat(), "format": format, "action": action},
                           request=request)

    async def rows() -> AsyncIterator[bytes]:
        if format == "csv":
            yield "\ufeff".encode()  # BOM: spreadsheet software then reads the Chinese text as UTF-8
            yield _csv_line(COLUMNS)
        async with runtime.unit_of_work() as session:
            last: tuple[datetime, int] | None = None
            while True:
                query = (select(audit_log).where(audit_log.c.at >= start, audit_log.c.at < end)
                         .order_by(audit_log.c.at, audit_log.c.id).limit(PAGE))
                if action:
                    query = query.where(audit_log.c.action == action)
                if last is not None:
                    query = query.where(or_(audit_log.c.at > last[0], and_(audit_log.c.at == last[0], audit_log.c.id > last[1])))
                page = (await session.execute(query)).mappings().all()
                if not page:
                    return
                for row in page:
                    record = _record(row)
                    yield _csv_line([_cell(record[c]) for c in COLUMNS]) if format == "csv" else orjson.dumps(record) + b"\n"
                last = (page[-1]["at"], page[-1]["id"])
                if len(page) < PAGE:
                    return

    filename = f"audit-{start:%Y%m%dT%H%M%S}-{end:%Y%m%dT%H%M%S}.{format}"
    return StreamingResponse(rows(), media_type=MEDIA[format],
                             headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _csv_line(values: Any) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue().encode()
