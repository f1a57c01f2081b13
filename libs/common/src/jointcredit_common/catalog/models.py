"""The policy catalog: a notice turned into validated data.

The catalog file (``dalian-2020-4.yaml`` for 大信办字〔2020〕4号) is the only place policy lives. This module
declares its schema, checks it together with its cross-references, and offers the lookups the classifier,
the API (``GET /v1/catalog``) and the sanctions router need. Another city or a later notice is a new file.
"""

from __future__ import annotations

import functools
import os
import itertools
import string
from collections import Counter
from collections.abc import Iterable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from jointcredit_common.domain import ListName as ListCode
from jointcredit_common.domain import MeasureKind, SubjectType
from jointcredit_common.domain import SeverityTier as TierCode

BehaviorOutcome = Literal["key_warning", "red", "dishonest", "exemption"]
EvidenceKind = Literal["administrative_penalty", "judicial_judgment"]
ExemptionCauseCode = Literal["epidemic_participation", "force_majeure"]

BUNDLED_CATALOG = "dalian-2020-4.yaml"

# Which list each behaviour outcome leads to (an exemption leads to none).
OUTCOME_LIST: dict[str, ListCode | None] = {
    "key_warning": "key_warning",
    "red": "red",
    "dishonest": "dishonest",
    "exemption": None,
}

# Placeholders the classifier's Chinese templates may use; anything else is a typo caught at load time. (The
# services' other wording, below, names its own facts per template.)
TEMPLATE_FIELDS = frozenset(
    {
        "title",
        "document_no",
        "clause",
        "clauses",
        "text",
        "subject",
        "subject_name",
        "list_name",
        "tier_name",
        "authority",
        "evidence_kind",
        "evidence_no",
        "decided_on",
        "starts_on",
        "ends_on",
        "occurred_on",
        "cause",
        "causes",
        "missing",
        "fields",
        "why",
        "measures",
        "days",
    }
)


class CatalogError(ValueError):
    """The catalog file is malformed or inconsistent; the message names the offending code."""


class UnknownCodeError(LookupError):
    """A lookup asked for a code the catalog does not define."""

    def __init__(self, kind: str, code: str) -> None:
        super().__init__(f"unknown {kind} code {code!r}")
        self.kind = kind
        self.code = code


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Validity(_Entry):
    starts_on: date
    ends_on: date | None = None  # None: until the end of the emergency response (a service setting)
    text_zh: str


class SubjectTypeInfo(_Entry):
    code: SubjectType
    name_zh: str
    name_en: str


class EvidenceKindInfo(_Entry):
    code: EvidenceKind
    name_zh: str


class EvidenceFieldNames(_Entry):
    document_no: str
    authority: str
    decided_on: str


class ExemptionCause(_Entry):
    code: ExemptionCauseCode
    name_zh: str
    gloss_en: str
    subject_types: list[SubjectType] = Field(min_length=1)


class Tier(_Entry):
    code: TierCode
    name_zh: str
    min_months: int = Field(ge=0)
    max_months: int = Field(ge=1)
    default_months: int = Field(ge=1)


class ListPolicy(_Entry):
    code: ListCode
    name_zh: str
    name_en: str
    clause: str
    period_months: int | None = Field(default=None, ge=1)  # None for dishonest: the tier decides
    exit_conditions_zh: str


class DueProcess(_Entry):
    objection_decision_working_days: int = Field(ge=1)
    objection_zh: str  # template: {list_name}, {days}


class CreditRepair(_Entry):
    measure: str
    subject_types: list[SubjectType] = Field(min_length=1)
    stages: list[Literal["initial", "re_review", "final"]] = Field(min_length=1)
    target_working_days: int = Field(ge=1)


def _check_placeholders(name: str, template: str, allowed: frozenset[str]) -> None:
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise ValueError(f"template {name!r} is not a valid format string: {exc}") from exc
    unknown = used - allowed
    if unknown:
        may = ", ".join("{" + f + "}" for f in sorted(allowed)) or "none"
        raise ValueError(f"template {name!r} uses unknown placeholders {sorted(unknown)} (it may use {may})")


