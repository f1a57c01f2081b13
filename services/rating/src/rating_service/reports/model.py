"""Data of the free credit report (免费信用报告) promised by 大信办字〔2020〕4号 三(一).

These models are what the PDF renderer (and the JSON report endpoint) read. They hold
display-ready data: the rating service fills them from its own tables; nothing here looks
anything up. Personal data arrives already masked (DESIGN §4) and the models refuse a citizen
subject whose identifier or name is not masked, so a bug upstream cannot leak it into a PDF.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from jointcredit_common.domain import ListName, MeasureKind, Outcome, RecordState, SeverityTier, SubjectType

ListKey = ListName

CATALOG_REFERENCE = "大信办字〔2020〕4号"
ISSUER_ZH = "大连市公共信用信息平台"
SITE_ZH = "信用大连"

# Names of the three lists as the notice and national practice call them.
LIST_NAMES_ZH: dict[ListKey, str] = {
    "key_warning": "重点警示名单",  # 一: resumption violations without a penalty (W1–W6)
    "red": "守信红名单",  # 二(一): good-credit behaviour (G1–G6)
    "dishonest": "失信名单",  # 二(三)/二(四): E/C, and W once it reached a penalty
}

DEFAULT_DISCLAIMER_ZH = (
    "本报告依据《大连市关于应对新冠肺炎疫情影响 切实加强信用管理和服务的通知》"
    "（大信办字〔2020〕4号）生成，内容以报告生成时大连市公共信用信息平台归集的信息为准。"
    "失信认定均以行政处罚决定书或司法裁判文书为依据；主体对记录有异议的，可依法提出异议申请，"
    "异议处理期间相关记录标注为“异议处理中”。已修复、已撤销或公示期届满的记录仅作历史展示，"
    "不再作为惩戒依据。本报告仅供主体本人或经授权使用，不得用于非法用途。"
)

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

    @property
    def name_zh(self) -> str:
        return LIST_NAMES_ZH[self.key]


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
    catalog_reference: str = CATALOG_REFERENCE
    records: tuple[ReportRecord, ...] = ()
    lists: tuple[ListMembership, ...] = ()
    measures: tuple[MeasureInForce, ...] = ()
    repairs: tuple[RepairEntry, ...] = ()
    disclaimer_zh: str = DEFAULT_DISCLAIMER_ZH
    # The catalog owns the lists' Chinese names; the rating service passes them through.
    list_names_zh: dict[ListKey, str] = Field(default_factory=lambda: dict(LIST_NAMES_ZH))

    @field_validator("list_names_zh")
    @classmethod
    def _every_list_is_named(cls, value: dict[ListKey, str]) -> dict[ListKey, str]:
        missing = set(LIST_NAMES_ZH) - set(value)
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
