"""Building the free credit report (免费信用报告, 大信办字〔2020〕4号 三(一)) from rating's own tables.

Every report handed out gets a verification id (报告验证码) stored with the SHA-256 of its content, so
whoever receives a copy can check it at ``GET /v1/public/credit-reports/{verification_id}``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.catalog import Catalog
from jointcredit_common.errors import NotFound
from rating_service.records.models import credit_records, credit_reports, subjects
from rating_service.records.service import LIVE_STATES
from rating_service.credit_reports.schemas import (
    CreditReport,
    Evidence,
    ListMembership,
    MeasureInForce,
    RepairEntry,
    ReportRecord,
    ReportSubject,
    catalog_wording,
)
from rating_service.credit_reports.pdf import BEIJING

UNNAMED_ZH = "（未登记名称）"
# What the report prints of each record; not the pre-listing notice (kilobytes of TOASTed JSON each).
REPORT_RECORD_COLUMNS = [credit_records.c[name] for name in (
    "id", "department", "list", "behavior", "clause_codes", "tier", "state", "occurred_on", "publicity_starts_on", "publicity_ends_on",
    "evidence", "measures", "ended_at")]


def new_verification_id(now: datetime) -> str:
    return f"JCR-{now.astimezone(BEIJING):%Y%m%d}-{secrets.token_hex(5).upper()}"


def _codes(catalog: Catalog, codes: list[str]) -> tuple[str, str]:
    known = {b.code for b in catalog.behaviors}
    return "/".join(codes), "/".join(catalog.behavior(c).clause for c in codes if c in known) or "—"


def _evidence(raw: dict[str, Any] | None) -> Evidence | None:
    if not raw or raw.get("kind") in (None, "none") or not raw.get("document_no") or not raw.get("authority"):
        return None
    decided = raw.get("decided_on")
    return Evidence(document_no=raw["document_no"], authority=raw["authority"],
                    decided_on=date.fromisoformat(decided) if isinstance(decided, str) else decided)


async def build_credit_report(
    session: AsyncSession, *, subject_key: str, catalog: Catalog, today: date, now: datetime,
    shows: Callable[[Mapping[str, Any]], bool] = lambda record: True,
) -> tuple[CreditReport, list[str]]:
    """The report of one subject as of ``today``, and the record ids in the order of its records: those ``shows``
    lets its reader see (the public's report has nothing of what has ended)."""
    subject = (await session.execute(select(subjects).where(subjects.c.key == subject_key))).mappings().first()
    if subject is None:
        raise NotFound("no credit information about this subject", field="path.id")
    rows = (await session.execute(
        select(*REPORT_RECORD_COLUMNS).where(credit_records.c.subject_key == subject_key)
        # Chronological by incident; records classified in one transaction share created_at, so it only breaks ties.
        .order_by(credit_records.c.occurred_on, credit_records.c.created_at, credit_records.c.id)
    )).mappings().all()
    rows = [row for row in rows if shows(row)]

    records, lists, measures, repairs = [], {}, {}, []
    for row in rows:
        code, clause = _codes(catalog, list(row["clause_codes"]))
        records.append(ReportRecord(
            code=code, clause=clause, behaviour_zh=catalog.behavior(row["behavior"]).text_zh.rstrip("；;。"),
            outcome="history" if row["state"] == "history" else row["list"], list=row["list"], tier=row["tier"], state=row["state"], occurred_on=row["occurred_on"],
            publicity_start=row["publicity_starts_on"], publicity_end=row["publicity_ends_on"],
            evidence=_evidence(row["evidence"]),
        ))
        published = (row["state"] in LIVE_STATES and row["publicity_starts_on"] is not None
                     and row["publicity_starts_on"] <= today <= row["publicity_ends_on"])
        if published:
            since, until = lists.get(row["list"], (row["publicity_starts_on"], row["publicity_ends_on"]))
            lists[row["list"]] = (min(since, row["publicity_starts_on"]), max(until, row["publicity_ends_on"]))
            for measure_code in row["measures"]:
                if measure_code in measures and measures[measure_code].since <= row["publicity_starts_on"]:
                    continue
                measure = catalog.measure(measure_code)
                measures[measure_code] = MeasureInForce(
                    kind=measure.kind, code=measure_code, text_zh=measure.text_zh.rstrip("；;。"),
                    agency_name_zh="、".join(a.name_zh for a in catalog.agencies_for(measure_code)),
                    since=row["publicity_starts_on"],
                )
        if row["state"] == "repaired":
            repairs.append(RepairEntry(id=str(row["id"]), status="approved", record_code=code, decided_at=row["ended_at"]))

    report = CreditReport(
        subject=ReportSubject(type=subject["type"], display_id=subject["display_id"],
                              name=subject["display_name"] or ("*" if subject["type"] == "citizen" else UNNAMED_ZH)),
        generated_at=now.astimezone(BEIJING),
        verification_id=new_verification_id(now),
        records=tuple(records),
        lists=tuple(ListMembership(key=k, since=s, until=u) for k, (s, u) in lists.items()),
        measures=tuple(measures.values()),
        repairs=tuple(repairs),
        **catalog_wording(catalog),
    )
    return report, [str(r["id"]) for r in rows]


async def register_report(session: AsyncSession, report: CreditReport, *, subject_key: str, fmt: str) -> str:
    """Store the verification id with the content's digest; returns the digest."""
    digest = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
    await session.execute(insert(credit_reports).values(
        verification_id=report.verification_id, subject_key=subject_key, format=fmt, generated_at=report.generated_at,
        content_sha256=digest,
        summary={"subject": {"type": report.subject.type, "id": report.subject.display_id, "name": report.subject.name},
                 "records": len(report.records), "lists": [m.key for m in report.lists],
                 "measures": [m.code for m in report.measures]},
    ))
    return digest
