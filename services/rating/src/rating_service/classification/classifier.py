"""The classifier: one report's facts + the catalog → an explainable decision.

Pure: no database, no clock, no I/O. Every rule is a rule of 大信办字〔2020〕4号 as DESIGN §2 reads it; every
code, period, measure and sentence comes from the catalog, so the function names no clause itself.
Each decision says which clauses and which evidence it rests on (``clause_codes``, ``evidence_used``,
``reason_zh``) and, for a listing, carries the notice the subject receives before it is listed.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jointcredit_common.domain import Outcome
from jointcredit_common.catalog.models import (
    OUTCOME_LIST,
    Behavior,
    Catalog,
    ListCode,
    SubjectType,
    TierCode,
    UnknownCodeError,
)

EvidenceKindIn = Literal["none", "administrative_penalty", "judicial_judgment"]
Codes = list[str]  # alias: the models below have a field called ``list``


class ClassificationError(ValueError):
    """A report the classifier cannot decide on; the API maps it to a 4xx problem."""


class UnknownBehaviorError(ClassificationError):
    def __init__(self, code: str) -> None:
        super().__init__(f"behaviour code {code!r} is not in the catalog")
        self.code = code


class SubjectTypeMismatchError(ClassificationError):
    def __init__(self, behavior: str, subject_type: str, allowed: Codes) -> None:
        super().__init__(f"behaviour {behavior} applies to {'/'.join(allowed)}, not to a {subject_type}")
        self.behavior = behavior
        self.subject_type = subject_type
        self.allowed = allowed


# -- input ---------------------------------------------------------------------------------------


class EvidenceFacts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: EvidenceKindIn = "none"
    document_no: str | None = None
    authority: str | None = None
    decided_on: date | None = None


class ExemptionFacts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    cause: Literal["epidemic_participation", "force_majeure"] | None = None
    risk_controllable: bool = False


class ReportFacts(BaseModel):
    """The classification-relevant part of a report (ingest contract, DESIGN §6)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject_type: SubjectType
    behavior: str
    occurred_on: date
    evidence: EvidenceFacts = Field(default_factory=EvidenceFacts)
    exemption: ExemptionFacts | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_report_shape(cls, data: Any) -> Any:
        # Also accept a report as ingest and report.received.v1 carry it: {"subject": {"type": ...}, ...}.
        if isinstance(data, dict) and "subject_type" not in data and isinstance(data.get("subject"), dict):
            return {**data, "subject_type": data["subject"].get("type")}
        return data

    @field_validator("evidence", mode="before")
    @classmethod
    def _absent_evidence_is_none(cls, value: Any) -> Any:
        return EvidenceFacts() if value is None else value


# -- output --------------------------------------------------------------------------------------


class NoticeMeasure(BaseModel):
    code: str
    text_zh: str
    agencies: Codes


NoticeMeasures = list[NoticeMeasure]


class PreListingNotice(BaseModel):
    """What the subject is told before listing: basis, reason, measures, how to object, how to exit."""

    list_name_zh: str
    basis_zh: str
    reason_zh: str
    measures: NoticeMeasures
    suppressed_measures: Codes
    objection_zh: str
    objection_decision_working_days: int
    exit_conditions_zh: str
    publicity_starts_on: date
    publicity_ends_on: date
    list: ListCode


class Decision(BaseModel):
    outcome: Outcome
    clause_codes: Codes  # behaviour codes the decision rests on, e.g. ["W3"] or ["W3", "E9"]
    clause_refs: Codes  # the same as references into the notice, e.g. ["一.3", "二(三)9"]
    evidence_used: EvidenceFacts | None = None
    reason_zh: str
    tier: TierCode | None = None
    publicity_starts_on: date | None = None
    publicity_ends_on: date | None = None
    measures: Codes = Field(default_factory=list)
    suppressed_measures: Codes = Field(default_factory=list)
    suppression_reason_zh: str | None = None
    notice: PreListingNotice | None = None
    catalog: str
    list: ListCode | None = None


# -- the rules -----------------------------------------------------------------------------------


