"""大信办字〔2020〕4号, case by case, through the REAL rating service: report.received.v1 on the broker →
the consumer → the classifier → the database → report.classified.v1 / subject.listed.v1 on the broker,
the subject API and the public lists.

Every case id starts with the clause of the notice it comes from. Expected values are written from the
notice's text (一, 二(一)–(五), 三(三), the validity paragraph) and, where it is silent, from the catalog's
documented choices (severity tiers and periods, measures per subject type).

All cases run in ONE app run (one consumer-group join): a module-scoped fixture publishes every report,
waits for every decision, collects what the service stored, served and emitted, then each case is a test.
Dates are relative to today (Asia/Shanghai) so that records are inside their publicity period.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from jointcredit_common.catalog import load_catalog
from jointcredit_common.devstack import database_url, drop_databases
from jointcredit_common.devstack.credentials import ensure_dev_credentials
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
# The configured end of the emergency response (setting): today, the last day reports still list. (Was today - 30
# days; after the end nothing new is listed — "应急响应结束后终止", issue 13 item 2 — so the late reports have a
# run of their own, LATE_CASES, with the response ended EMERGENCY_ENDED.)
EMERGENCY_ENDS = TODAY
EMERGENCY_ENDED = TODAY - timedelta(days=30)
OCCURRED = TODAY - timedelta(days=90)
PENALTY_ON = TODAY - timedelta(days=40)
JUDGMENT_ON = TODAY - timedelta(days=35)

# A general (12-month) record decided on this day has today as its last day of publicity.
LAST_DAY_PENALTY_ON = date(TODAY.year - 1, TODAY.month, min(TODAY.day, calendar.monthrange(TODAY.year - 1, TODAY.month)[1]))

PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕101号", "authority": "大连市市场监督管理局",
           "decided_on": PENALTY_ON.isoformat()}
JUDGMENT = {"kind": "judicial_judgment", "document_no": "（2020）辽0202刑初88号", "authority": "大连市中山区人民法院",
            "decided_on": JUDGMENT_ON.isoformat()}
POLICE = {"kind": "administrative_penalty", "document_no": "大公（中）行罚决字〔2020〕33号", "authority": "大连市公安局中山分局",
          "decided_on": PENALTY_ON.isoformat()}

# 一 last paragraph: a warning (N1) and a push to the public credit platform (N2).
WARNING = {"N1", "N2"}
# 二(二) incentives; 三(二) financing is for enterprises (SMEs); I2/I3/I5 concern organisations, I4 persons.
ENTERPRISE_INCENTIVES = {"I1", "I2", "I3", "I5", "I6", "I7", "F"}
CITIZEN_INCENTIVES = {"I1", "I4", "I6", "I7"}
# 二(五): P1 (shares, bidding, fiscal funds, tax) concerns organisations; P5 (SOE offices) persons.
ENTERPRISE_PUNISHMENTS = {"P1", "P2", "P3", "P4", "P6"}
CITIZEN_PUNISHMENTS = {"P2", "P3", "P4", "P5", "P6"}
MONTHS = {"minor": 3, "general": 12, "serious": 36, "key_warning": 6, "red": 12}


def resident_id(n: int) -> str:
    """A valid GB 11643 number (see conftest.resident_id for why not the platform factory)."""
    from stdnum.cn import ric

    body = f"210202198503{n // 100 % 100 + 1:02d}{n % 1000:03d}"[:17]
    return body + ric.calc_check_digit(body + "0")


def add_months(start: date, months: int) -> date:
    years, index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, index + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Subject:
    type: str
    id: str
    name: str


_numbers = iter(range(1, 1000))


def enterprise(name: str = "测试商贸") -> Subject:
    n = next(_numbers)
    return Subject("enterprise", uscc(700_000 + n), f"大连{name}第{n}有限公司")


def citizen(name: str = "张三丰") -> Subject:
    return Subject("citizen", resident_id(next(_numbers)), name)


@dataclass
class Case:
    id: str
    subject: Subject
    behavior: str
    outcome: str
    clauses: list[str]
    occurred_on: date = OCCURRED
    evidence: dict[str, Any] | None = None
    exemption: dict[str, Any] | None = None
    department: str = "market_regulation"
    list: str | None = None
    tier: str | None = None
    measures: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    starts: date | None = None
    ends: date | None = None
    state: str | None = None  # the record's state; None: no record
    published: bool = False  # subject.listed emitted and on the public list


# Key warning and red periods run from the conduct (one rule for late reports, issue 13 item 2), as the dishonest
# list's runs from the decision. (They ran from the classification day before.)
def key_warning(case_id: str, code: str, subject: Subject | None = None, **kw: Any) -> Case:
    occurred = kw.get("occurred_on", OCCURRED)
    return Case(case_id, subject or enterprise(), code, "key_warning", [code], list="key_warning", measures=WARNING,
                starts=occurred, ends=add_months(occurred, 6), state="active", published=True, **kw)


def red(case_id: str, code: str, subject: Subject, *, suppressed_all: bool = False, **kw: Any) -> Case:
    incentives = ENTERPRISE_INCENTIVES if subject.type == "enterprise" else CITIZEN_INCENTIVES
    occurred = kw.get("occurred_on", OCCURRED)
    return Case(case_id, subject, code, "red", [code], list="red",
                measures=set() if suppressed_all else incentives, suppressed=incentives if suppressed_all else set(),
                starts=occurred, ends=add_months(occurred, 12), state="active", published=True,
                department="health_commission", **kw)


def history(case_id: str, code: str, subject: Subject, list_key: str, *, starts: date, months: int,
            clauses: list[str] | None = None, **kw: Any) -> Case:
    """Too late to list (period over when reported, or reported after the response ended): kept, never published,
    no measures; the department reads 仅作历史记录保存，未列入…"""
    return Case(case_id, subject, code, "history", clauses or [code], list=list_key, starts=starts,
                ends=add_months(starts, months), state="history", published=False, **kw)


def dishonest(case_id: str, code: str, subject: Subject, evidence: dict[str, Any], tier: str, *,
              clauses: list[str] | None = None, **kw: Any) -> Case:
    decided = date.fromisoformat(evidence["decided_on"])
    punishments = ENTERPRISE_PUNISHMENTS if subject.type == "enterprise" else CITIZEN_PUNISHMENTS
    kw.setdefault("state", "active")
    kw.setdefault("published", True)
    return Case(case_id, subject, code, "dishonest", clauses or [code], evidence=evidence, list="dishonest", tier=tier,
                measures=punishments, starts=decided, ends=add_months(decided, MONTHS[tier]),
                department="public_security" if subject.type == "citizen" else "market_regulation", **kw)


def undecided(case_id: str, code: str, subject: Subject, outcome: str, **kw: Any) -> Case:
    """Outcomes that keep the report but list nothing: evidence_required, exempted, not_exempted, out_of_scope."""
    return Case(case_id, subject, code, outcome, [code], **kw)


def without(evidence: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: v for k, v in evidence.items() if k not in fields}


# Subjects that appear in more than one case (same Kafka key → processed in this order).
GOUGER = enterprise("哄抬物价医药")  # E7 first, then a G4 red listing: no incentives while dishonest
ISOLATION_BREAKER = citizen("李四海")  # C2 first, then a G3 volunteer listing: no incentives
GATHERING_HOST = enterprise("聚集场所")  # E2 first, then a W2 key warning: a warning is no incentive

CASES: list[Case] = [
    # 一.1–6 without penalty or judgment → 重点警示名单, warning, credit record.
    key_warning("一.1-resumption-rules-not-followed-no-penalty-key-warning", "W1"),
    key_warning("一.2-returning-staff-not-health-monitored-key-warning", "W2"),
    key_warning("一.3-no-access-canteen-dormitory-management-key-warning", "W3"),
    key_warning("一.4-no-disinfection-after-resumption-key-warning", "W4"),
    key_warning("一.5-work-not-reorganised-to-avoid-gatherings-key-warning", "W5"),
    key_warning("一.6-labour-relations-mishandled-key-warning", "W6", department="hr_social_security"),
    key_warning("一.3-evidence-kind-none-with-stray-document-fields-still-key-warning", "W3",
                evidence={"kind": "none", "document_no": "草稿", "authority": "某局"}),
    # 一 + 二(三)9: "未遵守复工复产相关规定，达到行政处罚或司法判决的" → dishonest under E9 as well.
    dishonest("一.1+二(三)9-resumption-rules-breach-with-penalty-dishonest", "W1", enterprise(), PENALTY, "general",
              clauses=["W1", "E9"]),
    dishonest("一.2+二(三)9-no-health-monitoring-with-judgment-dishonest", "W2", enterprise(), JUDGMENT, "general",
              clauses=["W2", "E9"]),
    dishonest("一.3+二(三)9-no-canteen-management-with-penalty-dishonest", "W3", enterprise(), PENALTY, "general",
              clauses=["W3", "E9"]),
    dishonest("一.4+二(三)9-no-disinfection-with-judgment-dishonest", "W4", enterprise(), JUDGMENT, "general",
              clauses=["W4", "E9"]),
    dishonest("一.5+二(三)9-gatherings-not-avoided-with-penalty-dishonest", "W5", enterprise(), PENALTY, "general",
              clauses=["W5", "E9"]),
    dishonest("一.6+二(三)9-labour-relations-with-judgment-dishonest", "W6", enterprise(), JUDGMENT, "general",
              clauses=["W6", "E9"]),
    undecided("一.1+二-penalty-claimed-without-authority-evidence-required", "W1", enterprise(), "evidence_required",
              evidence=without(PENALTY, "authority")),
    # 二(一)1–6 → 守信红名单 with 二(二) incentives (+ 三(二) financing for enterprises).
    red("二(一)1-doctor-supported-hubei-red-citizen-incentives", "G1", citizen("王医生")),
    red("二(一)1-hospital-sent-team-to-hubei-red-enterprise-incentives", "G1", enterprise("医院管理")),
    red("二(一)2-citizen-on-dalian-front-line-red", "G2", citizen("赵一线")),
    red("二(一)2-enterprise-on-dalian-front-line-red", "G2", enterprise("物业服务")),
    red("二(一)3-citizen-volunteer-red", "G3", citizen("钱志愿")),
    red("二(一)3-unit-volunteering-red", "G3", enterprise("志愿协会")),
    red("二(一)4-switched-to-scarce-masks-red-with-xinyidai-financing", "G4", enterprise("口罩转产")),
    red("二(一)5-citizen-donated-protective-goods-red", "G5", citizen("孙捐赠")),
    red("二(一)5-enterprise-donated-money-red", "G5", enterprise("捐赠实业")),
    red("二(一)6-resumed-production-notable-results-red", "G6", enterprise("重点工程")),
    # 二(三)1–10 with an administrative-penalty decision or a judicial judgment → 失信名单.
    dishonest("二(三)1-concealing-people-of-concern-with-penalty-dishonest-serious", "E1", enterprise(), PENALTY, "serious"),
    dishonest("二(三)2-providing-gathering-venue-with-penalty-dishonest-general", "E2", enterprise(), PENALTY, "general"),
    dishonest("二(三)3-wildlife-trade-with-judgment-dishonest-serious", "E3", enterprise(), JUDGMENT, "serious"),
    dishonest("二(三)4-fake-protective-goods-with-penalty-dishonest-serious", "E4", enterprise(), PENALTY, "serious"),
    dishonest("二(三)5-fraud-under-epidemic-pretext-with-judgment-dishonest-serious", "E5", enterprise(), JUDGMENT, "serious"),
    dishonest("二(三)6-medical-waste-dumped-with-penalty-dishonest-serious", "E6", enterprise(), PENALTY, "serious"),
    dishonest("二(三)7-price-gouging-masks-with-penalty-dishonest-general", "E7", enterprise(), PENALTY, "general"),
    dishonest("二(三)8-pharmacy-ignoring-rules-with-penalty-dishonest-general", "E8", enterprise(), PENALTY, "general"),
    dishonest("二(三)9-resumption-violation-reported-as-E9-with-penalty-dishonest", "E9", enterprise(), PENALTY, "general"),
    dishonest("二(三)10-other-command-order-violation-with-judgment-dishonest", "E10", enterprise(), JUDGMENT, "general"),
    # 二 intro: dishonesty rests on a penalty or judgment — without complete, consistent evidence nothing is listed.
    undecided("二(三)3+二-wildlife-trade-without-penalty-evidence-required", "E3", enterprise(), "evidence_required"),
    undecided("二(三)7+二-price-gouging-without-penalty-evidence-required", "E7", enterprise(), "evidence_required"),
    undecided("二(三)4+二-penalty-without-decision-date-evidence-required", "E4", enterprise(), "evidence_required",
              evidence=without(PENALTY, "decided_on")),
    undecided("二(三)5+二-judgment-dated-before-the-act-evidence-required", "E5", enterprise(), "evidence_required",
              evidence={**JUDGMENT, "decided_on": (OCCURRED - timedelta(days=1)).isoformat()}),
    undecided("二(三)8+二-penalty-dated-in-the-future-evidence-required", "E8", enterprise(), "evidence_required",
              evidence={**PENALTY, "decided_on": (TODAY + timedelta(days=5)).isoformat()}),
    # 二(四)1–10 with a penalty or judgment → 失信名单 (citizens masked everywhere public).
    dishonest("二(四)1-concealing-travel-history-with-penalty-dishonest-serious", "C1", citizen(), POLICE, "serious"),
    dishonest("二(四)2-visiting-during-home-isolation-with-penalty-dishonest-general", "C2", citizen(), POLICE, "general"),
    dishonest("二(四)3-refusing-quarantine-with-judgment-dishonest-general", "C3", citizen(), JUDGMENT, "general"),
    dishonest("二(四)4-entering-public-places-while-infected-with-judgment-serious", "C4", citizen(), JUDGMENT, "serious"),
    dishonest("二(四)5-refusing-temperature-check-with-penalty-dishonest-minor", "C5", citizen(), POLICE, "minor"),
    dishonest("二(四)6-spreading-rumours-with-penalty-dishonest-general", "C6", citizen(), POLICE, "general"),
    dishonest("二(四)7-disturbing-checkpoint-with-penalty-dishonest-general", "C7", citizen(), POLICE, "general"),
    dishonest("二(四)8-assaulting-medical-staff-with-judgment-dishonest-serious", "C8", citizen(), JUDGMENT, "serious"),
    dishonest("二(四)9-looting-relief-supplies-with-judgment-dishonest-serious", "C9", citizen(), JUDGMENT, "serious"),
    dishonest("二(四)10-other-command-order-violation-with-penalty-dishonest-general", "C10", citizen(), POLICE, "general"),
    undecided("二(四)6+二-rumours-without-penalty-evidence-required", "C6", citizen(), "evidence_required",
              department="public_security"),
    undecided("二(四)2+二-isolation-breach-without-penalty-evidence-required", "C2", citizen(), "evidence_required",
              department="public_security"),
    undecided("二(四)8+二-judgment-without-document-number-evidence-required", "C8", citizen(), "evidence_required",
              evidence=without(JUDGMENT, "document_no"), department="public_security"),
    # 三(三): exemption needs an epidemic cause AND a controllable risk; otherwise ordinary rules apply.
    undecided("三(三)-delayed-delivery-by-epidemic-work-risk-controllable-exempted", "X1", enterprise(), "exempted",
              exemption={"cause": "epidemic_participation", "risk_controllable": True}),
    undecided("三(三)-delayed-loan-by-force-majeure-risk-controllable-exempted", "X2", enterprise(), "exempted",
              exemption={"cause": "force_majeure", "risk_controllable": True}, department="finance_bureau"),
    undecided("三(三)-citizen-overdue-contract-by-force-majeure-exempted", "X3", citizen(), "exempted",
              exemption={"cause": "force_majeure", "risk_controllable": True}),
    undecided("三(三)-citizen-late-tax-by-force-majeure-exempted", "X4", citizen(), "exempted",
              exemption={"cause": "force_majeure", "risk_controllable": True}, department="tax_bureau"),
    undecided("三(三)-late-tax-without-a-cause-not-exempted", "X4", enterprise(), "not_exempted", department="tax_bureau"),
    undecided("三(三)-late-social-insurance-risk-not-controllable-not-exempted", "X5", enterprise(), "not_exempted",
              exemption={"cause": "epidemic_participation", "risk_controllable": False}, department="hr_social_security"),
    undecided("三(三)-citizen-cannot-claim-enterprise-epidemic-work-not-exempted", "X2", citizen(), "not_exempted",
              exemption={"cause": "epidemic_participation", "risk_controllable": True}, department="finance_bureau"),
    # Validity: "本文件自印发之日起实施,新冠肺炎疫情应急响应结束后终止" (emergency end is a setting here).
    undecided("validity-act-the-day-before-issue-out-of-scope", "W1", enterprise(), "out_of_scope",
              occurred_on=date(2020, 2, 20)),
    undecided("validity-act-after-the-emergency-response-ended-out-of-scope", "E7", enterprise(), "out_of_scope",
              occurred_on=EMERGENCY_ENDS + timedelta(days=1), evidence=PENALTY),
    # In scope, but its warning period (from the conduct) ended in 2020: history (was a key warning dated today).
    history("validity-act-on-the-day-of-issue-in-scope-kept-as-history", "W2", enterprise(), "key_warning",
            starts=date(2020, 2, 21), months=6, occurred_on=date(2020, 2, 21)),
    # Act, penalty and report on the last day of the response: still listed (the boundary day itself, not day - 20).
    dishonest("validity-act-on-the-last-day-of-the-response-in-scope-dishonest", "C5", citizen(),
              {**POLICE, "decided_on": EMERGENCY_ENDS.isoformat()}, "minor", occurred_on=EMERGENCY_ENDS),
    # "守信激励、失信惩戒": a subject with an active dishonest record gets no incentives (red list without measures).
    dishonest("二(三)7-gouger-listed-dishonest-first", "E7", GOUGER, PENALTY, "general"),
    red("二(一)4+二(五)-dishonest-gouger-switching-production-red-without-incentives", "G4", GOUGER, suppressed_all=True),
    dishonest("二(四)2-isolation-breaker-listed-dishonest-first", "C2", ISOLATION_BREAKER, POLICE, "general"),
    red("二(一)3+二(五)-dishonest-citizen-volunteering-red-without-incentives", "G3", ISOLATION_BREAKER, suppressed_all=True),
    dishonest("二(三)2-gathering-host-listed-dishonest-first", "E2", GATHERING_HOST, PENALTY, "general"),
    key_warning("一.2+二(五)-dishonest-enterprise-still-gets-the-warning-and-credit-record", "W2", GATHERING_HOST),
    # Listed, then ended (ENDINGS below): withdrawn (penalty revoked), repaired (三(一)), expired (period over).
    dishonest("二(三)7-gouging-listed-then-penalty-revoked-withdrawn", "E7", enterprise("撤销处罚"), PENALTY, "general"),
    dishonest("二(三)7-gouging-listed-then-repaired", "E7", enterprise("信用修复"), PENALTY, "general"),
    dishonest("二(三)7-gouging-listed-on-the-last-day-of-publicity-then-expired", "E7", enterprise("公示届满"),
              {**PENALTY, "decided_on": LAST_DAY_PENALTY_ON.isoformat()}, "general",
              occurred_on=LAST_DAY_PENALTY_ON - timedelta(days=30)),
    # A penalty whose publicity period ended before the report arrived: kept as history, never published, no measures
    # (outcome history, state history: was outcome dishonest, state expired, measures recorded — the department was
    # told "列入失信名单" of a listing that never happened).
    history("二(三)7-2020-penalty-whose-publicity-already-ended-is-history-only", "E7", enterprise(), "dishonest",
            starts=date(2020, 3, 10), months=12, evidence={**PENALTY, "decided_on": "2020-03-10"},
            occurred_on=date(2020, 3, 1), tier="general"),
    # The same rule for the other lists: a 2020 §一 violation, a 2020 donation reported now.
    history("一.2-2020-health-monitoring-breach-reported-now-history-not-key-warning", "W2", enterprise(), "key_warning",
            starts=date(2020, 3, 2), months=6, occurred_on=date(2020, 3, 2)),
    history("二(一)5-2020-donation-reported-now-history-not-red", "G5", enterprise("二〇年捐赠"), "red",
            starts=date(2020, 3, 2), months=12, occurred_on=date(2020, 3, 2), department="health_commission"),
]

# Reported after the end of the emergency response (EMERGENCY_ENDED), about conduct inside the window: nothing new
# is listed under the notice, on any list ("应急响应结束后终止"). One run of their own (the setting differs).
LATE_CASES: list[Case] = [
    history("三-late-W3-breach-inside-window-reported-after-response-ended-history", "W3", enterprise(), "key_warning",
            starts=OCCURRED, months=6),
    history("三-late-G2-front-line-work-inside-window-reported-after-response-ended-history", "G2", citizen("周一线"),
            "red", starts=OCCURRED, months=12, department="health_commission"),
    history("三-late-E7-gouging-penalised-inside-window-reported-after-response-ended-history", "E7",
            enterprise("迟报哄抬"), "dishonest", starts=PENALTY_ON, months=12, evidence=PENALTY, tier="general"),
    history("三-late-W1-breach-penalised-inside-window-reported-after-response-ended-history", "W1", enterprise(), "dishonest",
            starts=PENALTY_ON, months=12, evidence=PENALTY, tier="general", clauses=["W1", "E9"]),
    # Evidence still comes first: an unproven accusation is not "history", it is evidence_required.
    undecided("三-late-E4-without-penalty-after-response-ended-evidence-required", "E4", enterprise(), "evidence_required"),
]
# The subject of a history record may still object to it (here entered by the credit office): 201, not published.
OBJECTED_HISTORY = "三-late-E7-gouging-penalised-inside-window-reported-after-response-ended-history"


# What has ended leaves public view (停止公示、停止共享; DESIGN §7): how each of these cases ends after listing.
ENDINGS = {
    "二(三)7-gouging-listed-then-penalty-revoked-withdrawn": "withdrawn",
    "二(三)7-gouging-listed-then-repaired": "repaired",
    "二(三)7-gouging-listed-on-the-last-day-of-publicity-then-expired": "expired",
}


@dataclass
class PublicView:
    """What anyone without a credential gets about an enterprise: subject API, free report (JSON, PDF), lists."""

    subject: dict[str, Any]
    report: dict[str, Any]
    list_hits: list[dict[str, Any]]
    pdf_summary: dict[str, Any] | None = None


@dataclass
class Observed:
    classification: dict[str, Any] | None
    record: dict[str, Any] | None
    classified_events: list[dict[str, Any]]
    listed_events: list[dict[str, Any]]
    subject_api: dict[str, Any]
    public_hits: list[dict[str, Any]]
    audit: list[dict[str, Any]]
    public: PublicView | None = None  # enterprises only: a citizen's file needs a credential
    ended_record: dict[str, Any] | None = None  # ENDINGS: the record after it ended, as stored and as admin sees it
    ended_admin_api: dict[str, Any] | None = None
    ended_public: PublicView | None = None
    objection: dict[str, Any] | None = None  # OBJECTED_HISTORY: the answer, the record after it, the public view


async def _public_view(client: httpx.AsyncClient, case: Case, *, pdf: bool = False) -> PublicView:
    url = f"/v1/subjects/{case.subject.type}/{case.subject.id}"
    hits = []
    for list_key in ("key_warning", "red", "dishonest"):
        hits += (await client.get(f"/v1/public/lists/{list_key}", params={"q": case.subject.id, "limit": 100})).json()["items"]
    summary = None
    if pdf:
        response = await client.get(f"{url}/report.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
        summary = (await client.get(f"/v1/public/credit-reports/{response.headers['X-Verification-Id']}")).json()["summary"]
    return PublicView(subject=(await client.get(url)).json(), report=(await client.get(f"{url}/report")).json(),
                      list_hits=hits, pdf_summary=summary)


async def _end(runtime: Any, kit: Any, case: Case, how: str, report_id: str, record_id: str) -> None:
    """End a listed record the way it ends in production: ingest's withdrawal, repair's decision, the expiry pass."""
    from jointcredit_common.events.envelope import CloudEvent
    from jointcredit_common.events.schemas import ReportWithdrawn
    from rating_service.records.service import expire_due_records

    key = f"enterprise:{case.subject.id}"
    if how == "withdrawn":
        withdrawn = ReportWithdrawn(report_id=report_id, department=case.department, subject_key=key,
                                    reason="行政处罚决定经行政复议被撤销", withdrawn_at=datetime.now(UTC))
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [CloudEvent(
            type=ReportWithdrawn.type_name(), source="/jointcredit/ingest", subject=key, key=key, data=withdrawn.to_data())])
    elif how == "repaired":
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("repairs"),
                          [kit.repair_event([record_id], key=key)])
    else:  # its last day of publicity was today: tomorrow's pass ends it (and only it: no other case ends today)
        assert await expire_due_records(runtime.sessionmaker, outbox=runtime.outbox, today=TODAY + timedelta(days=1)) == 1
    await kit.wait_record(runtime, report_id, state=how)


async def _run_all(settings_values: dict[str, Any], kit: Any, admin_token: str, cases: list[Case]) -> dict[str, Observed]:
    from rating_service.main import create_app
    from rating_service.records.models import classifications, credit_records
    from rating_service.settings import RatingSettings

    from jointcredit_common.tables import audit_log

    settings = RatingSettings(**settings_values)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rating") as client:
            events, report_ids = [], {}
            for case in cases:
                event = kit.report_event(
                    kit.Subject(case.subject.type, case.subject.id, case.subject.name), case.behavior,
                    occurred_on=case.occurred_on, evidence=case.evidence, exemption=case.exemption, department=case.department,
                )
                events.append(event)
                report_ids[case.id] = event.data["report_id"]
            await kit.publish(settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
            wanted = [uuid.UUID(r) for r in report_ids.values()]

            async def all_classified() -> bool:
                async with runtime.sessionmaker() as session:
                    done = await session.scalar(
                        select(func.count()).select_from(classifications).where(classifications.c.report_id.in_(wanted)))
                return done == len(wanted)

            await kit.eventually(all_classified, timeout=120)
            ids = set(report_ids.values())
            bus = await read_topic(
                settings.kafka_bootstrap_servers, runtime.topic("ratings"), timeout=60, settle=2.0,
                until=lambda evs: ids <= {e.data.get("report_id") for e in evs if e.type.endswith("report.classified.v1")},
            )
            observed: dict[str, Observed] = {}
            for case in cases:
                report_id = report_ids[case.id]
                async with runtime.sessionmaker() as session:
                    c_row = (await session.execute(select(classifications).where(
                        classifications.c.report_id == uuid.UUID(report_id)))).mappings().first()
                    r_row = (await session.execute(select(credit_records).where(
                        credit_records.c.report_id == uuid.UUID(report_id)))).mappings().first()
                    audit = (await session.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.detail).where(
                        audit_log.c.target_id == report_id))).mappings().all()
                subject_api = (await client.get(f"/v1/subjects/{case.subject.type}/{case.subject.id}",
                                                headers=kit.auth(admin_token))).json()
                public = await client.get(f"/v1/public/lists/{case.list or 'dishonest'}", params={"q": case.subject.id, "limit": 100})
                observed[case.id] = Observed(
                    classification=dict(c_row) if c_row else None,
                    record=dict(r_row) if r_row else None,
                    classified_events=[e.data for e in bus if e.type.endswith("report.classified.v1") and e.data["report_id"] == report_id],
                    listed_events=[e.data | {"_key": e.key} for e in bus
                                   if e.type.endswith("subject.listed.v1") and e.data["report_id"] == report_id],
                    subject_api=subject_api,
                    public_hits=[i for i in public.json()["items"] if r_row and i["record_id"] == str(r_row["id"])],
                    audit=[dict(a) for a in audit],
                    public=await _public_view(client, case) if case.subject.type == "enterprise" else None,
                )
            # Then the ENDINGS cases end, and the public is looked at again (PDF report included).
            for case in cases:
                if case.id == OBJECTED_HISTORY:
                    seen = observed[case.id]
                    filed = await client.post(f"/v1/records/{seen.record['id']}/objections", headers=kit.auth(admin_token),
                                              json={"grounds": "该处罚决定已被撤销"})
                    seen.objection = {"status": filed.status_code, **filed.json(),
                                      "record": await kit.wait_record(runtime, report_ids[case.id]),
                                      "public": await _public_view(client, case)}
                if case.id not in ENDINGS:
                    continue
                seen = observed[case.id]
                assert seen.record is not None and seen.record["state"] == "active"
                await _end(runtime, kit, case, ENDINGS[case.id], report_ids[case.id], str(seen.record["id"]))
                seen.ended_record = await kit.wait_record(runtime, report_ids[case.id])
                seen.ended_admin_api = (await client.get(f"/v1/subjects/enterprise/{case.subject.id}",
                                                         headers=kit.auth(admin_token))).json()
                seen.ended_public = await _public_view(client, case, pdf=True)
            return observed


@pytest.fixture(scope="module")
def notice_run(jc_infra, tmp_path_factory, kit) -> dict[str, Observed]:
    """One real rating app, every case's report published to the broker, everything observed."""
    workdir = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    credentials = workdir / "credentials.json"
    creds = ensure_dev_credentials(credentials, [a.code for a in load_catalog().agencies])
    admin_token = next(c["token"] for c in creds if c["role"] == "admin")
    name = jc_infra.new_database("rating")
    prefix = f"t{uuid.uuid4().hex[:10]}.jointcredit"
    values = {
        "database_url": database_url(jc_infra.postgres_admin_url, name), "environment": "test",
        "kafka_bootstrap_servers": jc_infra.kafka_bootstrap, "topic_prefix": prefix, "consumer_group_prefix": prefix,
        "bootstrap_credentials_file": credentials, "outbox_poll_seconds": 0.5, "log_json": True,
        "consumer_session_timeout_ms": 2000, "consumer_heartbeat_interval_ms": 400,  # as the plugin's env: a 1 s join
        "emergency_ends_on": EMERGENCY_ENDS,
        # 70 anonymous public-list queries in a row from one client: over the anonymous limit (docs/limits.md)
        "anonymous_rate_limit_per_second": 0,
    }
    late_name = jc_infra.new_database("rating")
    late_prefix = f"t{uuid.uuid4().hex[:10]}.jointcredit"
    late = values | {"database_url": database_url(jc_infra.postgres_admin_url, late_name), "topic_prefix": late_prefix,
                     "consumer_group_prefix": late_prefix, "emergency_ends_on": EMERGENCY_ENDED}
    try:
        return asyncio.run(_run_all(values, kit, admin_token, CASES)) | asyncio.run(
            _run_all(late, kit, admin_token, LATE_CASES))
    finally:
        with contextlib.suppress(Exception):
            drop_databases(jc_infra.postgres_admin_url, [name, late_name])


