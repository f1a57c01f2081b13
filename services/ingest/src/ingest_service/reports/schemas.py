"""API models of reports (DESIGN §6 contract). Unknown fields are rejected."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SubjectType = Literal["enterprise", "citizen"]


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
    decided_on: date | None = None


class ExemptionIn(_In):
    cause: Literal["epidemic_participation", "force_majeure"]
    risk_controllable: bool


class ReportIn(_In):
    subject: SubjectIn
    behavior: str = Field(min_length=1, max_length=8, description="catalog behaviour code, e.g. E7")
    occurred_on: date
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
