"""Event types the sanctions service adds (DESIGN §3, issue 5). They self-register in EVENT_TYPES.

``measure.issued.v1`` and ``measure.lifted.v1`` live in ``schemas.py``. A red-list incentive is paused, not lifted,
while its subject has an active dishonest record (DESIGN §2: "no incentives until it is repaired"), and resumed
after the repair — so that a measure is issued once and lifted once, and an agency can tell a pause from an end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from jointcredit_common.events.schemas import EventData

FeedbackResult = Literal["applied", "not_applicable", "failed"]


class MeasureSuspended(EventData):
    event_type = "measure.suspended.v1"
    topic = "measures.{agency}"
    summary = "An incentive must be paused: its subject now has an active dishonest record (sanctions)."

    measure_id: str
    agency: str
    record_id: str
    subject_key: str
    measure: str
    reason: str
    because_record_id: str
    suspended_at: datetime


class MeasureResumed(EventData):
    event_type = "measure.resumed.v1"
    topic = "measures.{agency}"
    summary = "A paused incentive applies again: the subject's dishonest records have all ended (sanctions)."

    measure_id: str
    agency: str
    record_id: str
    subject_key: str
    measure: str
    reason: str
    resumed_at: datetime


class MeasureFeedbackRecorded(EventData):
    event_type = "measure.feedback_recorded.v1"
    topic = "feedback"
    summary = "An implementing agency reported what it did with a measure (发起-响应-反馈) (sanctions)."

    feedback_id: str
    measure_id: str
    agency: str
    record_id: str
    subject_key: str
    measure: str
    result: FeedbackResult
    at: datetime
    matter: str  # what the measure was applied to; the free-text note stays in the sanctions database
    recorded_at: datetime