def test_the_suite_covers_every_numbered_item_of_the_notice_with_sixty_cases_or_more() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    catalog = load_catalog()
    behaviours = {b.code for b in catalog.behaviors}
    assert behaviours <= {c.behavior for c in CASES}, behaviours - {c.behavior for c in CASES}
    outcomes = Counter(c.outcome for c in CASES)
    assert set(outcomes) == {"key_warning", "red", "dishonest", "history", "exempted", "not_exempted", "evidence_required",
                             "out_of_scope"}
    # One rule for late reports: each list has a case too late to list, in each run.
    for cases in (CASES, LATE_CASES):
        assert {c.list for c in cases if c.outcome == "history"} == {"key_warning", "red", "dishonest"}


@pytest.mark.parametrize("case", CASES + LATE_CASES, ids=[c.id for c in CASES + LATE_CASES])
def test_notice_case(notice_run: dict[str, Observed], case: Case) -> None:
    seen = notice_run[case.id]
    catalog = load_catalog()

    # Stored: exactly one classification, with the outcome, clauses and a Chinese reason citing them.
    assert seen.classification is not None, "the report was never classified"
    assert seen.classification["outcome"] == case.outcome, seen.classification["reason_zh"]
    assert seen.classification["clause_codes"] == case.clauses
    reason = seen.classification["reason_zh"]
    assert "大信办字〔2020〕4号" in reason
    assert catalog.behavior(case.clauses[0]).clause in reason

    # Emitted: exactly one report.classified.v1, agreeing with what was stored.
    assert len(seen.classified_events) == 1, seen.classified_events
    (classified,) = seen.classified_events
    assert (classified["outcome"], classified["clause_codes"], classified["list"]) == (case.outcome, case.clauses, case.list)
    assert classified["reason_zh"] == reason

    # Audited: who decided what, on which clauses (DESIGN §4).
    assert [(a["actor"], a["action"], a["detail"]["outcome"], a["detail"]["clause_codes"]) for a in seen.audit] == [
        ("rating.classifier", "report.classify", case.outcome, case.clauses)]

    # Served: the subject API shows the decision (citizens only masked).
    api = seen.subject_api
    assert any(d["report_id"] == classified["report_id"] and d["outcome"] == case.outcome for d in api["classifications"])
    if case.subject.type == "citizen":
        assert case.subject.id not in str(api) and case.subject.name not in str(api)
        assert api["subject"]["id"].count("*") == 10 and "*" in api["subject"]["name"]

    if seen.public is not None:  # an enterprise: what anyone sees without a credential
        _assert_public_shows(seen.public, seen.record, classified["report_id"],
                             shown=seen.record is None or seen.record["state"] in ("active", "disputed"))

    if case.list is None:
        assert seen.record is None, "an unlisted outcome must not create a credit record"
        assert classified["record_id"] is None and seen.listed_events == []
        return

    record = seen.record
    assert record is not None and classified["record_id"] == str(record["id"])
    assert (record["list"], record["tier"], record["state"]) == (case.list, case.tier, case.state)
    assert (record["publicity_starts_on"], record["publicity_ends_on"]) == (case.starts, case.ends)
    assert set(record["measures"]) == case.measures
    assert set(record["suppressed_measures"]) == case.suppressed
    assert record["occurred_on"] == case.occurred_on
    if case.list == "dishonest":
        assert record["evidence"]["document_no"] == case.evidence["document_no"]
    if case.outcome == "history":
        # The department is told the truth: kept as history, not listed — not "列入…名单".
        assert "仅作历史记录保存，未列入" in reason and "列入" not in reason.replace("未列入", ""), reason
        assert record["notice"] is None and record["ended_at"] is not None

    if not case.published:
        assert seen.listed_events == [] and seen.public_hits == []
        return
    # subject.listed.v1 once, with the pre-listing notice (basis, measures, objection route, exit conditions).
    assert len(seen.listed_events) == 1, seen.listed_events
    (listed,) = seen.listed_events
    assert listed["_key"] == listed["subject"]["key"] == record["subject_key"]  # keyed by subject: in order per subject
    if case.subject.type == "enterprise":
        assert record["subject_key"] == f"enterprise:{case.subject.id}"
    else:  # citizens travel only as keyed hash, masked text and ciphertext
        assert case.subject.id not in str(listed) and case.subject.name not in str(listed)
    assert (listed["list"], listed["tier"], listed["clause_codes"]) == (case.list, case.tier, case.clauses)
    assert set(listed["measures"]) == case.measures and set(listed["suppressed_measures"]) == case.suppressed
    assert (listed["publicity_starts_on"], listed["publicity_ends_on"]) == (case.starts.isoformat(), case.ends.isoformat())
    notice = listed["notice"]
    assert notice["basis_zh"] and notice["exit_conditions_zh"] and "异议" in notice["objection_zh"]
    assert {m["code"] for m in notice["measures"]} == case.measures
    # Published: on the public list, citizens masked.
    assert len(seen.public_hits) == 1
    (hit,) = seen.public_hits
    assert hit["state"] == "active" and hit["clause_codes"] == case.clauses
    if case.subject.type == "citizen":
        assert hit["subject"]["id"] != case.subject.id and hit["subject"]["id"].startswith(case.subject.id[:4])
        assert hit["subject"]["name"] != case.subject.name and "*" in hit["subject"]["name"]
    else:
        assert hit["subject"] == {"type": "enterprise", "id": case.subject.id, "name": case.subject.name}


