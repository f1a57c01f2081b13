"""Agencies' HTTP side: the pull feed, measures, feedback (发起-响应-反馈) and per-agency statistics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import func, insert, or_, select, update

from jointcredit_common.auth import Principal, record_audit, require_role
from jointcredit_common.errors import Conflict, NotFound, ValidationFailed
from jointcredit_common.events.schemas import MeasureLifted
from jointcredit_common.events.schemas_sanctions import FeedbackResult, MeasureFeedbackRecorded
from jointcredit_common.openapi import problem_response
from jointcredit_common.tables import MAX_BIGINT
from sanctions_service.deps import AgencyOrAdmin, RuntimeDep, ensure_agency_access, known_agency, own_agency
from sanctions_service.measures.models import credit_records, measure_events, measure_feedback, measures
from sanctions_service.metrics import overdue_condition

router = APIRouter(tags=["measures"])
# Feedback is the implementing agency's own report of what it did: admins are refused (before the body is read).
ImplementingAgency = Annotated[Principal, require_role("agency", admins=False)]

FEEDBACK_CLOCK_SKEW = timedelta(minutes=5)
VISIBLE_STATES = ("in_force", "suspended", "lifted")  # withheld/cancelled measures were never sent to the agency


def select_measures():  # noqa: ANN201 - a SQLAlchemy select
    """Measures with the reporting department and, for notices (N1 warning), the pre-listing notice to hand over:
    一: the warning reaches the subject through the department that reported it."""
    return select(
        measures,
        credit_records.c.listed["department"].astext.label("reporting_department"),
        credit_records.c.listed["notice"].label("notice"),
    ).outerjoin(credit_records, credit_records.c.record_id == measures.c.record_id)


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def measure_view(row: Any, principal: Principal | None = None) -> dict[str, Any]:
    """One measure. An agency reading a lifted one gets what it needs to close it (ids, state, when, why) but no
    longer whom and on what basis (停止共享, DESIGN §7); the credit office (admin) keeps the whole record."""
    payload = row["payload"]
    if row["state"] == "lifted" and principal is not None and not principal.is_admin:
        payload = {}
    overdue = (
        row["state"] in ("in_force", "suspended") and row["feedback_at"] is None
        and row["feedback_due_at"] is not None and row["feedback_due_at"] < datetime.now(UTC)
    )
    return {
        "id": str(row["id"]), "agency": row["agency"], "measure": row["measure"], "kind": row["kind"],
        "text_zh": payload.get("text_zh"), "state": row["state"], "record_id": str(row["record_id"]), "list": row["list"],
        "subject": payload.get("subject"), "basis": payload.get("basis"),
        "starts_on": _iso(row["starts_on"]), "planned_end_on": _iso(row["planned_end_on"]),
        "issued_at": _iso(row["issued_at"]), "suspended_at": _iso(row["suspended_at"]),
        "lifted_at": _iso(row["lifted_at"]), "lift_reason": row["lift_reason"],
        "feedback": {"due_at": _iso(row["feedback_due_at"]), "result": row["feedback_result"],
                     "received_at": _iso(row["feedback_at"]), "overdue": overdue},
        "reporting_department": row.get("reporting_department"),
        **({"notice": row.get("notice") if payload else None} if row["kind"] == "notice" else {}),
    }


@router.get("/v1/agencies/{agency}/measures", summary="Pull feed: the agency's measure events in order (cursor `since`)")
async def agency_feed(
    runtime: RuntimeDep, agency: str, principal: AgencyOrAdmin,
    since: int = Query(0, ge=0, le=MAX_BIGINT, description="cursor: the `next` of the previous page (0 = from the beginning)"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The same events, with the same CloudEvents ids, as the agency's Kafka topic and webhooks — except what has
    ended: once a measure is lifted (its record withdrawn, repaired or expired), the feed stops carrying its earlier
    events (issued, suspended, resumed: the subject, the basis, the evidence) and keeps only ``measure.lifted.v1``,
    which an agency that has not read it yet needs to stop applying the measure (停止共享, DESIGN §7)."""
    ensure_agency_access(principal, agency)
    known_agency(agency)
    lifted = select(measures.c.id).where(measures.c.id == measure_events.c.measure_id, measures.c.state == "lifted")
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(
            select(measure_events).where(
                measure_events.c.agency == agency, measure_events.c.seq > since,
                or_(measure_events.c.type == MeasureLifted.type_name(), ~lifted.exists()),
            ).order_by(measure_events.c.seq).limit(limit)
        )).mappings().all()
    return {
        "items": [
            {"seq": r["seq"], "id": str(r["event_id"]), "type": r["type"], "source": r["source"], "time": _iso(r["time"]),
             "subject": r["subject_key"], "data": r["data"]}
            for r in rows
        ],
        "next": rows[-1]["seq"] if rows else since,
    }