class _Wording(_Entry):
    """Policy sentences a service prints, filled with facts by its code (``str.format``).

    ``placeholders`` names, per field, the facts the code supplies; a field it does not name is fixed text. A
    template asking for anything else is refused at load time, so a catalog the code cannot fill stops the
    service at start-up instead of failing on the first event that needs the sentence. A mapping field must
    name every key of its type."""

    placeholders: ClassVar[dict[str, frozenset[str]]] = {}

    @model_validator(mode="after")
    def _placeholders_are_facts_the_code_supplies(self) -> _Wording:
        for name, value in self:
            allowed = self.placeholders.get(name, frozenset())
            if isinstance(value, dict):
                keys = set(get_args(get_args(type(self).model_fields[name].annotation)[0]))
                if set(value) != keys:
                    raise ValueError(f"template {name!r} must name exactly {sorted(keys)}, got {sorted(value)}")
                for key, text in value.items():
                    _check_placeholders(f"{name}.{key}", text, allowed)
            else:
                _check_placeholders(name, value, allowed)
        return self

    def fill(self, name: str, /, **facts: object) -> str:
        """Template ``name`` with the facts in. The code passes every fact the template may use, whichever a
        catalog's text uses, so that another catalog's wording needs no code change."""
        missing = self.placeholders.get(name, frozenset()) - facts.keys()
        if missing:
            raise TypeError(f"template {name!r} needs the facts {sorted(missing)}")
        return str(getattr(self, name)).format_map(facts)


RecordEnding = Literal["withdrawn", "repaired", "expired"]


class RecordWording(_Wording):
    """Rating: why a record ended (``record.*.v1`` reason, audit trail), a moot objection, resumed incentives, and
    the status a public list prints."""

    placeholders: ClassVar[dict[str, frozenset[str]]] = {"objection_upheld": frozenset({"reason"})}

    expired: str
    expired_before_listing: str
    repaired: str  # an approved repair whose decision carries no reason of its own
    objection_upheld: str
    objection_moot: dict[RecordEnding, str]
    incentives_resumed: str
    public_status: dict[Literal["active", "disputed"], str]


# Facts rating supplies to the credit report's sentences.
REPORT_FACTS = frozenset({"title", "document_no", "issuer", "site", "days"})


class CreditReportWording(_Wording):
    """Rating: the free credit report's issuer and fixed sentences (三(一) 免费信用报告)."""

    placeholders: ClassVar[dict[str, frozenset[str]]] = {
        "disclaimer": REPORT_FACTS, "free_statement": REPORT_FACTS, "no_repair": REPORT_FACTS}

    issuer: str
    site: str
    disclaimer: str
    free_statement: str
    no_repair: str


# Facts repair supplies to the channel reasons; {clause} is the credit-repair measure's clause.
CHANNEL_FACTS = frozenset({"document_no", "clause"})


class RepairChannelWording(_Wording):
    """Repair: why an application goes the green or the standard channel."""

    placeholders: ClassVar[dict[str, frozenset[str]]] = {
        "green": CHANNEL_FACTS,
        "subject_type_not_eligible": CHANNEL_FACTS | {"subject_type", "subject_name"},
        "no_dishonest_record": CHANNEL_FACTS,
    }

    green: str
    subject_type_not_eligible: str
    no_dishonest_record: str


class Templates(_Entry):
    subject: dict[SubjectType, str]
    basis: str
    key_warning: str
    dishonest: str
    red: str
    evidence_required: str
    evidence_missing: str
    evidence_incomplete: str
    evidence_inconsistent: str
    exempted: str
    not_exempted: str
    not_exempted_no_cause: str
    not_exempted_cause_not_applicable: str
    not_exempted_risk: str
    out_of_scope_before: str
    out_of_scope_after: str
    history: str
    history_expired: str
    history_notice_ended: str
    suppressed: str
    records: RecordWording
    credit_report: CreditReportWording
    repair_channel: RepairChannelWording

    @model_validator(mode="after")
    def _known_placeholders(self) -> Templates:
        for name, template in self:
            if isinstance(template, str):
                _check_placeholders(name, template, TEMPLATE_FIELDS)
        return self


