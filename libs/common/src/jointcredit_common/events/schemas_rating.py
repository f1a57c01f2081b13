"""Rating's own event types beyond events/schemas.py: objections (异议) against credit records.

DESIGN §2 due process: an objection marks the record disputed at once; an admin decides it within the
catalog's number of working days. Upheld → the record is withdrawn (``record.withdrawn.v1`` follows, and
sanctions lifts every measure built on it). Rejected → the record is active again; nothing was lifted.

A disputed record stays published, marked 异议处理中, and its measures stay in force (the penalty or
judgment it rests on stands until revoked); consumers may show the mark but need not act on it.
"""

from __future__ import annotations

import builtins
from datetime import date, datetime
from typing import Literal

from jointcredit_common.events.schemas import EventData, ListName


class RecordDisputed(EventData):
    event_type = "record.disputed.v1"
    topic = "ratings"
    summary = "An objection (异议) was filed against a credit record; it is marked disputed until decided (rating)."

    record_id: str
    report_id: str
    subject_key: str
    list: ListName
    objection_id: str
    filed_by_role: str
    filed_by: str
    due_on: date
    disputed_at: datetime


class ObjectionDecided(EventData):
    event_type = "objection.decided.v1"
    topic = "ratings"
    summary = "An admin decided an objection: upheld (record withdrawn) or rejected (record active again) (rating)."

    objection_id: str
    record_id: str
    report_id: str
    subject_key: str
    list: ListName
    decision: Literal["upheld", "rejected"]
    reason: str
    record_state: str
    decided_by: str
    decided_at: datetime


class RecordIncentivesSuspended(EventData):
    """守信激励、失信惩戒: a red-list subject became dishonest; its incentives pause until the dishonest record ends
    (red list exit conditions: "有效期内产生失信记录的，暂停全部激励措施直至信用修复完成"). Sanctions: lift
    ``measures`` of ``record_id`` (the red record stays listed)."""

    event_type = "record.incentives_suspended.v1"
    topic = "ratings"
    summary = "A red-list record's incentives are suspended while the subject has a live dishonest record (rating)."

    record_id: str
    report_id: str
    subject_key: str
    list: ListName
    measures: builtins.list[str]  # builtins': the field above shadows ``list`` in the class body
    because_record_id: str
    reason_zh: str
    at: datetime


class RecordIncentivesResumed(EventData):
    """The subject's last live dishonest record ended (repaired, withdrawn or expired): the red record's
    withheld incentives apply again. Sanctions: issue ``measures`` of ``record_id``."""

    event_type = "record.incentives_resumed.v1"
    topic = "ratings"
    summary = "A red-list record's withheld incentives apply again: the subject has no live dishonest record (rating)."

    record_id: str
    report_id: str
    subject_key: str
    list: ListName
    measures: builtins.list[str]  # builtins': the field above shadows ``list`` in the class body
    because_record_id: str
    reason_zh: str
    at: datetime
