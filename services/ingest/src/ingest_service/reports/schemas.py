"""API models of reports (DESIGN §6 contract). Unknown fields are rejected."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool

from jointcredit_common.domain import SubjectType


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    """Dates are JSON strings ``YYYY-MM-DD``: no Unix timestamps (pydantic's lax mode reads 0 as 1970-01-01)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
        raise ValueError("must be a date string YYYY-MM-DD")
    return value.strip()


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SubjectIn(_In):
    type: SubjectType
    id: str = Field(min_length=1, max_length=64, description="USCC (GB 32100) or resident ID number (GB 11643)")
    name: str = Field(min_length=1, max_length=200)


class EvidenceIn(_In):
    kind: Literal["none", "administrative_penalty", "judicial_judgment"] = "none"
    document_no: str | None = Field(None, max_length=200, description="e.g. 大市监罚〔2020〕12号")
    authority: str | None = Field(None, max_length=200)
    decided_on: IsoDate | None = None


class ExemptionIn(_In):
    cause: Literal["epidemic_participation", "force_majeure"]
    risk_controllable: StrictBool


class ReportIn(_In):
    subject: SubjectIn
    behavior: str = Field(min_length=1, max_length=8, description="catalog behaviour code, e.g. E7")
    occurred_on: IsoDate
    description: str | None = Field(None, max_length=4000)
    evidence: EvidenceIn = Field(default_factory=EvidenceIn)
    exemption: ExemptionIn | None = None


class SubjectOut(BaseModel):
    type: SubjectType
    key: str
    id: str  # clear for enterprises and for the reporting department; masked otherwise
    name: str | None = None


class ReportOut(BaseModel):
    id: str
    status: Literal["received", "classified", "withdrawn"]
    department: str
    subject: SubjectOut
    behavior: str
    occurred_on: date
    received_at: datetime
    evidence: EvidenceIn
    exemption: ExemptionIn | None = None
    outcome: str | None = None
    clause_codes: list[str] | None = None
    reason_zh: str | None = None
    classified_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdraw_reason: str | None = None


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None = None


class WithdrawIn(_In):
    reason: str = Field(min_length=1, max_length=2000, description="why, e.g. 行政处罚决定经复议被撤销 (the penalty was revoked)")


class BatchItemResult(BaseModel):
    index: int
    status: int  # 202, or the 4xx of the item's problem
    id: str | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemResult]