def classify(
    facts: ReportFacts,
    catalog: Catalog,
    *,
    as_of: date,
    emergency_ends_on: date | None,
    subject_has_active_dishonest_record: bool,
) -> Decision:
    """Decide on one report. ``as_of`` is the classification date; ``emergency_ends_on`` is the configured end of
    the emergency response (None: the catalog's value).

    One rule for late reports, for every list: a list's period runs from the conduct (key warning, red) or the
    decision (dishonest), whenever it is reported; a report whose period is over when it arrives, or that arrives
    after the emergency response ended ("应急响应结束后终止"), lists nothing: outcome ``history``."""
    try:
        behavior = catalog.behavior(facts.behavior)
    except UnknownCodeError:
        raise UnknownBehaviorError(facts.behavior) from None
    if facts.subject_type not in behavior.subject_types:
        raise SubjectTypeMismatchError(behavior.code, facts.subject_type, list(behavior.subject_types))

    ctx = _Context(catalog, facts, behavior)

    # Validity window (三, last paragraph): from issue until the emergency response ends.
    window_end = emergency_ends_on if emergency_ends_on is not None else catalog.validity.ends_on
    if facts.occurred_on < catalog.validity.starts_on:
        return ctx.decision("out_of_scope", [behavior], ctx.say("out_of_scope_before"))
    if window_end is not None and facts.occurred_on > window_end:
        return ctx.decision("out_of_scope", [behavior], ctx.say("out_of_scope_after", ends_on=_zh_date(window_end)))
    ctx.as_of = as_of
    ctx.notice_ended_on = window_end if window_end is not None and as_of > window_end else None

    if behavior.outcome == "exemption":
        return _exemption(ctx)
    if behavior.outcome == "red":
        # 二(一) → red list with 二(二) incentives (and 三(二) financing for enterprises).
        return ctx.listing("red", [behavior], starts_on=facts.occurred_on, suppress=subject_has_active_dishonest_record)

    evidence = facts.evidence
    if behavior.outcome == "key_warning" and evidence.kind == "none":
        # 一, last paragraph: not (yet) a penalty or judgment → key warning list, warning, credit record.
        return ctx.listing("key_warning", [behavior], starts_on=facts.occurred_on,
                           suppress=subject_has_active_dishonest_record)

    # 二 intro: dishonesty rests on an administrative-penalty decision or a judicial judgment.
    missing = _evidence_problem(ctx, as_of)
    if missing is not None:
        return ctx.decision("evidence_required", [behavior], ctx.say("evidence_required", missing=missing))
    assert evidence.decided_on is not None
    # A key-warning behaviour that reached a penalty is the dishonesty it escalates to (一 → 二(三)9).
    chain = [behavior] if behavior.outcome == "dishonest" else [behavior, catalog.behavior(behavior.escalates_to or "")]
    return ctx.listing(
        "dishonest", chain, starts_on=evidence.decided_on, suppress=subject_has_active_dishonest_record, evidence=evidence
    )


def _exemption(ctx: _Context) -> Decision:
    """三(三): exempt only if caused by epidemic participation or force majeure AND the risk is controllable."""
    facts, catalog = ctx.facts, ctx.catalog
    exemption = facts.exemption
    why: list[str] = []
    if exemption is None or exemption.cause is None:
        why.append(ctx.say("not_exempted_no_cause"))
    else:
        cause = catalog.exemption_cause(exemption.cause)
        if facts.subject_type not in cause.subject_types:
            why.append(ctx.say("not_exempted_cause_not_applicable", cause=cause.name_zh))
    if exemption is None or not exemption.risk_controllable:
        why.append(ctx.say("not_exempted_risk"))
    if why:
        causes = "或".join(c.name_zh for c in catalog.exemption_causes)
        return ctx.decision("not_exempted", [ctx.behavior], ctx.say("not_exempted", causes=causes, why="，".join(why)))
    assert exemption is not None and exemption.cause is not None
    cause_zh = catalog.exemption_cause(exemption.cause).name_zh
    return ctx.decision("exempted", [ctx.behavior], ctx.say("exempted", cause=cause_zh))


def _evidence_problem(ctx: _Context, as_of: date) -> str | None:
    """Why the evidence cannot support dishonesty (Chinese phrase), or None if it can."""
    evidence, catalog = ctx.facts.evidence, ctx.catalog
    if evidence.kind == "none":
        return ctx.say("evidence_missing")
    kind_zh = catalog.evidence_kind(evidence.kind).name_zh
    names = catalog.evidence_fields_zh
    absent = [getattr(names, f) for f in ("document_no", "authority", "decided_on") if _blank(getattr(evidence, f))]
    if absent:
        return ctx.say("evidence_incomplete", evidence_kind=kind_zh, fields="、".join(absent))
    assert evidence.decided_on is not None
    # A decision cannot predate the act it punishes, nor postdate the day we classify.
    if evidence.decided_on < ctx.facts.occurred_on or evidence.decided_on > as_of:
        return ctx.say("evidence_inconsistent", evidence_kind=kind_zh, decided_on=_zh_date(evidence.decided_on))
    return None


