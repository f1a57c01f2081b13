"""Event types of the repair service (三(一) credit-repair green channel), on ``<prefix>.repairs``.

Keyed by the subject key like every event, so one subject's repair events stay in order with its ratings.
Citizens appear only by keyed hash (``subject_key``) and masked text (``display_id``), never in clear.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import List, Literal  # noqa: UP035 - match events/schemas.py

from pydantic import BaseModel, ConfigDict

from jointcredit_common.events.schemas import EventData, SubjectType

RepairChannel = Literal["green", "standard"]
RepairStage = Literal["initial", "re_review", "final"]


class RepairAccepted(EventData):
    event_type = "repair.accepted.v1"
    topic = "repairs"
    summary = "A credit-repair application was accepted; the SLA clock runs until due_at (repair)."

    application_id: str
    subject_key: str
    subject_type: SubjectType
    display_id: str  # USCC, or the masked resident ID number
    department: str  # the member department (or admin) that filed it on the subject's behalf
    record_ids: List[str]
    channel: RepairChannel
    working_days: int
    accepted_at: datetime
    due_at: datetime


class RepairDecided(EventData):
    """Read strictly by rating (exact type, exact fields): a decision that ends credit records is not guessed at. An
    unknown field fails validation, and the consumer dead-letters the event (re-drivable), so a new field here
    needs rating's reading of it first, or a ``repair.decided.v2`` published alongside."""

    model_config = ConfigDict(extra="forbid")

    event_type = "repair.decided.v1"
    topic = "repairs"
    summary = (
        "A credit-repair application was decided. approved: rating ends every named record as repaired (stop "
        "publicity, stop sharing, lift measures); rejected: the applicant's department is told the reason (repair)."
    )

    application_id: str
    subject_key: str
    subject_type: SubjectType
    department: str
    record_ids: List[str]
    decision: Literal["approved", "rejected"]
    reason: str
    stage: RepairStage  # the stage that ended it (final for approvals)
    decided_by: str  # reviewer principal of that stage
    channel: RepairChannel
    accepted_at: datetime
    due_at: datetime
    decided_at: datetime
    within_sla: bool


class RepairSlaBreached(EventData):
    event_type = "repair.sla_breached.v1"
    topic = "repairs"
    summary = "A credit-repair application was still undecided at its due time (fires once per application) (repair)."

    application_id: str
    subject_key: str
    department: str
    channel: RepairChannel
    pending_stage: RepairStage
    accepted_at: datetime
    due_at: datetime
    breached_at: datetime


CALENDAR_TOPIC = "calendar"


class CalendarOverrideChanged(EventData):
    model_config = ConfigDict(extra="forbid")

    event_type = "calendar.override_changed.v1"
    topic = CALENDAR_TOPIC
    summary = (
        "The city closed or opened a day against the national schedule, or cleared such an override (working: null). "
        "Every service's working days follow it (repair)."
    )

    day: date
    working: bool | None  # None: the override was removed; the national schedule applies again
    reason: str | None = None
    changed_at: datetime


class RecomputedDeadline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_id: str
    previous_due_at: datetime
    due_at: datetime


class RepairDeadlinesRecomputed(EventData):
    event_type = "repair.deadlines_recomputed.v1"
    topic = "repairs"
    summary = (
        "Deadlines of open applications that had been computed on a provisional calendar year, recomputed once the "
        "official schedule of that year was loaded; lists the ones that moved (repair)."
    )

    applications: List[RecomputedDeadline]
    reason: str
