"""The classifier decides as 大信办字〔2020〕4号 reads (DESIGN §2), case by case, citing its clause.

Each case id starts with the clause it comes from. Expected values are written from the notice (and,
where the notice is silent, from the documented choices of the catalog: tiers and periods).
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import pytest
from jointcredit_common.catalog import Catalog
from rating_service.classification import (
    ClassificationError,
    ReportFacts,
    SubjectTypeMismatchError,
    UnknownBehaviorError,
    classify,
)

AS_OF = date(2020, 4, 1)

PENALTY = {
    "kind": "administrative_penalty",
    "document_no": "大市监罚〔2020〕101号",
    "authority": "大连市市场监督管理局",
    "decided_on": "2020-03-10",
}
JUDGMENT = {
    "kind": "judicial_judgment",
    "document_no": "（2020）辽0202刑初88号",
    "authority": "大连市中山区人民法院",
    "decided_on": "2020-03-20",
}
POLICE_PENALTY = {
    "kind": "administrative_penalty",
    "document_no": "大公（中）行罚决字〔2020〕33号",
    "authority": "大连市公安局中山分局",
    "decided_on": "2020-02-28",
}


def without(evidence: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in evidence.items() if k not in fields}


# Measures that follow from the notice for each subject type (catalog subject types documented there).
ENTERPRISE_INCENTIVES = {"I1", "I2", "I3", "I5", "I6", "I7", "F"}  # 二(二) + 三(二) financing for enterprises
CITIZEN_INCENTIVES = {"I1", "I4", "I6", "I7"}  # 二(二): services, education/employment, publicity, others
ENTERPRISE_PUNISHMENTS = {"P1", "P2", "P3", "P4", "P6"}  # 二(五) without P5 (an office held by a person)
CITIZEN_PUNISHMENTS = {"P2", "P3", "P4", "P5", "P6"}  # 二(五) without P1 (share issuance, bidding, …)
WARNING = {"N1", "N2"}  # 一: "对其发出警示，并及时推送至大连市公共信用信息平台，纳入信用记录"

LIST_OF = {"key_warning": "key_warning", "red": "red", "dishonest": "dishonest"}


def clause_ref(code: str) -> str:
    """Where a behaviour code sits in the notice (DESIGN §2 table)."""
    prefix, number = code[0], code[1:]
    return {"W": f"一.{number}", "G": f"二(一){number}", "E": f"二(三){number}", "C": f"二(四){number}", "X": "三(三)"}[prefix]


def case(
    case_id: str,
    code: str,
    subject: str,
    *,
    occurred: str = "2020-03-01",
    evidence: dict[str, Any] | None = None,
    exemption: dict[str, Any] | None = None,
    as_of: date = AS_OF,
    emergency_ends_on: date | None = None,
    dishonest_record: bool = False,
    **expected: Any,
) -> Any:
    facts: dict[str, Any] = {"subject_type": subject, "behavior": code, "occurred_on": occurred}
    if evidence is not None:
        facts["evidence"] = evidence
    if exemption is not None:
        facts["exemption"] = exemption
    options = {
        "as_of": as_of,
        "emergency_ends_on": emergency_ends_on,
        "subject_has_active_dishonest_record": dishonest_record,
    }
    expected.setdefault("clauses", [code])
    return pytest.param(facts, options, expected, id=case_id)


def _months_after(start: date, months: int) -> date:
    year, month = start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def key_warning(case_id: str, code: str, **kw: Any) -> Any:
    # The warning period runs from the conduct (one rule for late reports, issue 13), 6 months (catalog CHOICE).
    occurred = date.fromisoformat(kw.get("occurred", "2020-03-01"))
    return case(
        case_id,
        code,
        "enterprise",
        outcome="key_warning",
        measures=WARNING,
        starts=occurred,
        ends=_months_after(occurred, 6),
        **kw,
    )


def dishonest(case_id: str, code: str, subject: str, evidence: dict[str, Any], *, tier: str, ends: date, **kw: Any) -> Any:
    punishments = ENTERPRISE_PUNISHMENTS if subject == "enterprise" else CITIZEN_PUNISHMENTS
    return case(
        case_id,
        code,
        subject,
        evidence=evidence,
        outcome="dishonest",
        tier=tier,
        measures=punishments,
        starts=date.fromisoformat(evidence["decided_on"]),
        ends=ends,
        **kw,
    )


def red(case_id: str, code: str, subject: str, **kw: Any) -> Any:
    incentives = ENTERPRISE_INCENTIVES if subject == "enterprise" else CITIZEN_INCENTIVES
    kw.setdefault("measures", incentives)
    occurred = date.fromisoformat(kw.get("occurred", "2020-03-01"))  # the red period runs from the conduct, 12 months
    return case(case_id, code, subject, outcome="red", starts=occurred, ends=_months_after(occurred, 12), **kw)


def evidence_required(case_id: str, code: str, subject: str, evidence: dict[str, Any] | None, **kw: Any) -> Any:
    return case(case_id, code, subject, evidence=evidence, outcome="evidence_required", **kw)


# Publicity ends (Civil Code art. 202: the corresponding day of the final month).
GENERAL_FROM_PENALTY = date(2021, 3, 10)  # 12 months from 2020-03-10
SERIOUS_FROM_PENALTY = date(2023, 3, 10)  # 36 months from 2020-03-10
GENERAL_FROM_JUDGMENT = date(2021, 3, 20)
SERIOUS_FROM_JUDGMENT = date(2023, 3, 20)
GENERAL_FROM_POLICE = date(2021, 2, 28)
SERIOUS_FROM_POLICE = date(2023, 2, 28)
MINOR_FROM_POLICE = date(2020, 5, 28)  # 3 months from 2020-02-28

CASES = [
    # 一: resumption-of-work violations without penalty → key warning list + warning + credit record.
    key_warning("一.1-resumption-rules-not-followed-without-penalty-key-warning", "W1"),
    key_warning("一.2-returning-staff-not-health-monitored-key-warning", "W2"),
    key_warning("一.3-no-access-canteen-dormitory-management-key-warning", "W3"),
    key_warning("一.4-no-disinfection-after-resumption-key-warning", "W4"),
    key_warning("一.5-work-not-reorganised-to-avoid-gatherings-key-warning", "W5"),
    key_warning("一.6-labour-relations-mishandled-key-warning", "W6"),
    key_warning(
        "一.5-evidence-kind-none-ignores-stray-document-fields-key-warning",
        "W5",
        evidence={"kind": "none", "document_no": "草稿", "authority": "某局"},
    ),
    key_warning("一.2-warning-is-not-an-incentive-so-not-suppressed", "W2", dishonest_record=True),
    # 一 + 二(三)9: once penalised or judged, the same behaviour is dishonesty under E9.
    dishonest(
        "一.1+二(三)9-resumption-rules-breach-with-penalty-dishonest",
        "W1",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
        clauses=["W1", "E9"],
    ),
    dishonest(
        "一.2+二(三)9-no-health-monitoring-with-judgment-dishonest",
        "W2",
        "enterprise",
        JUDGMENT,
        tier="general",
        ends=GENERAL_FROM_JUDGMENT,
        clauses=["W2", "E9"],
    ),
    dishonest(
        "一.4+二(三)9-no-disinfection-with-penalty-dishonest",
        "W4",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
        clauses=["W4", "E9"],
    ),
    dishonest(
        "一.6+二(三)9-labour-relations-with-judgment-dishonest",
        "W6",
        "enterprise",
        JUDGMENT,
        tier="general",
        ends=GENERAL_FROM_JUDGMENT,
        clauses=["W6", "E9"],
    ),
    evidence_required(
        "一.3-penalty-claimed-without-document-number-evidence-required",
        "W3",
        "enterprise",
        without(PENALTY, "document_no"),
    ),
    # 二(一): good credit → red list with 二(二) incentives (+ 三(二) financing for enterprises).
    red("二(一)1-hospital-sent-medical-team-to-hubei-red", "G1", "enterprise"),
    red("二(一)1-doctor-went-to-hubei-red-with-personal-incentives", "G1", "citizen"),
    red("二(一)2-citizen-on-dalian-front-line-red", "G2", "citizen"),
    red("二(一)2-enterprise-on-dalian-front-line-red", "G2", "enterprise"),
    red("二(一)3-citizen-volunteer-red", "G3", "citizen"),
    red("二(一)3-unit-volunteering-red", "G3", "enterprise"),
    red("二(一)4-switched-to-scarce-medical-supplies-red-with-financing", "G4", "enterprise"),
    red("二(一)5-citizen-donated-protective-goods-red", "G5", "citizen"),
    red("二(一)5-enterprise-donated-money-red", "G5", "enterprise"),
    red("二(一)6-resumed-production-with-notable-results-red", "G6", "enterprise"),
    red(
        "二(一)4-active-dishonest-record-suppresses-all-incentives-and-financing",
        "G4",
        "enterprise",
        dishonest_record=True,
        measures=set(),
        suppressed=ENTERPRISE_INCENTIVES,
    ),
    red(
        "二(一)3-citizen-with-active-dishonest-record-gets-no-incentives",
        "G3",
        "citizen",
        dishonest_record=True,
        measures=set(),
        suppressed=CITIZEN_INCENTIVES,
    ),
    # 二(三): enterprise dishonesty with a penalty decision or judgment.
    dishonest(
        "二(三)1-concealing-people-of-concern-with-penalty-dishonest",
        "E1",
        "enterprise",
        PENALTY,
        tier="serious",
        ends=SERIOUS_FROM_PENALTY,
    ),
    dishonest(
        "二(三)2-providing-gathering-venue-with-penalty-dishonest",
        "E2",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
    ),
    dishonest(
        "二(三)3-wildlife-trade-with-judgment-dishonest-serious",
        "E3",
        "enterprise",
        JUDGMENT,
        tier="serious",
        ends=SERIOUS_FROM_JUDGMENT,
    ),
    dishonest(
        "二(三)4-fake-masks-with-penalty-dishonest-serious",
        "E4",
        "enterprise",
        PENALTY,
        tier="serious",
        ends=SERIOUS_FROM_PENALTY,
    ),
    dishonest(
        "二(三)5-epidemic-goods-fraud-with-judgment-dishonest-serious",
        "E5",
        "enterprise",
        JUDGMENT,
        tier="serious",
        ends=SERIOUS_FROM_JUDGMENT,
    ),
    dishonest(
        "二(三)6-medical-waste-dumped-with-penalty-dishonest-serious",
        "E6",
        "enterprise",
        PENALTY,
        tier="serious",
        ends=SERIOUS_FROM_PENALTY,
    ),
    dishonest(
        "二(三)7-price-gouging-with-penalty-dishonest", "E7", "enterprise", PENALTY, tier="general", ends=GENERAL_FROM_PENALTY
    ),
    dishonest(
        "二(三)8-pharmacy-ignoring-rules-with-penalty-dishonest",
        "E8",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
    ),
    dishonest(
        "二(三)9-resumption-violation-reported-directly-with-penalty-dishonest",
        "E9",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
    ),
    dishonest(
        "二(三)10-other-command-order-violation-with-judgment-dishonest",
        "E10",
        "enterprise",
        JUDGMENT,
        tier="general",
        ends=GENERAL_FROM_JUDGMENT,
    ),
    dishonest(
        "二(三)7-punishments-are-not-suppressed-by-an-earlier-record",
        "E7",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
        dishonest_record=True,
        suppressed=set(),
    ),
    # 二 intro: "经有关部门作出的行政处罚或司法判决的失信行为" — no decision, no listing.
    evidence_required("二(三)7-price-gouging-without-penalty-evidence-required", "E7", "enterprise", None),
    evidence_required("二(三)2-gathering-with-evidence-kind-none-evidence-required", "E2", "enterprise", {"kind": "none"}),
    evidence_required("二(三)3-wildlife-penalty-missing-document-number", "E3", "enterprise", without(PENALTY, "document_no")),
    evidence_required("二(三)4-fake-masks-penalty-missing-authority", "E4", "enterprise", without(PENALTY, "authority")),
    evidence_required("二(三)5-fraud-judgment-missing-decision-date", "E5", "enterprise", without(JUDGMENT, "decided_on")),
    evidence_required("二(三)8-blank-document-number-is-missing", "E8", "enterprise", {**PENALTY, "document_no": "  "}),
    evidence_required(
        "二(三)6-penalty-dated-before-the-act-is-not-evidence-of-it", "E6", "enterprise", PENALTY, occurred="2020-03-15"
    ),
    evidence_required(
        "二(三)10-penalty-dated-after-classification-day", "E10", "enterprise", {**PENALTY, "decided_on": "2020-04-02"}
    ),
    # 二(四): citizen dishonesty with a penalty decision or judgment.
    dishonest(
        "二(四)1-concealed-travel-history-with-penalty-dishonest-serious",
        "C1",
        "citizen",
        POLICE_PENALTY,
        tier="serious",
        ends=SERIOUS_FROM_POLICE,
        occurred="2020-02-25",
    ),
    dishonest(
        "二(四)2-broke-home-isolation-with-penalty-dishonest",
        "C2",
        "citizen",
        POLICE_PENALTY,
        tier="general",
        ends=GENERAL_FROM_POLICE,
        occurred="2020-02-25",
    ),
    dishonest(
        "二(四)3-refused-quarantine-with-judgment-dishonest",
        "C3",
        "citizen",
        JUDGMENT,
        tier="general",
        ends=GENERAL_FROM_JUDGMENT,
    ),
    dishonest(
        "二(四)4-entered-public-places-while-infected-with-judgment-dishonest-serious",
        "C4",
        "citizen",
        JUDGMENT,
        tier="serious",
        ends=SERIOUS_FROM_JUDGMENT,
    ),
    dishonest(
        "二(四)5-refused-temperature-check-with-penalty-dishonest-minor",
        "C5",
        "citizen",
        POLICE_PENALTY,
        tier="minor",
        ends=MINOR_FROM_POLICE,
        occurred="2020-02-25",
    ),
    dishonest(
        "二(四)6-spread-rumours-with-penalty-dishonest",
        "C6",
        "citizen",
        POLICE_PENALTY,
        tier="general",
        ends=GENERAL_FROM_POLICE,
        occurred="2020-02-25",
    ),
    dishonest(
        "二(四)7-disturbed-checkpoint-with-penalty-dishonest", "C7", "citizen", PENALTY, tier="general", ends=GENERAL_FROM_PENALTY
    ),
    dishonest(
        "二(四)8-assaulted-medical-staff-with-judgment-dishonest-serious",
        "C8",
        "citizen",
        JUDGMENT,
        tier="serious",
        ends=SERIOUS_FROM_JUDGMENT,
    ),
    dishonest(
        "二(四)9-looted-relief-supplies-with-judgment-dishonest-serious",
        "C9",
        "citizen",
        JUDGMENT,
        tier="serious",
        ends=SERIOUS_FROM_JUDGMENT,
    ),
    dishonest(
        "二(四)10-other-command-order-violation-with-penalty-dishonest",
        "C10",
        "citizen",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
    ),
    evidence_required("二(四)6-rumour-without-penalty-evidence-required", "C6", "citizen", None),
    evidence_required("二(四)8-assault-judgment-missing-court", "C8", "citizen", without(JUDGMENT, "authority")),
    evidence_required("二(四)2-isolation-breach-penalty-with-only-a-kind", "C2", "citizen", {"kind": "administrative_penalty"}),
    # 三(三): exemption only for epidemic participation / force majeure AND controllable risk.
    case(
        "三(三)-delayed-delivery-from-epidemic-work-risk-controllable-exempted",
        "X1",
        "enterprise",
        exemption={"cause": "epidemic_participation", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-delayed-loan-repayment-force-majeure-exempted",
        "X2",
        "enterprise",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-citizen-delayed-loan-repayment-force-majeure-exempted",
        "X2",
        "citizen",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-overdue-contract-force-majeure-exempted",
        "X3",
        "enterprise",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-late-tax-from-epidemic-work-exempted",
        "X4",
        "enterprise",
        exemption={"cause": "epidemic_participation", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-late-social-insurance-force-majeure-exempted",
        "X5",
        "enterprise",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        outcome="exempted",
    ),
    case(
        "三(三)-exemption-holds-even-with-an-earlier-dishonest-record",
        "X3",
        "citizen",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        dishonest_record=True,
        outcome="exempted",
    ),
    case(
        "三(三)-late-tax-risk-not-controllable-not-exempted",
        "X4",
        "enterprise",
        exemption={"cause": "force_majeure", "risk_controllable": False},
        outcome="not_exempted",
    ),
    case("三(三)-overdue-contract-no-exemption-claimed-not-exempted", "X3", "enterprise", outcome="not_exempted"),
    case(
        "三(三)-delayed-delivery-without-a-cause-not-exempted",
        "X1",
        "enterprise",
        exemption={"risk_controllable": True},
        outcome="not_exempted",
    ),
    case(
        "三(三)-citizen-cannot-claim-enterprise-epidemic-work-not-exempted",
        "X5",
        "citizen",
        exemption={"cause": "epidemic_participation", "risk_controllable": True},
        outcome="not_exempted",
    ),
    case(
        "三(三)-exemption-claim-with-penalty-still-needs-controllable-risk",
        "X2",
        "enterprise",
        evidence=PENALTY,
        exemption={"cause": "epidemic_participation", "risk_controllable": False},
        outcome="not_exempted",
    ),
    # 三 last paragraph: "本文件自印发之日起实施,新冠肺炎疫情应急响应结束后终止。"
    dishonest(
        "三-window-behaviour-on-issue-day-2020-02-21-in-scope",
        "E7",
        "enterprise",
        PENALTY,
        tier="general",
        ends=GENERAL_FROM_PENALTY,
        occurred="2020-02-21",
    ),
    case(
        "三-window-price-gouging-day-before-issue-out-of-scope",
        "E7",
        "enterprise",
        occurred="2020-02-20",
        evidence=PENALTY,
        outcome="out_of_scope",
    ),
    case(
        "三-window-resumption-breach-day-before-issue-out-of-scope",
        "W1",
        "enterprise",
        occurred="2020-02-20",
        outcome="out_of_scope",
    ),
    case("三-window-donation-before-issue-out-of-scope", "G5", "citizen", occurred="2020-01-30", outcome="out_of_scope"),
    case(
        "三-window-delayed-delivery-before-issue-out-of-scope",
        "X1",
        "enterprise",
        occurred="2020-02-20",
        exemption={"cause": "force_majeure", "risk_controllable": True},
        outcome="out_of_scope",
    ),
    # Classified on the last day of the response (changed from as_of 2020-05-10, issue 13 item 2: after the end
    # nothing new is listed, "应急响应结束后终止"; that case is the history one below).
    dishonest(
        "三-window-isolation-breach-on-emergency-end-day-in-scope",
        "C2",
        "citizen",
        {**POLICE_PENALTY, "decided_on": "2020-05-01"},
        tier="general",
        ends=date(2021, 5, 1),
        occurred="2020-05-01",
        emergency_ends_on=date(2020, 5, 1),
        as_of=date(2020, 5, 1),
    ),
    # One rule for late reports, every list: the period runs from the conduct / the decision; over when reported,
    # or reported after the end of the response → kept as history, nothing listed (outcome history).
    case(
        "三-late-isolation-breach-penalised-in-window-reported-after-emergency-end-history",
        "C2",
        "citizen",
        occurred="2020-05-01",
        evidence={**POLICE_PENALTY, "decided_on": "2020-05-03"},
        emergency_ends_on=date(2020, 5, 1),
        as_of=date(2020, 5, 10),
        outcome="history",
        list="dishonest",
        tier="general",
        starts=date(2020, 5, 3),
        ends=date(2021, 5, 3),
        why="应急响应已于2020年5月1日结束",
    ),
    case(
        "一.2-late-2020-breach-reported-after-emergency-end-history-not-key-warning",
        "W2",
        "enterprise",
        occurred="2020-04-20",
        emergency_ends_on=date(2020, 5, 1),
        as_of=date(2020, 5, 10),
        outcome="history",
        list="key_warning",
        starts=date(2020, 4, 20),
        ends=date(2020, 10, 20),
        why="应急响应已于2020年5月1日结束",
    ),
    case(
        "二(一)5-2020-donation-reported-in-2026-period-over-history-not-red",
        "G5",
        "enterprise",
        occurred="2020-03-01",
        as_of=date(2026, 3, 1),
        outcome="history",
        list="red",
        starts=date(2020, 3, 1),
        ends=date(2021, 3, 1),
        why="报送时公示期已届满",
    ),
    case(
        "一.3-2020-breach-reported-in-2026-no-end-configured-period-over-history",
        "W3",
        "enterprise",
        occurred="2020-03-01",
        as_of=date(2026, 3, 1),
        outcome="history",
        list="key_warning",
        starts=date(2020, 3, 1),
        ends=date(2020, 9, 1),
        why="报送时公示期已届满",
    ),
    case(
        "二(三)7-2020-penalty-reported-in-2026-period-over-history",
        "E7",
        "enterprise",
        evidence=PENALTY,
        as_of=date(2026, 3, 1),
        outcome="history",
        list="dishonest",
        tier="general",
        starts=date(2020, 3, 10),
        ends=date(2021, 3, 10),
        why="报送时公示期已届满",
    ),
    case(
        "三-window-isolation-breach-day-after-emergency-end-out-of-scope",
        "C2",
        "citizen",
        occurred="2020-05-02",
        evidence={**POLICE_PENALTY, "decided_on": "2020-05-03"},
        emergency_ends_on=date(2020, 5, 1),
        as_of=date(2020, 5, 10),
        outcome="out_of_scope",
    ),
    case(
        "三-window-volunteering-after-emergency-end-out-of-scope",
        "G3",
        "citizen",
        occurred="2020-06-01",
        emergency_ends_on=date(2020, 5, 1),
        outcome="out_of_scope",
        as_of=date(2020, 6, 10),
    ),
    case(
        "三-window-no-end-configured-late-breach-still-key-warning",
        "W1",
        "enterprise",
        occurred="2022-06-01",
        as_of=date(2022, 7, 1),
        outcome="key_warning",
        measures=WARNING,
        starts=date(2022, 6, 1),
        ends=date(2022, 12, 1),
    ),
]

COVERED_CODES = {p.values[0]["behavior"] for p in CASES}


def test_cases_cover_every_behaviour_code_of_the_notice(catalog: Catalog) -> None:
    assert len(CASES) >= 60
    assert {b.code for b in catalog.behaviors} <= COVERED_CODES


@pytest.mark.parametrize("facts, options, expected", CASES)
def test_notice_rule(catalog: Catalog, facts: dict[str, Any], options: dict[str, Any], expected: dict[str, Any]) -> None:
    decision = classify(ReportFacts.model_validate(facts), catalog, **options)

    assert decision.outcome == expected["outcome"]
    assert decision.list == expected.get("list", LIST_OF.get(expected["outcome"]))
    assert decision.clause_codes == expected["clauses"]
    assert decision.clause_refs == [clause_ref(c) for c in expected["clauses"]]
    assert decision.catalog == catalog.reference

    # Explainable: the sentence cites the notice and every clause it rests on.
    assert "大信办字〔2020〕4号" in decision.reason_zh
    for ref in decision.clause_refs:
        assert ref in decision.reason_zh

    if decision.list is None:
        # Not listed: nothing to apply, nothing to publish, no notice.
        assert decision.measures == [] and decision.suppressed_measures == []
        assert decision.notice is None
        assert decision.publicity_starts_on is None and decision.publicity_ends_on is None
        assert decision.evidence_used is None
        assert decision.tier is None
        return

    if decision.outcome == "history":
        # Too late to list: the department is told so, with the period the list would have had; nothing applies.
        assert expected["why"] in decision.reason_zh and "仅作历史记录保存，未列入" in decision.reason_zh
        assert "列入" not in decision.reason_zh.replace("未列入", "")
        assert decision.measures == [] and decision.suppressed_measures == [] and decision.notice is None
        assert (decision.publicity_starts_on, decision.publicity_ends_on) == (expected["starts"], expected["ends"])
        assert decision.tier == expected.get("tier")
        return

    assert set(decision.measures) == expected["measures"]
    assert set(decision.suppressed_measures) == expected.get("suppressed", set())
    assert (decision.suppression_reason_zh is not None) == bool(decision.suppressed_measures)
    assert decision.tier == expected.get("tier")
    assert decision.publicity_starts_on == expected["starts"]
    assert decision.publicity_ends_on == expected["ends"]
    if decision.outcome == "dishonest":
        # The evidence it rests on is named, number and authority included.
        assert decision.evidence_used is not None
        assert decision.evidence_used.model_dump(mode="json") == facts["evidence"]
        assert facts["evidence"]["document_no"] in decision.reason_zh
        assert facts["evidence"]["authority"] in decision.reason_zh
    else:
        assert decision.evidence_used is None

    notice = decision.notice
    assert notice is not None and notice.list == decision.list
    assert [m.code for m in notice.measures] == decision.measures
    assert notice.suppressed_measures == decision.suppressed_measures
    assert (notice.publicity_starts_on, notice.publicity_ends_on) == (decision.publicity_starts_on, decision.publicity_ends_on)


# -- subject types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, subject",
    [
        pytest.param("E7", "citizen", id="二(三)7-enterprise-dishonesty-reported-against-a-citizen"),
        pytest.param("C8", "enterprise", id="二(四)8-citizen-dishonesty-reported-against-an-enterprise"),
        pytest.param("W1", "citizen", id="一.1-resumption-rules-concern-enterprises-only"),
        pytest.param("G4", "citizen", id="二(一)4-switching-production-is-an-enterprise-act"),
        pytest.param("G6", "citizen", id="二(一)6-resuming-production-is-an-enterprise-act"),
        pytest.param("X1", "citizen", id="三(三)-delayed-delivery-is-an-enterprise-act"),
    ],
)
def test_behaviour_reported_against_the_wrong_subject_type_is_refused(catalog: Catalog, code: str, subject: str) -> None:
    facts = ReportFacts(subject_type=subject, behavior=code, occurred_on=date(2020, 3, 1), evidence=PENALTY)
    with pytest.raises(SubjectTypeMismatchError) as excinfo:
        classify(facts, catalog, as_of=AS_OF, emergency_ends_on=None, subject_has_active_dishonest_record=False)
    assert excinfo.value.behavior == code and excinfo.value.subject_type == subject
    assert isinstance(excinfo.value, ClassificationError)


def test_subject_type_is_checked_before_the_window(catalog: Catalog) -> None:
    # Bad input is a 4xx, not an out-of-scope decision stored against the wrong subject.
    facts = ReportFacts(subject_type="citizen", behavior="E7", occurred_on=date(2019, 12, 1))
    with pytest.raises(SubjectTypeMismatchError):
        classify(facts, catalog, as_of=AS_OF, emergency_ends_on=None, subject_has_active_dishonest_record=False)


@pytest.mark.parametrize("code", ["E11", "I1", "R", "e7", ""])
def test_code_that_is_not_a_behaviour_of_the_notice_is_refused(catalog: Catalog, code: str) -> None:
    facts = ReportFacts(subject_type="enterprise", behavior=code, occurred_on=date(2020, 3, 1))
    with pytest.raises(UnknownBehaviorError):
        classify(facts, catalog, as_of=AS_OF, emergency_ends_on=None, subject_has_active_dishonest_record=False)


def _decide(catalog: Catalog, **facts: Any) -> Any:
    options = {"as_of": AS_OF, "emergency_ends_on": None, "subject_has_active_dishonest_record": False}
    options.update({k: facts.pop(k) for k in list(facts) if k in options})
    facts.setdefault("occurred_on", "2020-03-01")
    return classify(ReportFacts.model_validate(facts), catalog, **options)


def test_citizen_red_list_gets_personal_incentives_not_bidding_inspections_or_financing(catalog: Catalog) -> None:
    citizen = _decide(catalog, subject_type="citizen", behavior="G5")
    enterprise = _decide(catalog, subject_type="enterprise", behavior="G5")
    # 二(二)4 (education, employment, children of medical workers) is for persons;
    # 二(二)3 bidding points, 二(二)5 inspections and 三(二) SME credit are for enterprises.
    assert "I4" in citizen.measures and "I4" not in enterprise.measures
    for code in ("I3", "I5", "F"):
        assert code in enterprise.measures and code not in citizen.measures


def test_soe_office_bar_punishes_citizens_and_share_issuance_bar_punishes_enterprises(catalog: Catalog) -> None:
    citizen = _decide(catalog, subject_type="citizen", behavior="C10", evidence=PENALTY)
    enterprise = _decide(catalog, subject_type="enterprise", behavior="E10", evidence=PENALTY)
    assert "P5" in citizen.measures and "P5" not in enterprise.measures  # 二(五)5
    assert "P1" in enterprise.measures and "P1" not in citizen.measures  # 二(五)1


# -- due process: the notice before listing ---------------------------------------------------------------


def test_pre_listing_notice_gives_basis_reason_measures_objection_and_exit(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="E7", evidence=PENALTY)
    notice = decision.notice
    assert notice is not None
    assert "虚假宣传、哄抬物价、囤积居奇、牟取暴利等扰乱市场秩序的" in notice.basis_zh  # 二(三)7 verbatim
    assert "大信办字〔2020〕4号" in notice.basis_zh
    assert notice.reason_zh == decision.reason_zh
    assert notice.list_name_zh == "失信名单"
    p1 = next(m for m in notice.measures if m.code == "P1")
    assert p1.text_zh.startswith("实施限制股票发行")
    assert {"securities_regulator", "public_resource_trading_center", "finance_bureau", "tax_bureau"} == set(p1.agencies)
    assert "异议" in notice.objection_zh and "5个工作日" in notice.objection_zh
    assert notice.objection_decision_working_days == 5
    assert "信用修复" in notice.exit_conditions_zh


def test_escalated_resumption_violation_notice_cites_both_clauses(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="W2", evidence=JUDGMENT)
    assert decision.notice is not None
    assert "未对返岗复工职工进行健康监测" in decision.notice.basis_zh  # 一.2
    assert "未遵守复工复产相关规定，达到行政处罚或司法判决的" in decision.notice.basis_zh  # 二(三)9


def test_key_warning_notice_says_warning_and_credit_record(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="W4")
    assert decision.notice is not None and decision.notice.list_name_zh == "重点警示名单"
    texts = [m.text_zh for m in decision.notice.measures]
    assert "对其发出警示" in texts
    assert any("大连市公共信用信息平台" in t for t in texts)


def test_objection_limit_follows_the_configured_working_days(catalog: Catalog) -> None:
    decision = _decide(
        catalog.with_overrides(objection_decision_working_days=3), subject_type="citizen", behavior="C6", evidence=PENALTY
    )
    assert decision.notice is not None
    assert decision.notice.objection_decision_working_days == 3
    assert "3个工作日" in decision.notice.objection_zh


def test_suppressed_incentives_are_explained(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="G2", subject_has_active_dishonest_record=True)
    assert decision.outcome == "red" and decision.measures == []
    assert decision.suppression_reason_zh is not None and "失信记录" in decision.suppression_reason_zh
    assert decision.suppression_reason_zh in decision.reason_zh


# -- window: catalog value and setting ---------------------------------------------------------------------


def test_catalog_end_of_emergency_applies_when_no_setting_is_given(catalog: Catalog) -> None:
    ended = catalog.with_overrides(emergency_ends_on=date(2020, 5, 1))
    after = _decide(ended, subject_type="enterprise", behavior="W1", occurred_on="2020-05-02")
    on = _decide(ended, subject_type="enterprise", behavior="W1", occurred_on="2020-05-01")
    assert after.outcome == "out_of_scope" and on.outcome == "key_warning"


def test_setting_overrides_the_catalog_end_of_emergency(catalog: Catalog) -> None:
    ended = catalog.with_overrides(emergency_ends_on=date(2020, 5, 1))
    decision = _decide(
        ended, subject_type="enterprise", behavior="W1", occurred_on="2020-05-02", emergency_ends_on=date(2020, 6, 30)
    )
    assert decision.outcome == "key_warning"


# -- periods -----------------------------------------------------------------------------------------------


def test_dishonest_publicity_runs_from_the_decision_not_from_classification(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="E3", evidence=PENALTY, as_of=date(2020, 9, 1))
    assert decision.publicity_starts_on == date(2020, 3, 10)
    assert decision.publicity_ends_on == date(2023, 3, 10)


def test_publicity_ending_in_a_shorter_month_ends_on_its_last_day(catalog: Catalog) -> None:
    # Serious tier, 36 months from 2020-02-29: 2023 has no 29 February.
    decision = _decide(
        catalog,
        subject_type="citizen",
        behavior="C8",
        occurred_on="2020-02-25",
        evidence={**JUDGMENT, "decided_on": "2020-02-29"},
    )
    assert decision.publicity_ends_on == date(2023, 2, 28)


def test_tier_period_stays_within_national_bounds(catalog: Catalog) -> None:
    for code, subject in (("C5", "citizen"), ("E7", "enterprise"), ("E3", "enterprise")):
        decision = _decide(catalog, subject_type=subject, behavior=code, evidence=PENALTY)
        tier = catalog.tier(decision.tier)
        start, end = decision.publicity_starts_on, decision.publicity_ends_on
        months = (end.year - start.year) * 12 + end.month - start.month
        assert tier.min_months <= months <= tier.max_months


# -- input shape and purity --------------------------------------------------------------------------------


def test_report_in_ingest_shape_is_accepted(catalog: Catalog) -> None:
    report = {
        "subject": {"type": "enterprise", "id": "91210200MA0Y000000", "name": "某药房"},
        "behavior": "E8",
        "occurred_on": "2020-03-01",
        "description": "未执行测温登记规定",
        "evidence": None,
        "exemption": None,
    }
    decision = classify(
        ReportFacts.model_validate(report),
        catalog,
        as_of=AS_OF,
        emergency_ends_on=None,
        subject_has_active_dishonest_record=False,
    )
    assert decision.outcome == "evidence_required"


def test_classification_is_pure_and_repeatable(catalog: Catalog) -> None:
    before = catalog.model_dump()
    facts = ReportFacts.model_validate(
        {"subject_type": "enterprise", "behavior": "W3", "occurred_on": "2020-03-01", "evidence": PENALTY}
    )
    kwargs = {"as_of": AS_OF, "emergency_ends_on": None, "subject_has_active_dishonest_record": False}
    assert classify(facts, catalog, **kwargs) == classify(facts, catalog, **kwargs)
    assert catalog.model_dump() == before


def test_decision_serialises_for_events(catalog: Catalog) -> None:
    decision = _decide(catalog, subject_type="enterprise", behavior="W3", evidence=PENALTY)
    data = decision.model_dump(mode="json")
    assert data["list"] == "dishonest" and data["clause_codes"] == ["W3", "E9"]
    assert data["notice"]["list"] == "dishonest"
    assert data["evidence_used"]["document_no"] == PENALTY["document_no"]