def _assert_public_shows(public: PublicView, record: dict[str, Any] | None, report_id: str, *, shown: bool) -> None:
    """A live record (or a decision without one) is public; of anything ended the public sees nothing at all."""
    record_id = str(record["id"]) if record else None
    public_records = [r["id"] for r in public.subject["records"]]
    public_reports = [d["report_id"] for d in public.subject["classifications"]]
    if shown:
        assert report_id in public_reports
        if record_id:
            assert record_id in public_records and record_id in public.report["record_ids"]
        return
    assert record_id not in public_records and report_id not in public_reports, public.subject
    assert record_id not in public.report["record_ids"] and record_id not in str(public.subject)
    assert [h for h in public.list_hits if h["record_id"] == record_id] == []
    if record and record["evidence"]:  # nor the penalty it rested on
        assert record["evidence"]["document_no"] not in str(public.subject) + str(public.report)


@pytest.mark.parametrize("case_id", list(ENDINGS), ids=list(ENDINGS))
def test_what_has_ended_leaves_public_view_and_stays_in_the_credit_office_file(
    notice_run: dict[str, Observed], case_id: str
) -> None:
    seen = notice_run[case_id]
    assert seen.public is not None and seen.ended_public is not None and seen.ended_record is not None
    # Before it ended: public on every channel.
    record_id = str(seen.record["id"])
    assert record_id in seen.public.report["record_ids"] and [h["record_id"] for h in seen.public.list_hits] == [record_id]
    # After: nothing of it in the subject API, the free report (JSON and PDF) or the lists.
    assert seen.ended_record["state"] == ENDINGS[case_id]
    public = seen.ended_public
    _assert_public_shows(public, seen.ended_record, str(seen.ended_record["report_id"]), shown=False)
    assert public.subject["records"] == [] and public.subject["lists"] == [] and public.subject["classifications"] == []
    assert public.report["records"] == [] and public.report["lists"] == [] and public.report["measures"] == []
    assert public.report["repairs"] == []
    assert public.pdf_summary == {"subject": public.pdf_summary["subject"], "records": 0, "lists": [], "measures": []}
    # 依规保存: the credit office still reads it, with how and why it ended.
    (kept,) = [r for r in seen.ended_admin_api["records"] if r["id"] == record_id]
    assert kept["state"] == ENDINGS[case_id] and kept["end_reason"] and kept["evidence"]["document_no"]
    assert seen.ended_admin_api["lists"] == []


def test_a_history_record_can_still_be_objected_to_without_being_published(notice_run: dict[str, Observed]) -> None:
    seen = notice_run[OBJECTED_HISTORY]
    objection = seen.objection
    assert objection is not None and objection["status"] == 201, objection
    assert objection["state"] == "pending" and objection["record_state"] == "history"
    # Not marked disputed (that would publish it): still history, still nothing public.
    assert objection["record"]["state"] == "history"
    _assert_public_shows(objection["public"], objection["record"], str(objection["record"]["report_id"]), shown=False)