@router.get("/v1/measures", summary="Measures, filtered by agency, state and feedback status",
            responses={404: problem_response(404, "`agency` names no implementing agency of the catalog")})
async def list_measures(
    runtime: RuntimeDep, principal: AgencyOrAdmin,
    agency: str | None = None,
    state: Literal["in_force", "suspended", "lifted"] | None = None,
    feedback: Literal["overdue", "awaiting", "received"] | None = Query(
        None, description="overdue: in force, no feedback after the due working day; awaiting: no feedback yet"),
    after: int = Query(0, ge=0, le=MAX_BIGINT, description="cursor: the `next` of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    if agency is not None:
        ensure_agency_access(principal, agency, field="query.agency")
        known_agency(agency, field="query.agency")
    agency = agency or own_agency(principal)
    query = select_measures().where(measures.c.seq > after, measures.c.state.in_(VISIBLE_STATES))
    if agency:
        query = query.where(measures.c.agency == agency)
    if state:
        query = query.where(measures.c.state == state)
    if feedback == "overdue":
        query = query.where(overdue_condition())
    elif feedback == "awaiting":
        query = query.where(measures.c.feedback_at.is_(None))
    elif feedback == "received":
        query = query.where(measures.c.feedback_at.is_not(None))
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(query.order_by(measures.c.seq).limit(limit))).mappings().all()
    return {"items": [measure_view(r, principal) for r in rows], "next": rows[-1]["seq"] if rows else after}


async def _load_measure(runtime: RuntimeDep, measure_id: uuid.UUID, principal: Any) -> Any:
    async with runtime.sessionmaker() as session:
        row = (await session.execute(select_measures().where(measures.c.id == measure_id))).mappings().first()
    if row is None or row["state"] not in VISIBLE_STATES:
        raise NotFound(f"no measure {measure_id}", field="path.measure_id")
    ensure_agency_access(principal, row["agency"], field="path.measure_id")
    return row


@router.get("/v1/measures/{measure_id}", summary="One measure with its feedback history")
async def get_measure(runtime: RuntimeDep, measure_id: uuid.UUID, principal: AgencyOrAdmin) -> dict[str, Any]:
    row = await _load_measure(runtime, measure_id, principal)
    async with runtime.sessionmaker() as session:
        history = (await session.execute(
            select(measure_feedback).where(measure_feedback.c.measure_id == row["id"]).order_by(measure_feedback.c.received_at)
        )).mappings().all()
    return {**measure_view(row, principal), "feedback_history": [_feedback_view(f) for f in history]}


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: FeedbackResult
    at: AwareDatetime = Field(description="when the agency applied (or tried to apply) the measure")
    matter: str = Field(min_length=1, max_length=500, description="what it was applied to: a tender, a loan application …")
    note: str | None = Field(None, max_length=2000)


def _feedback_view(row: Any) -> dict[str, Any]:
    return {"id": str(row["id"]), "measure_id": str(row["measure_id"]), "agency": row["agency"], "result": row["result"],
            "at": _iso(row["at"]), "matter": row["matter"], "note": row["note"], "reported_by": row["reported_by"],
            "received_at": _iso(row["received_at"])}


@router.post("/v1/measures/{measure_id}/feedback", status_code=201,
             summary="The implementing agency reports what it did (applied | not_applicable | failed)",
             responses={200: {"description": "the same report was already recorded (a retry); nothing new stored"},
                        409: problem_response(409, "the measure changed meanwhile; retry")})
async def post_feedback(
    request: Request, runtime: RuntimeDep, measure_id: uuid.UUID, feedback_in: FeedbackIn, principal: ImplementingAgency
) -> Any:
    row = await _load_measure(runtime, measure_id, principal)
    now = datetime.now(UTC)
    if feedback_in.at > now + FEEDBACK_CLOCK_SKEW:
        raise ValidationFailed("feedback cannot describe a future action", field="body.at")
    if feedback_in.at < row["issued_at"] - FEEDBACK_CLOCK_SKEW:
        raise ValidationFailed("feedback cannot predate the measure's issue", field="body.at")
    try:
        return await _record_feedback(request, runtime, row, feedback_in, principal, now)
    except _AlreadyRecorded as repeated:  # the transaction rolled back: nothing changed
        return JSONResponse(repeated.view, status_code=200)


class _AlreadyRecorded(Exception):
    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__("feedback already recorded")
        self.view = view


async def _record_feedback(request: Request, runtime: Any, row: Any, feedback_in: FeedbackIn, principal: Any,
                           now: datetime) -> dict[str, Any]:
    feedback_id = uuid.uuid4()
    async with runtime.unit_of_work() as session:
        updated = await session.execute(
            update(measures).where(measures.c.id == row["id"], measures.c.state.in_(VISIBLE_STATES))
            # the latest result counts; timeliness counts from the first answer
            .values(feedback_result=feedback_in.result, feedback_at=func.coalesce(measures.c.feedback_at, now))
            .returning(measures.c.id)
        )  # also locks the measure: concurrent reports on it are serialised
        if updated.first() is None:
            raise Conflict("the measure changed meanwhile; retry", field="path.measure_id")
        latest = (await session.execute(
            select(measure_feedback).where(measure_feedback.c.measure_id == row["id"])
            .order_by(measure_feedback.c.received_at.desc()).limit(1)
        )).mappings().first()
        if latest is not None and (latest["result"], latest["at"], latest["matter"], latest["note"], latest["reported_by"]) == (
                feedback_in.result, feedback_in.at, feedback_in.matter, feedback_in.note, principal.principal):
            # A retried request (same report): answer with the recorded one; nothing new is stored or announced.
            raise _AlreadyRecorded(_feedback_view(latest))
        await session.execute(insert(measure_feedback).values(
            id=feedback_id, measure_id=row["id"], agency=row["agency"], result=feedback_in.result, at=feedback_in.at,
            matter=feedback_in.matter, note=feedback_in.note, reported_by=principal.principal, received_at=now,
        ))
        await runtime.outbox.add(
            session,
            MeasureFeedbackRecorded(
                feedback_id=str(feedback_id), measure_id=str(row["id"]), agency=row["agency"], record_id=str(row["record_id"]),
                subject_key=row["subject_key"], measure=row["measure"], result=feedback_in.result, at=feedback_in.at,
                matter=feedback_in.matter, recorded_at=now,
            ),
            key=row["subject_key"],
        )
        await record_audit(session, principal=principal, action="measure.feedback", target_type="measure",
                           target_id=str(row["id"]), detail={"result": feedback_in.result, "feedback_id": str(feedback_id),
                                                             "matter": feedback_in.matter}, request=request)
    return {"id": str(feedback_id), "measure_id": str(row["id"]), "agency": row["agency"], "result": feedback_in.result,
            "at": feedback_in.at.isoformat(), "matter": feedback_in.matter, "note": feedback_in.note,
            "reported_by": principal.principal, "received_at": now.isoformat()}


@router.get("/v1/agencies/{agency}/stats", summary="Feedback statistics of one agency (发起-响应-反馈)")
async def agency_stats(runtime: RuntimeDep, agency: str, principal: AgencyOrAdmin) -> dict[str, Any]:
    ensure_agency_access(principal, agency)
    known_agency(agency)
    m = measures.c
    response_hours = func.extract("epoch", m.feedback_at - m.issued_at) / 3600.0
    async with runtime.sessionmaker() as session:
        stats = (await session.execute(
            select(
                func.count().filter(m.state == "in_force").label("in_force"),
                func.count().filter(m.state == "suspended").label("suspended"),
                func.count().filter(m.state == "lifted").label("lifted"),
                func.count().label("issued"),
                func.count().filter(m.feedback_result == "applied").label("applied"),
                func.count().filter(m.feedback_result == "not_applicable").label("not_applicable"),
                func.count().filter(m.feedback_result == "failed").label("failed"),
                func.count().filter(m.feedback_at.is_(None)).label("awaiting"),
                func.count().filter(overdue_condition()).label("overdue"),
                func.count().filter(m.feedback_at <= m.feedback_due_at).label("on_time"),
                func.percentile_cont(0.5).within_group(response_hours).label("median_response_hours"),
                func.percentile_cont(0.9).within_group(response_hours).label("p90_response_hours"),
            ).where(m.agency == agency, m.state.in_(VISIBLE_STATES))
        )).mappings().one()
    with_feedback = stats["applied"] + stats["not_applicable"] + stats["failed"]
    return {
        "agency": agency,
        "measures": {k: stats[k] for k in ("issued", "in_force", "suspended", "lifted")},
        "feedback": {
            **{k: stats[k] for k in ("applied", "not_applicable", "failed", "awaiting", "overdue", "on_time")},
            "received": with_feedback,
            "response_rate": round(with_feedback / stats["issued"], 4) if stats["issued"] else None,
            "on_time_rate": round(stats["on_time"] / with_feedback, 4) if with_feedback else None,
            "median_response_hours": _round(stats["median_response_hours"]),
            "p90_response_hours": _round(stats["p90_response_hours"]),
        },
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)
