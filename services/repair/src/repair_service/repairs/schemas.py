"""API models of repair applications (DESIGN §6 contract). Unknown fields are rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jointcredit_common.domain import SubjectType

Stage = Literal["initial", "re_review", "final"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubjectIn(_In):
    type: SubjectType
    id: str = Field(min_length=1, max_length=64, description="USCC (GB 32100) or resident ID number (GB 11643)")


class CorrectionIn(_In):
    """The evidence of correction national practice asks for before a record is repaired."""

    what_corrected: str = Field(min_length=1, max_length=4000, description="what was corrected (已纠正失信行为)")
    obligations_fulfilled: str = Field(min_length=1, max_length=4000, description="obligations fulfilled (履行相关义务)")
    credit_commitment: str = Field(min_length=1, max_length=4000, description="the public credit commitment (信用承诺)")


class RepairIn(_In):
    subject: SubjectIn
    record_ids: list[str] = Field(min_length=1, description="ids of the subject's credit records to repair (from rating)")
    correction: CorrectionIn
    accepted_at: datetime | None = Field(
        None,
        description="admin only: when a paper application was accepted at the counter (backdating); "
        "ISO 8601 with offset. Default: now.",
    )


class ReviewIn(_In):
    stage: Stage
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=4000, description="the reviewer's opinion (审核意见); sent to the applicant on rejection")


class RepairAcceptedOut(BaseModel):
    id: str
    status: Literal["accepted"]
    channel: Literal["green", "standard"]
    accepted_at: datetime
    due_at: datetime
    provisional: bool = Field(description="due_at rests on a day of a provisional calendar year (the State Council's "
                                          "schedule for it is not published yet); recomputed when it is")
    working_days: int
    links: dict[str, str]


class RepairOut(BaseModel):
    id: str
    status: Literal["accepted", "in_review", "approved", "rejected"]
    channel: Literal["green", "standard"]
    channel_reason: str
    subject: dict[str, Any]
    applicant: dict[str, str]
    record_ids: list[str]
    records: list[dict[str, Any]]
    correction: dict[str, str]
    accepted_at: datetime
    backdated: bool
    working_days: int
    due_at: datetime
    provisional: bool = Field(description="due_at rests on a provisional calendar day")
    timezone: str = "Asia/Shanghai"
    overdue: bool
    breached_at: datetime | None
    next_stage: Stage | None
    steps: list[dict[str, Any]]
    decision: dict[str, Any] | None
    cascade: dict[str, Any] | None
    links: dict[str, str]


class RepairPage(BaseModel):
    items: list[RepairOut]
    next_cursor: str | None