class Behavior(_Entry):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*$")
    clause: str
    text_zh: str
    item_zh: str | None = None  # the item inside a sentence split into several codes (三(三) → X1–X5)
    gloss_en: str
    subject_types: list[SubjectType] = Field(min_length=1)
    outcome: BehaviorOutcome
    tier: TierCode | None = None
    escalates_to: str | None = None  # behaviour it becomes once a penalty/judgment exists (W → E9)
    measures: list[str] = Field(default_factory=list)


class MeasureRoute(_Entry):
    agency: str
    part_zh: str | None = None  # which part of a compound measure this agency applies


class Measure(_Entry):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*$")
    clause: str
    derived: bool = False  # True: not a numbered item, derived from the clause's wording (N1, N2)
    text_zh: str
    gloss_en: str
    kind: MeasureKind
    subject_types: list[SubjectType] = Field(min_length=1)
    suppressed_while_dishonest: bool = False
    agencies: list[MeasureRoute] = Field(min_length=1)


class Agency(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # Kafka topic suffix: jointcredit.measures.<code>
    name_zh: str
    name_en: str
    measures: list[str] = Field(default_factory=list)  # derived from the measures' routes at load time


def _duplicates(codes: Iterable[str]) -> list[str]:
    return sorted(code for code, n in Counter(codes).items() if n > 1)


class Catalog(_Entry):
    id: str
    version: str
    title_zh: str
    issuer_zh: str
    issuer_en: str
    document_no: str
    issued_on: date
    validity: Validity
    subject_types: list[SubjectTypeInfo]
    evidence_kinds: list[EvidenceKindInfo]
    evidence_fields_zh: EvidenceFieldNames
    exemption_causes: list[ExemptionCause]
    tiers: list[Tier]
    lists: list[ListPolicy]
    due_process: DueProcess
    credit_repair: CreditRepair
    credit_record_agency: str
    templates_zh: Templates
    behaviors: list[Behavior]
    measures: list[Measure]
    agencies: list[Agency]

    _behaviors: dict[str, Behavior] = PrivateAttr(default_factory=dict)
    _measures: dict[str, Measure] = PrivateAttr(default_factory=dict)
    _agencies: dict[str, Agency] = PrivateAttr(default_factory=dict)

    # -- validation -------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _cross_references(self) -> Catalog:
        self._check_unique_codes()
        self._check_enumerations_complete()
        self._check_tiers_and_lists()
        behaviors = {b.code: b for b in self.behaviors}
        measures = {m.code: m for m in self.measures}
        agencies = {a.code: a for a in self.agencies}
        self._check_behaviors(behaviors, measures)
        self._check_measures(measures, agencies)
        if self.credit_record_agency not in agencies:
            raise ValueError(f"credit_record_agency refers to unknown agency {self.credit_record_agency!r}")
        repair = measures.get(self.credit_repair.measure)
        if repair is None or repair.kind != "service":
            raise ValueError(f"credit_repair.measure {self.credit_repair.measure!r} is not a service measure")
        if self.validity.ends_on is not None and self.validity.ends_on < self.validity.starts_on:
            raise ValueError(f"validity ends_on {self.validity.ends_on} is before starts_on {self.validity.starts_on}")

        # Each agency's measures are derived from the routes (one source of truth). If the file lists
        # them too (e.g. a dumped catalog loaded again), they must agree.
        for i, agency in enumerate(self.agencies):
            derived = [m.code for m in self.measures if any(r.agency == agency.code for r in m.agencies)]
            if agency.measures and sorted(agency.measures) != sorted(derived):
                raise ValueError(
                    f"agency {agency.code!r} lists measures {agency.measures} but the measures' routes give {derived}"
                )
            self.agencies[i] = agency.model_copy(update={"measures": derived})

        self._behaviors = behaviors
        self._measures = measures
        self._agencies = {a.code: a for a in self.agencies}
        return self

    def _check_unique_codes(self) -> None:
        # Behaviour and measure codes share one namespace: a clause code means one thing.
        dup = _duplicates([b.code for b in self.behaviors] + [m.code for m in self.measures])
        if dup:
            raise ValueError(f"duplicate behaviour/measure code(s): {', '.join(dup)}")
        for name, codes in (
            ("agency", [a.code for a in self.agencies]),
            ("tier", [t.code for t in self.tiers]),
            ("list", [x.code for x in self.lists]),
            ("subject type", [s.code for s in self.subject_types]),
            ("evidence kind", [e.code for e in self.evidence_kinds]),
            ("exemption cause", [c.code for c in self.exemption_causes]),
        ):
            dup = _duplicates(codes)
            if dup:
                raise ValueError(f"duplicate {name} code(s): {', '.join(dup)}")

    def _check_enumerations_complete(self) -> None:
        for name, present, expected in (
            ("subject_types", {s.code for s in self.subject_types}, {"enterprise", "citizen"}),
            ("evidence_kinds", {e.code for e in self.evidence_kinds}, {"administrative_penalty", "judicial_judgment"}),
            ("tiers", {t.code for t in self.tiers}, {"minor", "general", "serious"}),
            ("lists", {x.code for x in self.lists}, {"key_warning", "red", "dishonest"}),
        ):
            if present != expected:
                raise ValueError(f"{name} must define exactly {sorted(expected)}, got {sorted(present)}")
        if set(self.templates_zh.subject) != {"enterprise", "citizen"}:
            raise ValueError("templates_zh.subject must name both enterprise and citizen")

    def _check_tiers_and_lists(self) -> None:
        for tier in self.tiers:
            if not tier.min_months <= tier.default_months <= tier.max_months:
                raise ValueError(
                    f"tier {tier.code!r}: need min_months <= default_months <= max_months, "
                    f"got {tier.min_months} / {tier.default_months} / {tier.max_months}"
                )
        by_code = {t.code: t for t in self.tiers}
        ordered = [by_code["minor"], by_code["general"], by_code["serious"]]
        for lower, higher in itertools.pairwise(ordered):
            if lower.min_months > higher.min_months or lower.max_months > higher.max_months:
                raise ValueError(f"tier {higher.code!r} must not be shorter than tier {lower.code!r}")
        for policy in self.lists:
            if policy.code == "dishonest" and policy.period_months is not None:
                raise ValueError("list 'dishonest' takes its period from the record's tier; period_months must be null")
            if policy.code != "dishonest" and policy.period_months is None:
                raise ValueError(f"list {policy.code!r} needs period_months")

    def _check_behaviors(self, behaviors: dict[str, Behavior], measures: dict[str, Measure]) -> None:
        for b in self.behaviors:
            if (b.outcome == "dishonest") != (b.tier is not None):
                raise ValueError(f"behaviour {b.code}: a tier is required for dishonest behaviours and only for them")
            if b.outcome == "exemption" and (b.measures or not b.item_zh):
                raise ValueError(f"behaviour {b.code}: an exemption has an item_zh and no measures")
            if b.outcome == "key_warning":
                target = behaviors.get(b.escalates_to or "")
                if target is None:
                    raise ValueError(f"behaviour {b.code}: escalates_to {b.escalates_to!r} is not a behaviour code")
                if target.outcome != "dishonest" or not set(b.subject_types) <= set(target.subject_types):
                    raise ValueError(
                        f"behaviour {b.code}: escalates_to {target.code} must be dishonest for the same subject types"
                    )
            elif b.escalates_to is not None:
                raise ValueError(f"behaviour {b.code}: only key-warning behaviours escalate")
            dup = _duplicates(b.measures)
            if dup:
                raise ValueError(f"behaviour {b.code}: measure(s) listed twice: {', '.join(dup)}")
            for code in b.measures:
                measure = measures.get(code)
                if measure is None:
                    raise ValueError(f"behaviour {b.code} refers to unknown measure {code!r}")
                if not set(measure.subject_types) & set(b.subject_types):
                    raise ValueError(
                        f"behaviour {b.code} ({'/'.join(b.subject_types)}) refers to measure {code} which "
                        f"applies only to {'/'.join(measure.subject_types)}"
                    )

    def _check_measures(self, measures: dict[str, Measure], agencies: dict[str, Agency]) -> None:
        for m in self.measures:
            routed = [r.agency for r in m.agencies]
            dup = _duplicates(routed)
            if dup:
                raise ValueError(f"measure {m.code}: agency routed twice: {', '.join(dup)}")
            for code in routed:
                if code not in agencies:
                    raise ValueError(f"measure {m.code} refers to unknown agency {code!r}")

    # -- lookups ----------------------------------------------------------------------------------

    @property
    def reference(self) -> str:
        """Stable id of this catalog version, stored on every decision and event (``dalian-2020-4@1.0.0``)."""
        return f"{self.id}@{self.version}"

    def behavior(self, code: str) -> Behavior:
        try:
            return self._behaviors[code]
        except KeyError:
            raise UnknownCodeError("behaviour", code) from None

    def measure(self, code: str) -> Measure:
        try:
            return self._measures[code]
        except KeyError:
            raise UnknownCodeError("measure", code) from None

    def agency(self, code: str) -> Agency:
        try:
            return self._agencies[code]
        except KeyError:
            raise UnknownCodeError("agency", code) from None

    def agencies_for(self, measure_code: str) -> list[Agency]:
        return [self._agencies[r.agency] for r in self.measure(measure_code).agencies]

    def tier(self, code: str) -> Tier:
        for tier in self.tiers:
            if tier.code == code:
                return tier
        raise UnknownCodeError("tier", code)

    def list_policy(self, code: str) -> ListPolicy:
        for policy in self.lists:
            if policy.code == code:
                return policy
        raise UnknownCodeError("list", code)

    def evidence_kind(self, code: str) -> EvidenceKindInfo:
        for kind in self.evidence_kinds:
            if kind.code == code:
                return kind
        raise UnknownCodeError("evidence kind", code)

    def exemption_cause(self, code: str) -> ExemptionCause:
        for cause in self.exemption_causes:
            if cause.code == code:
                return cause
        raise UnknownCodeError("exemption cause", code)

    def subject_type(self, code: str) -> SubjectTypeInfo:
        for info in self.subject_types:
            if info.code == code:
                return info
        raise UnknownCodeError("subject type", code)

    def with_overrides(
        self, *, emergency_ends_on: date | None = None, objection_decision_working_days: int | None = None
    ) -> Catalog:
        """A copy with the values the service settings may override (None keeps the catalog's value)."""
        data = self.model_dump()
        if emergency_ends_on is not None:
            data["validity"]["ends_on"] = emergency_ends_on
        if objection_decision_working_days is not None:
            data["due_process"]["objection_decision_working_days"] = objection_decision_working_days
        return Catalog.model_validate(data)


def parse_catalog(data: Any, *, source: str = "<data>") -> Catalog:
    """Validate already-parsed catalog data; raise CatalogError with every problem found."""
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"invalid catalog {source}: {exc}") from exc


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; by default the bundled one (大信办字〔2020〕4号), parsed once per process.

    ``JC_CATALOG_PATH`` names another catalog file (another city, a later notice) for every service.
    """
    return _load_catalog_cached(path or _configured_path())


@functools.cache
def _configured_path() -> Path | None:
    """Read once per process: services call load_catalog() on every request and event."""
    return Path(os.environ["JC_CATALOG_PATH"]) if os.environ.get("JC_CATALOG_PATH") else None


@functools.cache
def _load_catalog_cached(path: Path | None) -> Catalog:
    if path is None:
        resource = resources.files(__package__).joinpath(BUNDLED_CATALOG)
        text, source = resource.read_text(encoding="utf-8"), f"{__package__}/{BUNDLED_CATALOG}"
    else:
        text, source = Path(path).read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"catalog {source} is not valid YAML: {exc}") from exc
    return parse_catalog(data, source=source)
