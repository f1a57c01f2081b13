"""Data of the free credit report (免费信用报告) promised by 大信办字〔2020〕4号 三(一).

These models are what the PDF renderer (and the JSON report endpoint) read. They hold
display-ready data: the rating service fills them from its own tables and its catalog, the
policy wording included (issuer, disclaimer, free statement: the catalog's
``templates_zh.credit_report``); left out, the wording is the catalog in force. Personal data
arrives already masked (DESIGN §4) and the models refuse a citizen subject whose identifier or
name is not masked, so a bug upstream cannot leak it into a PDF.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from jointcredit_common.catalog import Catalog, load_catalog
from jointcredit_common.domain import ListName, MeasureKind, Outcome, RecordState, SeverityTier, SubjectType

ListKey = ListName

LIST_KEYS: tuple[ListKey, ...] = get_args(ListKey)  # the order the report prints: key warning, red, dishonest


def catalog_wording(catalog: Catalog) -> dict[str, Any]:
    """What a report takes from its catalog: reference, list names and the wording of 三(一)'s free report."""
    wording = catalog.templates_zh.credit_report
    facts = {"title": catalog.title_zh, "document_no": catalog.document_no, "issuer": wording.issuer,
             "site": wording.site, "days": catalog.credit_repair.target_working_days}
    return {
        "catalog_reference": catalog.document_no,
        "list_names_zh": {policy.code: policy.name_zh for policy in catalog.lists},
        "issuer_zh": wording.issuer,
        "site_zh": wording.site,
        "disclaimer_zh": wording.fill("disclaimer", **facts),
        "free_statement_zh": wording.fill("free_statement", **facts),
        "no_repair_zh": wording.fill("no_repair", **facts),
    }


# An unmasked resident ID (GB 11643: 17 digits + check digit). A citizen's report must never
# carry one (DESIGN §4: masked in every public output).
_FULL_RESIDENT_ID = re.compile(r"\d{17}[\dXx]")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportSubject(_Frozen):
    type: SubjectType
    display_id: str = Field(min_length=1, description="USCC for enterprises; masked resident ID for citizens")
    name: str = Field(min_length=1, description="enterprise name; masked name for citizens")

    @model_validator(mode="after")
    def _citizen_data_is_masked(self) -> ReportSubject:
        if self.type == "citizen":
            if "*" not in self.display_id or _FULL_RESIDENT_ID.search(self.display_id):
                raise ValueError("citizen display_id must be masked (e.g. 2102**********123X)")
            if "*" not in self.name:
                raise ValueError("citizen name must be masked (e.g. 张*)")
        return self


class Evidence(_Frozen):
    """The administrative-penalty decision or judicial judgment a dishonest record rests on."""

    document_no: str = Field(min_length=1, examples=["大市监罚〔2020〕12号"])
    authority: str = Field(min_length=1, examples=["大连市市场监督管理局"])
    decided_on: date | None = None


class ReportRecord(_Frozen):
    code: str = Field(min_length=1, examples=["E7"])
    clause: str = Field(min_length=1, examples=["二(三)7"])
    behaviour_zh: str = Field(min_length=1)
    outcome: Outcome
    list: ListKey | None = None
    tier: SeverityTier | None = None
    state: RecordState
    occurred_on: date | None = None
    publicity_start: date | None = None
    publicity_end: date | None = None
    evidence: Evidence | None = None

    @model_validator(mode="after")
    def _publicity_window_is_ordered(self) -> ReportRecord:
        if self.publicity_start and self.publicity_end and self.publicity_end < self.publicity_start:
            raise ValueError("publicity_end is before publicity_start")
        return self


class ListMembership(_Frozen):
    """A list the subject is on at the time the report is generated."""

    key: ListKey
    since: date
    until: date | None = None


class MeasureInForce(_Frozen):
    kind: MeasureKind
    code: str = Field(min_length=1, examples=["P2", "I1"])
    text_zh: str = Field(min_length=1)
    agency_name_zh: str = Field(min_length=1)
    since: date


class RepairEntry(_Frozen):
    id: str = Field(min_length=1)
    status: str = Field(min_length=1, examples=["received", "approved", "rejected"])
    record_code: str | None = None
    decided_at: AwareDatetime | None = None


class CreditReport(_Frozen):
    subject: ReportSubject
    generated_at: AwareDatetime
    verification_id: str = Field(min_length=6, max_length=64)
    catalog_reference: str
    records: tuple[ReportRecord, ...] = ()
    lists: tuple[ListMembership, ...] = ()
    measures: tuple[MeasureInForce, ...] = ()
    repairs: tuple[RepairEntry, ...] = ()
    # The catalog owns the lists' names and the policy wording (catalog_wording); the rating service passes
    # them through. The wording only the PDF prints stays out of the JSON report and its digest (their v1 shape).
    disclaimer_zh: str
    list_names_zh: dict[ListKey, str]
    issuer_zh: str = Field(exclude=True)
    site_zh: str = Field(exclude=True)
    free_statement_zh: str = Field(exclude=True)
    no_repair_zh: str = Field(exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _wording_of_the_catalog_in_force(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return catalog_wording(load_catalog()) | data
        return data

    @field_validator("list_names_zh")
    @classmethod
    def _every_list_is_named(cls, value: dict[ListKey, str]) -> dict[ListKey, str]:
        missing = set(LIST_KEYS) - set(value)
        if missing:
            raise ValueError(f"list_names_zh lacks {sorted(missing)}")
        return value

    @field_validator("verification_id")
    @classmethod
    def _verification_id_is_printable(cls, value: str) -> str:
        # It is printed on every page and typed back by whoever checks the report.
        if not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError("verification_id may contain only letters, digits and '-'")
        return value