class _Context:
    """Formats the catalog's templates for one report and assembles decisions."""

    def __init__(self, catalog: Catalog, facts: ReportFacts, behavior: Behavior) -> None:
        self.catalog = catalog
        self.facts = facts
        self.behavior = behavior
        self.as_of = facts.occurred_on  # the classification date and the end of the response, set by classify()
        self.notice_ended_on: date | None = None
        templates = catalog.templates_zh
        self._base = {
            "title": catalog.title_zh,
            "document_no": catalog.document_no,
            "clauses": behavior.clause,
            "text": _phrase(behavior),
            "subject": templates.subject[facts.subject_type],
            "subject_name": catalog.subject_type(facts.subject_type).name_zh,
            "occurred_on": _zh_date(facts.occurred_on),
            "starts_on": _zh_date(catalog.validity.starts_on),
            "ends_on": "",
        }

    def say(self, template: str, **values: Any) -> str:
        return str(getattr(self.catalog.templates_zh, template)).format_map({**self._base, **values})

    def decision(self, outcome: Outcome, chain: list[Behavior], reason_zh: str, **fields: Any) -> Decision:
        return Decision(
            outcome=outcome,
            clause_codes=[b.code for b in chain],
            clause_refs=[b.clause for b in chain],
            reason_zh=reason_zh,
            catalog=self.catalog.reference,
            **fields,
        )

    def listing(
        self,
        list_code: ListCode,
        chain: list[Behavior],
        *,
        starts_on: date,
        suppress: bool,
        evidence: EvidenceFacts | None = None,
    ) -> Decision:
        catalog, facts = self.catalog, self.facts
        rule = chain[-1]  # the behaviour whose outcome applies (E9 for an escalated W)
        assert OUTCOME_LIST[rule.outcome] == list_code
        policy = catalog.list_policy(list_code)

        # Period: the list's own (key warning, red) or the record's severity tier (dishonest).
        tier = catalog.tier(rule.tier) if rule.tier else None
        months = tier.default_months if tier else policy.period_months
        assert months is not None
        ends_on = _add_months(starts_on, months)
        if ends_on < self.as_of or self.notice_ended_on is not None:
            return self._history(list_code, chain, tier, starts_on=starts_on, ends_on=ends_on, evidence=evidence)

        # Measures of the rule that concern this subject type; incentives are withheld while the
        # subject has an active dishonest record (DESIGN §2), and resume once it is repaired.
        applicable = [c for c in rule.measures if facts.subject_type in catalog.measure(c).subject_types]
        suppressed = [c for c in applicable if suppress and catalog.measure(c).suppressed_while_dishonest]
        measures = [c for c in applicable if c not in suppressed]

        values: dict[str, Any] = {
            "clauses": "、".join(b.clause for b in chain),
            "list_name": policy.name_zh,
            "starts_on": _zh_date(starts_on),
            "ends_on": _zh_date(ends_on),
            "tier_name": tier.name_zh if tier else "",
        }
        if evidence is not None:
            values |= {
                "authority": evidence.authority,
                "evidence_kind": catalog.evidence_kind(evidence.kind).name_zh,
                "evidence_no": evidence.document_no,
                "decided_on": _zh_date(evidence.decided_on) if evidence.decided_on else "",
            }
        suppression_reason_zh = self.say("suppressed", measures="、".join(suppressed)) if suppressed else None
        reason_zh = self.say(list_code, **values) + (suppression_reason_zh or "")

        notice = PreListingNotice(
            list=list_code,
            list_name_zh=policy.name_zh,
            basis_zh="；".join(self.say("basis", clause=b.clause, text=_phrase(b)) for b in chain),
            reason_zh=reason_zh,
            measures=[
                NoticeMeasure(code=c, text_zh=catalog.measure(c).text_zh, agencies=[a.code for a in catalog.agencies_for(c)])
                for c in measures
            ],
            suppressed_measures=suppressed,
            objection_zh=catalog.due_process.objection_zh.format_map(
                {"list_name": policy.name_zh, "days": catalog.due_process.objection_decision_working_days}
            ),
            objection_decision_working_days=catalog.due_process.objection_decision_working_days,
            exit_conditions_zh=policy.exit_conditions_zh,
            publicity_starts_on=starts_on,
            publicity_ends_on=ends_on,
        )
        return self.decision(
            list_code,
            chain,
            reason_zh,
            list=list_code,
            evidence_used=evidence,
            tier=tier.code if tier else None,
            publicity_starts_on=starts_on,
            publicity_ends_on=ends_on,
            measures=measures,
            suppressed_measures=suppressed,
            suppression_reason_zh=suppression_reason_zh,
            notice=notice,
        )


    def _history(
        self, list_code: ListCode, chain: list[Behavior], tier: Any, *, starts_on: date, ends_on: date,
        evidence: EvidenceFacts | None,
    ) -> Decision:
        """Too late to list: kept as history (依规保存), published nowhere, no measures, no pre-listing notice."""
        if ends_on < self.as_of:
            why = self.say("history_expired")
        else:
            assert self.notice_ended_on is not None
            why = self.say("history_notice_ended", ends_on=_zh_date(self.notice_ended_on))
        reason_zh = self.say(
            "history", why=why, clauses="、".join(b.clause for b in chain),
            list_name=self.catalog.list_policy(list_code).name_zh, starts_on=_zh_date(starts_on), ends_on=_zh_date(ends_on),
        )
        return self.decision("history", chain, reason_zh, list=list_code, evidence_used=evidence,
                             tier=tier.code if tier else None, publicity_starts_on=starts_on, publicity_ends_on=ends_on)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _phrase(behavior: Behavior) -> str:
    """The behaviour as quoted in a sentence: its own item if split from a sentence, without end punctuation."""
    return (behavior.item_zh or behavior.text_zh).rstrip("；;。.，, ")


def _add_months(start: date, months: int) -> date:
    """Last day of a period of ``months`` months starting on ``start``.

    Civil Code arts. 201–202 (民法典第二百零一、二百零二条): the first day is not counted, and the period ends on
    the corresponding day of the final month, or on that month's last day if it has no such day.
    """
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _zh_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"
