"""make bench-scale: rating's read paths at 10k / 100k / 1M subjects (issue 7, part 2).

    python -m bench.scale [--steps 10000,100000,1000000] [--requests 1000] [--concurrency 8]
                          [--keep DIR | --reuse DIR] [--json var/bench-scale.json] [--doc docs/benchmarks.md]

One run on this machine: embedded PostgreSQL (fsync on; its own port and data directory under a temp
directory), the tansu broker and the rating service as a real uvicorn process, so rating's own migrations
create the schema. Synthetic data is generated the way rating stores it and bulk-loaded with asyncpg COPY in
steps, so the API finds it exactly as it finds real data:

- subjects keyed with ingest's ``subject_key`` and the configured keyed hash (HMAC) for citizens, whose ID
  number and name are AES-GCM encrypted and masked with ``jointcredit_common.pii`` (never stored in clear);
- every credit record and classification is the output of rating's own classifier (``classify``) on a
  synthetic report: all catalog behaviours, both subject types, evidence or not, exemptions; reports
  classified over the last three years, so records have ended by expiry, repair, withdrawal or objection
  as they would have (states, ``ended_at``, objections pending / rejected / upheld), and red records have
  their incentives withheld while the subject has a live dishonest record.

After each step (``VACUUM ANALYZE``) a separate HTTP client (httpx, this process; the service is its own
process) measures, after a warm-up, N requests sequentially and N at a small concurrency for each call:
subject lookup, a public list page at a random depth (keyset cursors of random listed records) and the JSON
credit report (the three targets), plus the variants a client can ask for (first page, type filter, search
by ID or by name fragment, the admin objections page, the PDF report). At the last step it also records
``EXPLAIN (ANALYZE, BUFFERS)`` of the service's main queries. Results: JSON (``--json``) and a section of
``docs/benchmarks.md`` between the ``bench-scale`` markers (refreshed on every run).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.run import machine, percentile
from jointcredit_common.catalog import Catalog, load_catalog
from jointcredit_common.db import asyncpg_dsn
from jointcredit_common.devstack import EmbeddedKafka, EmbeddedPostgres, ServiceProcess, create_databases, database_url, free_port
from jointcredit_common.devstack.credentials import demo_principals, ensure_dev_credentials
from jointcredit_common.pii import PiiCipher, PiiHasher, mask_name, mask_resident_id
from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, DEV_PII_KEY_ID
from jointcredit_common.subjects import SUBJECT_ID_CONTEXT, SUBJECT_NAME_CONTEXT, subject_key
from jointcredit_common.testing.factories import resident_id, uscc

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = timezone(timedelta(hours=8))
CHUNK = 1000  # subjects per generated chunk (one COPY transaction); steps are multiples of it
HISTORY_DAYS = 3 * 365  # reports were classified over the last three years
TARGETS_MS = {"subject": 50.0, "list": 100.0, "report": 500.0}
MARK_START, MARK_END = "<!-- bench-scale:start -->", "<!-- bench-scale:end -->"

# -- synthetic subjects -------------------------------------------------------------------------------------

REGIONS = ("210202", "210203", "210204", "210211", "210212", "210213", "210281", "210283")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂鹏辉玲华红建国志文海波斌宇浩凯"
FIRM_WORDS = ("鑫源", "华信", "恒通", "金海", "海天", "星辰", "瑞丰", "盛达", "宏远", "东方", "天成", "德润", "嘉禾", "中和",
              "博远", "汇通", "长兴", "新华", "永泰", "北方", "港湾", "海韵", "金石", "顺发", "联创", "安康", "明珠", "远洋")
FIRM_KINDS = ("商贸", "药房", "机械", "物流", "餐饮", "建筑工程", "医疗器械", "食品", "水产", "科技", "服装", "超市")


def subject_identity(n: int) -> tuple[str, str, str]:
    """Subject number ``n``: (type, full identifier, name) — a pure function of ``n``, so the measuring client
    can ask for any loaded subject. 40 % citizens, 60 % enterprises; all identifiers valid and distinct."""
    pick = random.Random(n)
    if n % 5 in (1, 3):
        born = date(1950, 1, 1) + timedelta(days=(n // 1000) * 17 % 20_000)
        number = resident_id(n % 1000, born=born, region=REGIONS[n % len(REGIONS)])
        name = pick.choice(SURNAMES) + "".join(pick.choice(GIVEN) for _ in range(pick.choice((1, 2, 2))))
        return "citizen", number, name
    name = f"大连{pick.choice(FIRM_WORDS)}{pick.choice(FIRM_WORDS)}{pick.choice(FIRM_KINDS)}有限公司"
    return "enterprise", uscc(n, region=REGIONS[n % len(REGIONS)]), name


# -- synthetic reports → what rating stores ----------------------------------------------------------------

AUTHORITIES = {  # department → (authority, penalty document prefix)
    "market_regulation": ("大连市市场监督管理局", "大市监罚"),
    "health_commission": ("大连市卫生健康委员会", "大卫健罚"),
    "public_security": ("大连市公安局", "大公行罚决字"),
    "hr_social_security": ("大连市人力资源和社会保障局", "大人社监罚"),
}
COURT = ("intermediate_court", "大连市中级人民法院")
OUTCOME_MIX = {"enterprise": {"key_warning": 36, "red": 22, "dishonest": 34, "exemption": 8},
               "citizen": {"red": 28, "dishonest": 64, "exemption": 8}}
WITHDRAWN_ZH = "行政处罚决定经行政复议被撤销"
GROUNDS_ZH = ("当事人称处罚决定认定事实有误，已申请行政复议", "企业称售价上涨系进货成本上涨所致", "当事人称已按要求整改完毕")

SUBJECT_COLUMNS = ("key", "type", "display_id", "display_name", "id_encrypted", "name_encrypted", "created_at")
RECORD_COLUMNS = ("id", "report_id", "subject_key", "department", "list", "behavior", "clause_codes", "tier", "state",
                  "publicity_starts_on", "publicity_ends_on", "evidence", "measures", "suppressed_measures", "reason_zh",
                  "notice", "catalog", "created_at", "ended_at", "end_reason", "occurred_on")
CLASSIFICATION_COLUMNS = ("report_id", "subject_key", "department", "behavior", "outcome", "clause_codes", "reason_zh",
                          "decision", "record_id", "catalog", "decided_at")
OBJECTION_COLUMNS = ("id", "record_id", "subject_key", "filed_by_role", "filed_by", "grounds", "materials", "state",
                     "filed_at", "due_on", "decided_at", "decided_by", "decision_reason")
TABLES = {"subjects": SUBJECT_COLUMNS, "credit_records": RECORD_COLUMNS, "classifications": CLASSIFICATION_COLUMNS,
          "objections": OBJECTION_COLUMNS}


@dataclass(frozen=True)
class Keys:
    """The PII keys the service under test runs with (the subjects must hash and decrypt under them)."""

    hash_key: str = DEV_PII_HASH_KEY
    pii_keys: tuple[tuple[str, str], ...] = ((DEV_PII_KEY_ID, DEV_PII_KEY),)
    active: str = DEV_PII_KEY_ID


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


_COPY_TEXT: dict[type, Callable[[Any], str]] = {
    type(None): lambda _: "\\N",
    str: _escape,
    bool: lambda v: "true" if v else "false",
    int: str,
    uuid.UUID: str,
    date: date.isoformat,
    datetime: datetime.isoformat,
    dict: lambda v: _escape(json.dumps(v, ensure_ascii=False, separators=(",", ":"))),
    list: lambda v: _escape(json.dumps(v, ensure_ascii=False, separators=(",", ":"))),
}


def _copy_field(value: Any) -> str:
    """One value in COPY's text format (a ``_Raw`` value is already in it)."""
    convert = _COPY_TEXT.get(type(value))
    return value if convert is None and isinstance(value, _Raw) else (convert or _escape)(value)


def _copy_row(out: io.StringIO, values: tuple[Any, ...]) -> None:
    out.write("\t".join(_copy_field(v) for v in values))
    out.write("\n")


@cache
def _departments(catalog_ref: str) -> dict[str, list[str]]:
    """Behaviour code → the demo departments whose scopes include it (the court reports judgments only)."""
    catalog = load_catalog()
    scopes = {p["principal"]: p["scopes"] for p in demo_principals([]) if p["role"] == "department"}
    return {b.code: [d for d, s in scopes.items() if b.code in s and d in AUTHORITIES] or ["market_regulation"]
            for b in catalog.behaviors}


def _moment(day: date, rng: random.Random, now: datetime) -> datetime:
    """A random time on ``day`` (Asia/Shanghai), never later than ``now``."""
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return min(start + timedelta(seconds=rng.randrange(8 * 3600, 18 * 3600)), now - timedelta(seconds=1)).astimezone(UTC)


@dataclass
class _Report:
    behavior: str
    department: str
    occurred_on: date
    as_of: date
    evidence: dict[str, Any]
    exemption: dict[str, Any] | None


def _synthetic_reports(subject_type: str, rng: random.Random, catalog: Catalog, today: date) -> list[_Report]:
    by_outcome: dict[str, list[str]] = {}
    for b in catalog.behaviors:
        if subject_type in b.subject_types:
            by_outcome.setdefault(b.outcome, []).append(b.code)
    mix = OUTCOME_MIX[subject_type]
    departments = _departments(catalog.reference)
    reports = []
    for _ in range(min(80, 1 + int(rng.expovariate(1 / 5.1)))):  # ~5.6 reports → ~5 credit records a subject
        outcome = rng.choices(list(mix), weights=list(mix.values()))[0]
        code = rng.choice(by_outcome[outcome])
        as_of = today - timedelta(days=rng.randrange(HISTORY_DAYS))
        department = rng.choice(departments[code])
        evidence: dict[str, Any] = {"kind": "none"}
        exemption = None
        occurred_on = as_of - timedelta(days=rng.randrange(0, 20))
        if (outcome == "dishonest" and rng.random() < 0.94) or (outcome == "key_warning" and rng.random() < 0.12):
            decided_on = as_of - timedelta(days=rng.randrange(0, 25))
            occurred_on = decided_on - timedelta(days=rng.randrange(3, 90))
            if rng.random() < 0.2:
                department, authority = COURT
                document_no = f"（{decided_on.year}）辽02{'刑' if subject_type == 'citizen' else '民'}初{rng.randrange(1, 9000)}号"
                kind = "judicial_judgment"
            else:
                authority, prefix = AUTHORITIES[department]
                document_no = f"{prefix}〔{decided_on.year}〕{rng.randrange(1, 3000)}号"
                kind = "administrative_penalty"
            evidence = {"kind": kind, "document_no": document_no, "authority": authority, "decided_on": decided_on}
        if outcome == "exemption":
            causes = ["force_majeure"] + (["epidemic_participation"] if subject_type == "enterprise" else [])
            exemption = {"cause": rng.choice(causes), "risk_controllable": rng.random() < 0.7}
        reports.append(_Report(code, department, occurred_on, as_of, evidence, exemption))
    return sorted(reports, key=lambda r: r.as_of)


# The classifier's output differs between reports of one kind only in the dates and the document number, so it
# is computed once per kind on placeholder values and filled in per report (about 20x faster than calling it
# for each of 5.5 million reports). ``VERIFY_SHARE`` of the reports are also classified for real and must match.
PLACEHOLDER_DAY = date(2031, 11, 29)
PLACEHOLDER_DOC = "JCPLACEHOLDERDOC"
VERIFY_SHARE = 0.002


@dataclass(frozen=True)
class _Template:
    """One decision of the classifier, on placeholder values, as COPY text fields."""

    outcome: str
    list: str | None
    clause_codes: str
    tier: str | None
    reason: str
    decision: str
    notice: str | None
    evidence: str | None
    measures: tuple[str, ...]
    suppressed: tuple[str, ...]
    months: int
    catalog: str


def _facts(subject_type: str, report: _Report, *, as_of: date, decided_on: date | None, document_no: str | None,
           occurred_on: date | None = None):  # noqa: ANN202
    from rating_service.classification import EvidenceFacts, ExemptionFacts, ReportFacts

    evidence = dict(report.evidence)
    if evidence["kind"] != "none":
        evidence |= {"decided_on": decided_on, "document_no": document_no}
    occurred_on = occurred_on or report.occurred_on
    return ReportFacts(subject_type=subject_type, behavior=report.behavior, occurred_on=occurred_on if decided_on is None
                       else min(occurred_on, decided_on), evidence=EvidenceFacts(**evidence),
                       exemption=ExemptionFacts(**report.exemption) if report.exemption else None)


def _as_template(decision: Any) -> _Template:
    starts, ends = decision.publicity_starts_on, decision.publicity_ends_on
    return _Template(
        outcome=decision.outcome, list=decision.list, clause_codes=_copy_field(decision.clause_codes), tier=decision.tier,
        reason=_copy_field(decision.reason_zh), decision=_copy_field(decision.model_dump(mode="json")),
        notice=_copy_field(decision.notice.model_dump(mode="json")) if decision.notice else None,
        evidence=_copy_field(decision.evidence_used.model_dump(mode="json")) if decision.evidence_used else None,
        measures=tuple(decision.measures), suppressed=tuple(decision.suppressed_measures),
        months=(ends.year - starts.year) * 12 + ends.month - starts.month if starts and ends else 0, catalog=decision.catalog,
    )


class _Decisions:
    """The classifier's decision for a synthetic report, via a template of its kind (see PLACEHOLDER_DAY)."""

    def __init__(self, catalog: Catalog) -> None:
        from rating_service.classification import classify
        from rating_service.classification.classifier import _add_months, _zh_date

        self.catalog, self.classify, self.add_months, self.zh_date = catalog, classify, _add_months, _zh_date
        self.templates: dict[tuple, _Template] = {}
        self.verified = 0

    def decide(self, subject_type: str, report: _Report, suppress: bool, rng: random.Random) -> tuple[_Template, dict[str, Any]]:
        """(template, filled fields): starts/ends dates and the texts with the report's own dates and document."""
        evidence = report.evidence
        key = (subject_type, report.behavior, evidence["kind"], evidence.get("authority"),
               tuple(sorted((report.exemption or {}).items())), suppress)
        template = self.templates.get(key)
        if template is None:
            # Without evidence a listing's period runs from the conduct (key warning, red): the placeholder day.
            template = self.templates[key] = _as_template(self._classify(
                subject_type, report, suppress, as_of=PLACEHOLDER_DAY,
                decided_on=PLACEHOLDER_DAY if evidence["kind"] != "none" else None,
                document_no=PLACEHOLDER_DOC if evidence["kind"] != "none" else None,
                occurred_on=PLACEHOLDER_DAY if evidence["kind"] == "none" else None))
        starts = evidence.get("decided_on") or report.occurred_on
        filled = self._fill(template, starts, evidence.get("document_no"))
        if rng.random() < VERIFY_SHARE:
            real = _as_template(self._classify(subject_type, report, suppress, as_of=report.as_of,
                                               decided_on=evidence.get("decided_on"), document_no=evidence.get("document_no")))
            expected = {"reason": real.reason, "decision": real.decision, "notice": real.notice, "evidence": real.evidence}
            if {k: filled[k] for k in expected} != expected or real.measures != template.measures:
                raise AssertionError(f"template of {key} does not reproduce the classifier's decision")
            self.verified += 1
        return template, filled

    def _classify(self, subject_type: str, report: _Report, suppress: bool, *, as_of: date, decided_on: date | None,
                  document_no: str | None, occurred_on: date | None = None) -> Any:
        facts = _facts(subject_type, report, as_of=as_of, decided_on=decided_on, document_no=document_no,
                       occurred_on=occurred_on)
        return self.classify(facts, self.catalog, as_of=as_of, emergency_ends_on=None,
                             subject_has_active_dishonest_record=suppress)

    def _fill(self, template: _Template, starts: date, document_no: str | None) -> dict[str, Any]:
        if not template.list:
            return {"starts": None, "ends": None, "reason": template.reason, "decision": template.decision,
                    "notice": template.notice, "evidence": template.evidence}
        ends = self.add_months(starts, template.months)
        values = {"starts_iso": starts.isoformat(), "ends_iso": ends.isoformat(), "starts_zh": self.zh_date(starts),
                  "ends_zh": self.zh_date(ends), "doc": _copy_field(document_no or "")}
        return {"starts": starts, "ends": ends} | {
            name: None if parts is None else "".join(values.get(p, p) if i % 2 else p for i, p in enumerate(parts))
            for name, parts in self._parts(template).items()}

    @cache  # noqa: B019 - one instance per process, templates are few
    def _parts(self, template: _Template) -> dict[str, list[str] | None]:
        """Each text of the template split at its placeholders: odd items name the value that goes there."""
        ends = self.add_months(PLACEHOLDER_DAY, template.months)
        names = {PLACEHOLDER_DAY.isoformat(): "starts_iso", ends.isoformat(): "ends_iso",
                 self.zh_date(PLACEHOLDER_DAY): "starts_zh", self.zh_date(ends): "ends_zh", PLACEHOLDER_DOC: "doc"}
        pattern = re.compile("|".join(map(re.escape, names)))

        def split(text: str | None) -> list[str] | None:
            if text is None:
                return None
            parts = pattern.split(text)
            found = [names[m] for m in pattern.findall(text)]
            return [x for pair in zip(parts, [*found, ""], strict=True) for x in pair][:-1]

        return {"reason": split(template.reason), "decision": split(template.decision), "notice": split(template.notice),
                "evidence": split(template.evidence)}


class _Raw(str):
    """A field already in COPY text form."""


def generate_chunk(start: int, stop: int, seed: int, today: date, now: datetime, keys: Keys) -> dict[str, Any]:
    """Subjects ``start`` … ``stop - 1`` with their classifications, credit records and objections, as COPY text.

    Runs in a worker process. Deterministic for (start, seed, today): a resumed load adds the same data."""
    from jointcredit_common.calendar import WorkingDayCalendar

    catalog = load_catalog()
    endings = catalog.templates_zh.records  # the end reasons rating itself would write
    decisions = _decisions(catalog)
    hasher = PiiHasher.from_settings(keys.hash_key)
    cipher = PiiCipher.from_settings(dict(keys.pii_keys), keys.active)
    rng = random.Random(f"{seed}:{start}")
    out = {table: io.StringIO() for table in TABLES}
    counts = dict.fromkeys(("subjects", "reports", "records", "live", "objections"), 0)
    due_days = catalog.due_process.objection_decision_working_days
    calendar = WorkingDayCalendar()
    pausable = {m.code for m in catalog.measures if m.suppressed_while_dishonest}

    for n in range(start, stop):
        subject_type, number, name = subject_identity(n)
        key = subject_key(subject_type, number, hasher)
        citizen = subject_type == "citizen"
        records: list[dict[str, Any]] = []
        dishonest_until: list[tuple[datetime, datetime]] = []  # (listed at, ended at) of dishonest records
        first_seen = None
        for report in _synthetic_reports(subject_type, rng, catalog, today):
            decided_at = _moment(report.as_of, rng, now)
            first_seen = first_seen or decided_at
            suppress = any(s <= decided_at < e for s, e in dishonest_until)
            template, filled = decisions.decide(subject_type, report, suppress, rng)
            report_id, record_id = uuid.uuid4(), uuid.uuid4() if template.list else None
            _copy_row(out["classifications"], (
                report_id, key, report.department, report.behavior, template.outcome, _Raw(template.clause_codes),
                _Raw(filled["reason"]), _Raw(filled["decision"]), record_id, template.catalog, decided_at))
            counts["reports"] += 1
            if not template.list:
                continue
            ends_on = filled["ends"]
            record = {
                "id": record_id, "report_id": report_id, "list": template.list, "department": report.department,
                "behavior": report.behavior, "template": template, "filled": filled, "created_at": decided_at,
                "state": "active", "ended_at": None, "end_reason": None, "occurred_on": report.occurred_on,
                "measures": list(template.measures), "suppressed": list(template.suppressed),
            }
            # The expiry pass ends it in the first minutes of the day after its last day of publicity.
            expires_at = datetime(ends_on.year, ends_on.month, ends_on.day, 0, 1, tzinfo=SHANGHAI).astimezone(UTC) + timedelta(1)
            roll = rng.random()
            if ends_on < report.as_of:
                record |= {"state": "history", "ended_at": decided_at, "end_reason": endings.expired_before_listing}
            elif template.list == "dishonest" and roll < 0.05:
                ended = decided_at + timedelta(days=rng.randrange(30, 240))
                if ended < min(expires_at, now):
                    record |= {"state": "repaired", "ended_at": ended, "end_reason": endings.repaired}
            elif roll < 0.065:
                ended = decided_at + timedelta(days=rng.randrange(8, 120))
                if ended < min(expires_at, now):
                    upheld = rng.random() < 0.5
                    reason = "经核查，处罚决定已被撤销" if upheld else WITHDRAWN_ZH
                    record |= {"state": "withdrawn", "ended_at": ended, "end_reason": f"异议成立：{reason}" if upheld else reason}
                    if upheld:
                        record["objection"] = ("upheld", ended - timedelta(days=6), ended, reason)
            elif roll < 0.08 and expires_at > now:
                filed = now - timedelta(days=rng.randrange(0, 14), seconds=rng.randrange(86400))
                record |= {"state": "disputed", "objection": ("pending", filed, None, None)}
            elif roll < 0.1:
                filed = decided_at + timedelta(days=rng.randrange(1, 20))
                if filed + timedelta(days=8) < now:
                    record["objection"] = ("rejected", filed, filed + timedelta(days=6), "处罚决定事实清楚、证据确凿")
            if record["state"] in ("active", "disputed") and expires_at <= now:
                record |= {"state": "expired", "ended_at": expires_at, "end_reason": endings.expired}
            if template.list == "dishonest":
                dishonest_until.append((decided_at, record["ended_at"] or expires_at))
            records.append(record)

        # Today's incentives: withheld on live red records while a dishonest record is live, resumed otherwise.
        dishonest_now = any(r["list"] == "dishonest" and r["state"] in ("active", "disputed") for r in records)
        for r in records:
            if r["list"] == "red" and r["state"] in ("active", "disputed"):
                every = r["measures"] + r["suppressed"]
                pause = [m for m in every if dishonest_now and m in pausable]
                r["measures"], r["suppressed"] = [m for m in every if m not in pause], pause

        for r in records:
            template, filled = r["template"], r["filled"]
            _copy_row(out["credit_records"], (
                r["id"], r["report_id"], key, r["department"], r["list"], r["behavior"], _Raw(template.clause_codes),
                template.tier, r["state"], filled["starts"], filled["ends"],
                _Raw(filled["evidence"]) if filled["evidence"] else None,
                r["measures"], r["suppressed"], _Raw(filled["reason"]), _Raw(filled["notice"]) if filled["notice"] else None,
                template.catalog, r["created_at"], r["ended_at"], r["end_reason"], r["occurred_on"]))
            counts["records"] += 1
            counts["live"] += r["state"] in ("active", "disputed")
            if "objection" in r:
                state, filed, decided, reason = r["objection"]
                admin = rng.random() < 0.2
                due_on = calendar.nth_working_day_after(filed.astimezone(SHANGHAI).date(), due_days).day
                _copy_row(out["objections"], (
                    uuid.uuid4(), r["id"], key, "admin" if admin else "department", "ops_admin" if admin else r["department"],
                    rng.choice(GROUNDS_ZH), ["复议申请书", "情况说明"][: rng.randrange(0, 3)], state, filed, due_on, decided,
                    "ops_admin" if decided else None, reason))
                counts["objections"] += 1

        _copy_row(out["subjects"], (
            key, subject_type, mask_resident_id(number) if citizen else number, mask_name(name) if citizen else name,
            cipher.encrypt(number, context=SUBJECT_ID_CONTEXT) if citizen else None,
            cipher.encrypt(name, context=SUBJECT_NAME_CONTEXT) if citizen else None, first_seen))
        counts["subjects"] += 1
    counts["verified"] = decisions.verified
    decisions.verified = 0
    return {"tables": {t: s.getvalue().encode() for t, s in out.items()}, "counts": counts}


_DECISIONS: list[_Decisions] = []  # one per worker process


def _decisions(catalog: Catalog) -> _Decisions:
    if not _DECISIONS:
        _DECISIONS.append(_Decisions(catalog))
    return _DECISIONS[0]


# -- the stack -----------------------------------------------------------------------------------------------


@dataclass
class Stack:
    work: Path
    postgres: EmbeddedPostgres
    kafka: EmbeddedKafka
    rating: ServiceProcess
    dsn: str
    admin_token: str

    @classmethod
    def start(cls, work: Path) -> Stack:
        postgres = EmbeddedPostgres(work / "postgres", free_port()).start()  # fsync on: not the tests' fast mode
        kafka = EmbeddedKafka(free_port(), log_path=work / "broker.log").start()
        create_databases(postgres.admin_url, ["rating"])
        url = database_url(postgres.admin_url, "rating")
        creds_path = work / "credentials.json"
        creds = ensure_dev_credentials(creds_path, [a.code for a in load_catalog().agencies])
        env = {"JC_ENVIRONMENT": "development", "JC_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
               "JC_BOOTSTRAP_CREDENTIALS_FILE": str(creds_path), "JC_LOG_LEVEL": "WARNING",
               "JC_CONSUMER_SESSION_TIMEOUT_MS": "4000", "JC_CONSUMER_HEARTBEAT_INTERVAL_MS": "800",
               # One client address asks thousands of times a second: the per-address rate limit would answer 429.
               "JC_RATE_LIMIT_PER_SECOND": "0", "JC_ANONYMOUS_RATE_LIMIT_PER_SECOND": "0",
               "RATING_DATABASE_URL": url}
        rating = ServiceProcess("rating", free_port(), env, log_path=work / "rating.log").start()
        rating.wait_ready(3600)  # a reused 1M database: new migrations build indexes first
        token = next(c["token"] for c in creds if c["role"] == "admin")
        return cls(work, postgres, kafka, rating, asyncpg_dsn(url), token)

    def stop(self) -> None:
        self.rating.stop()
        self.kafka.stop()
        self.postgres.stop()


async def load_step(dsn: str, start: int, stop: int, *, seed: int, today: date, now: datetime, workers: int,
                    log: Callable[[str], None]) -> dict[str, Any]:
    """COPY subjects ``start`` … ``stop - 1`` (generated by ``workers`` processes), one transaction a chunk."""
    conn = await asyncpg.connect(dsn)
    counts: dict[str, int] = {}
    started = time.monotonic()
    chunks = iter(range(start, stop, CHUNK))
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            pending: list[Future] = []

            def submit() -> None:
                chunk = next(chunks, None)
                if chunk is not None:
                    pending.append(pool.submit(generate_chunk, chunk, min(chunk + CHUNK, stop), seed, today, now, Keys()))

            for _ in range(workers + 1):
                submit()
            while pending:
                result = await asyncio.wrap_future(pending.pop(0))
                submit()
                async with conn.transaction():
                    for table, columns in TABLES.items():
                        await conn.copy_to_table(table, source=io.BytesIO(result["tables"][table]), columns=columns,
                                                 format="text")
                for k, v in result["counts"].items():
                    counts[k] = counts.get(k, 0) + v
                if counts["subjects"] % 50_000 == 0:
                    rate = counts["subjects"] / (time.monotonic() - started)
                    log(f"  loaded {start + counts['subjects']:,} subjects ({counts['records']:,} records this step, "
                        f"{rate:,.0f} subjects/s)")
    finally:
        await conn.close()
    counts["seconds"] = round(time.monotonic() - started, 1)
    return counts


async def vacuum_analyze(dsn: str) -> float:
    started = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        for table in TABLES:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()
    return round(time.monotonic() - started, 1)


async def table_sizes(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) AS total, pg_indexes_size(relid) AS idx "
            "FROM pg_stat_user_tables WHERE relname = ANY($1::text[])", list(TABLES))
        db = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return {"tables": {r["relname"]: {"rows": r["n_live_tup"], "total_mib": round(r["total"] / 2**20),
                                      "indexes_mib": round(r["idx"] / 2**20)} for r in rows},
            "database_mib": round(db / 2**20)}


# -- what is measured ----------------------------------------------------------------------------------------

Request = tuple[str, dict[str, Any], dict[str, str]]  # path, query, headers


@dataclass
class Probe:
    name: str
    label: str
    make: Callable[[random.Random], Request]
    requests: int | None = None  # None: --requests
    concurrent: bool = True  # also at --concurrency (the PDF is CPU-bound: sequential only)


@dataclass
class Pools:
    """Random existing things to ask for: cursors of listed records, pending objections, name fragments."""

    subjects: int
    list_cursors: dict[str, list[str]] = field(default_factory=dict)
    objection_cursors: list[str] = field(default_factory=list)
    listed_subjects: list[int] = field(default_factory=list)


async def sample_pools(dsn: str, subjects: int, today: date) -> Pools:
    """Cursors of random published records (TABLESAMPLE: no full scan), in the service's own cursor format."""
    from jointcredit_common.paging import encode_cursor

    pools = Pools(subjects)
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval("SELECT reltuples::bigint FROM pg_class WHERE relname = 'credit_records'")
        percent = min(100.0, 100.0 * 60_000 / max(total, 1))
        rows = await conn.fetch(
            f"SELECT list, publicity_starts_on, id FROM credit_records TABLESAMPLE SYSTEM ({percent}) REPEATABLE (7) "
            "WHERE state IN ('active', 'disputed') AND publicity_starts_on <= $1 AND publicity_ends_on >= $1", today)
        for row in rows:
            pools.list_cursors.setdefault(row["list"], []).append(encode_cursor(row["publicity_starts_on"], row["id"]))
        objections = await conn.fetch("SELECT due_on, id FROM objections WHERE state = 'pending'")
        pools.objection_cursors = [encode_cursor(r["due_on"], r["id"]) for r in objections]
    finally:
        await conn.close()
    return pools


def probes(pools: Pools, admin: dict[str, str], requests: int) -> list[Probe]:
    lists = sorted(pools.list_cursors)

    def subject(rng: random.Random) -> tuple[str, str, dict[str, str]]:
        subject_type, number, _ = subject_identity(rng.randrange(pools.subjects))
        return subject_type, number, admin if subject_type == "citizen" else {}  # citizens need a credential

    def lookup(rng: random.Random) -> Request:
        subject_type, number, headers = subject(rng)
        return f"/v1/subjects/{subject_type}/{number}", {}, headers

    def report(rng: random.Random) -> Request:
        subject_type, number, headers = subject(rng)
        return f"/v1/subjects/{subject_type}/{number}/report", {}, headers

    def report_pdf(rng: random.Random) -> Request:
        subject_type, number, headers = subject(rng)
        return f"/v1/subjects/{subject_type}/{number}/report.pdf", {}, headers

    def deep_page(rng: random.Random) -> Request:
        name = rng.choice(lists)
        return f"/v1/public/lists/{name}", {"limit": 20, "cursor": rng.choice(pools.list_cursors[name])}, {}

    def first_page(rng: random.Random) -> Request:
        return f"/v1/public/lists/{rng.choice(lists)}", {"limit": 20}, {}

    def typed_page(rng: random.Random) -> Request:
        path, query, headers = deep_page(rng)
        return path, query | {"type": rng.choice(("enterprise", "citizen"))}, headers

    def by_id(rng: random.Random) -> Request:
        _, number, _ = subject(rng)
        return f"/v1/public/lists/{rng.choice(lists)}", {"q": number}, {}

    def by_fragment(rng: random.Random) -> Request:
        return f"/v1/public/lists/{rng.choice(lists)}", {"q": rng.choice(FIRM_WORDS) + rng.choice(FIRM_KINDS)}, {}

    def objections_page(rng: random.Random) -> Request:
        query: dict[str, Any] = {"state": "pending", "limit": 50}
        if pools.objection_cursors and rng.random() < 0.9:
            query["cursor"] = rng.choice(pools.objection_cursors)
        return "/v1/objections", query, admin

    return [
        Probe("subject", "subject lookup `GET /v1/subjects/{type}/{id}`", lookup),
        Probe("list", "list page at a random depth (keyset cursor), 20 items", deep_page),
        Probe("report", "credit report, JSON `GET …/report`", report),
        Probe("list_first", "list first page", first_page),
        Probe("list_type", "list page at a random depth, `type=` filter", typed_page),
        Probe("list_q_id", "list search by full USCC / resident ID (`q`)", by_id),
        Probe("list_q_name", "list search by name fragment (`q`)", by_fragment, max(20, requests // 10)),
        Probe("objections", "admin objections page (`state=pending`, cursor)", objections_page),
        Probe("report_pdf", "credit report, PDF (optional; sequential only)", report_pdf, max(10, requests // 50), False),
    ]


async def run_probe(client: httpx.AsyncClient, probe: Probe, *, count: int, concurrency: int, rng: random.Random) -> dict:
    """``count`` requests from ``concurrency`` workers; latency of each full response in ms."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            path, query, headers = probe.make(rng)
            started = time.perf_counter()
            try:
                response = await client.get(path, params=query, headers=headers)
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            latencies.append((time.perf_counter() - started) * 1000)
            if status != "200":
                errors[status] = errors.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"n": len(latencies), "concurrency": concurrency, "errors": errors, "req_per_s": round(len(latencies) / elapsed, 1),
            **{f"p{p}_ms": round(percentile(latencies, p / 100), 1) for p in (50, 95, 99)},
            "max_ms": round(max(latencies), 1) if latencies else None}


async def measure(url: str, pools: Pools, admin_token: str, *, requests: int, concurrency: int, seed: int,
                  log: Callable[[str], None]) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {admin_token}"}
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for probe in probes(pools, admin, requests):
            rng = random.Random(f"{seed}:{probe.name}")
            count = probe.requests or requests
            await run_probe(client, probe, count=max(10, count // 10), concurrency=concurrency, rng=rng)  # warm-up
            sequential = await run_probe(client, probe, count=count, concurrency=1, rng=rng)
            concurrent = (await run_probe(client, probe, count=count, concurrency=concurrency, rng=rng) if probe.concurrent
                          else None)
            results[probe.name] = {"label": probe.label, "sequential": sequential, "concurrent": concurrent}
            log(f"  {probe.name:<12} seq {_triple(sequential)} ms   c={concurrency} {_triple(concurrent)} ms"
                f"   errors {_errors(sequential, concurrent) or 0}")
    results["load_after"] = os.getloadavg()
    return results


def _triple(run: dict | None) -> str:
    return " / ".join(str(run[f"p{p}_ms"]) for p in (50, 95, 99)) if run else "—"


def _errors(*runs: dict | None) -> dict[str, int]:
    """Non-200 answers (or client errors) by status, over the runs of one call."""
    total: dict[str, int] = {}
    for run in runs:
        for status, n in (run or {}).get("errors", {}).items():
            total[status] = total.get(status, 0) + n
    return total


# -- EXPLAIN ANALYZE of the service's queries ----------------------------------------------------------------


def main_queries(pools: Pools, today: date, rng: random.Random) -> dict[str, Any]:
    """The statements rating runs for the measured calls, built by the service's own query code."""
    from sqlalchemy import func, select

    from rating_service.lists.views import public_list_query, subject_key_of
    from rating_service.objections.views import objections_query
    from jointcredit_common.paging import decode_cursor
    from rating_service.records.models import classifications, credit_records, subjects
    from rating_service.records.views import SUBJECT_RECORD_COLUMNS
    from rating_service.credit_reports.service import REPORT_RECORD_COLUMNS

    hasher = PiiHasher.from_settings(Keys().hash_key)
    _, number, _ = subject_identity(rng.randrange(pools.subjects))
    key = subject_key_of(hasher, number)
    deep = {name: decode_cursor(rng.choice(cursors), date, uuid.UUID) for name, cursors in pools.list_cursors.items()}
    return {
        "subject: the subject by key": select(subjects).where(subjects.c.key == key),
        "subject: its records": select(*SUBJECT_RECORD_COLUMNS).where(credit_records.c.subject_key == key)
        .order_by(credit_records.c.created_at, credit_records.c.id),
        "subject: its classifications": select(
            classifications.c.report_id, classifications.c.outcome, classifications.c.clause_codes,
            classifications.c.decided_at).where(classifications.c.subject_key == key),
        "report: its records": select(*REPORT_RECORD_COLUMNS).where(credit_records.c.subject_key == key)
        .order_by(credit_records.c.occurred_on, credit_records.c.created_at, credit_records.c.id),
        "list: first page (dishonest)": public_list_query("dishonest", today=today, limit=20),
        "list: deep page (dishonest, cursor)": public_list_query("dishonest", today=today, limit=20, after=deep["dishonest"]),
        "list: deep page, type=citizen (key_warning: enterprises only)": public_list_query(
            "key_warning", today=today, limit=20, subject_type="citizen", after=deep["key_warning"]),
        "list: q = a full ID": public_list_query("dishonest", today=today, limit=20, subject_key=key),
        "list: q = a name fragment": public_list_query("dishonest", today=today, limit=20,
                                                        name_fragment=FIRM_WORDS[3] + FIRM_KINDS[1]),
        "objections: pending page (cursor)": objections_query(
            state="pending", overdue=False, today=today, limit=50,
            after=decode_cursor(pools.objection_cursors[len(pools.objection_cursors) // 2], date, uuid.UUID)
            if pools.objection_cursors else None),
        "metrics: live records per list (every 60 s)": select(credit_records.c.list, func.count())
        .where(credit_records.c.state.in_(("active", "disputed"))).group_by(credit_records.c.list),
    }


async def explain(dsn: str, statements: dict[str, Any]) -> dict[str, str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of each statement, values inlined (the plan of one real call)."""
    from sqlalchemy.dialects.postgresql.asyncpg import dialect

    conn = await asyncpg.connect(dsn)
    plans = {}
    try:
        for name, statement in statements.items():
            sql = str(statement.compile(dialect=dialect(), compile_kwargs={"literal_binds": True}))
            try:
                plans[name] = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            except asyncpg.PostgresError as exc:
                plans[name] = f"failed: {exc!r}"
    finally:
        await conn.close()
    return plans


# -- report --------------------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    steps = results["steps"]
    conc = results["concurrency"]
    lines = [
        MARK_START,
        f"## {results['date'][:10]} — scale check: rating at {' / '.join(format(s['subjects'], ',') for s in steps)} subjects"
        " (issue 7, part 2)",
        "",
        f"- Command: `{results['command']}` (what `make bench-scale` runs)",
        f"- Machine: {results['machine']}; load average before / after the measurements: "
        + "; ".join(f"{s['subjects']:,}: {s['measured']['load_before'][0]:.2f} / {s['measured']['load_after'][0]:.2f}"
                    for s in steps),
        f"- Stack: embedded PostgreSQL {results.get('postgres_version', '')} (fsync on, shared_buffers 256 MB; "
        "max_wal_size raised to 4 GB for the bulk load), tansu, rating as one uvicorn process (consumers, relay and "
        "expiry schedule running); client: httpx in the bench process, keep-alive.",
        f"- Data: synthetic, generated by rating's own classifier and PII functions, bulk-loaded with COPY "
        f"({results['steps'][-1]['load']['loaded_subjects']:,} subjects in {sum(s['load']['seconds'] for s in steps):,.0f} s); "
        "`VACUUM ANALYZE` after each step. Requests: "
        f"{results['requests']} sequential, then {results['requests']} at concurrency {conc}, after a warm-up; "
        "random existing subjects, random listed records as cursors.",
        "",
        "### Targets (p99, ms)",
        "",
        "| call | target | " + " | ".join(f"{s['subjects']:,}: seq / c={conc}" for s in steps) + " |",
        "| --- | --- | " + " | ".join("---" for _ in steps) + " |",
    ]
    for name, target in TARGETS_MS.items():
        cells = []
        for s in steps:
            m = s["measured"][name]
            seq, con = m["sequential"]["p99_ms"], m["concurrent"]["p99_ms"]
            cells.append(f"{seq} {'✓' if seq < target else '✗'} / {con} {'✓' if con < target else '✗'}")
        lines.append(f"| {steps[0]['measured'][name]['label']} | < {target:.0f} | " + " | ".join(cells) + " |")
    lines += ["", f"Sequential: one request at a time, the cost of the call itself. c={conc}: {conc} clients at once against the "
              "one uvicorn process, so the p99 also holds the time a request waits behind the others on the shared cores."]
    lines += ["", "### Growth curve (p99, sequential, ms)", "", "```"]
    scale = max(s["measured"][n]["sequential"]["p99_ms"] for s in steps for n in TARGETS_MS) or 1
    for name in TARGETS_MS:
        for s in steps:
            p99 = s["measured"][name]["sequential"]["p99_ms"]
            lines.append(f"{name:<8} {s['subjects']:>9,} │{'█' * max(1, round(40 * p99 / scale)):<40} {p99} ms")
    lines += ["```", "", f"### Every call at {steps[-1]['subjects']:,} subjects", "",
              f"| call | seq p50 / p95 / p99 ms | c={conc} p50 / p95 / p99 ms | c={conc} req/s | errors |",
              "| --- | --- | --- | --- | --- |"]
    for m in steps[-1]["measured"].values():
        if isinstance(m, dict) and "sequential" in m:
            c = m["concurrent"]
            lines.append(f"| {m['label']} | {_triple(m['sequential'])} | {_triple(c)} | {c['req_per_s'] if c else '—'} | "
                         f"{_errors(m['sequential'], c) or 0} |")
    lines += ["", "### Data per step", "", "| subjects | reports | credit records | live records | objections | load s | "
              "VACUUM ANALYZE s | database MiB |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in steps:
        t = s["sizes"]["tables"]
        lines.append(f"| {s['subjects']:,} | {t['classifications']['rows']:,} | {t['credit_records']['rows']:,} | "
                     f"{s['load']['live_total']:,} | {t['objections']['rows']:,} | {s['load']['seconds']:,.0f} | "
                     f"{s['vacuum_s']} | {s['sizes']['database_mib']:,} |")
    if results.get("notes"):
        lines += ["", *results["notes"]]
    if results.get("explain"):
        lines += ["", f"### Query plans at {steps[-1]['subjects']:,} subjects", "",
                  "`EXPLAIN (ANALYZE, BUFFERS)` of one call each, its values inlined, right after the measurements.", ""]
        for name, plan in results["explain"].items():
            lines += [f"<details><summary>{name}</summary>", "", "```", *plan.splitlines(), "```", "", "</details>", ""]
    lines.append(MARK_END)
    return "\n".join(lines)


def write_doc(doc: Path, section: str) -> None:
    """Replace this benchmark's section (between its markers) or append it; the rest of the file is left alone."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        text = head + section + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)


# -- main ----------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _state(work: Path) -> dict[str, Any]:
    path = work / "bench-scale-state.json"
    return json.loads(path.read_text()) if path.exists() else {"loaded": 0, "live": 0}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="jc-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    log(f"work dir {work}; disk: {shutil.disk_usage(work).free / 2**30:.0f} GiB free")
    state = _state(work)
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    more = max(args.steps) > state["loaded"]
    if more and state["loaded"] and (state["today"] != today.isoformat() or state["seed"] != args.seed):
        raise SystemExit(f"{work} was loaded on {state['today']} with seed {state['seed']}: start afresh")
    now = datetime.now(UTC)
    results: dict[str, Any] = {"date": now.isoformat(timespec="seconds"), "machine": machine(),
                               "command": " ".join(["python -m bench.scale", *sys.argv[1:]]), "requests": args.requests,
                               "concurrency": args.concurrency, "seed": args.seed, "steps": [], "notes": []}
    stack = Stack.start(work)
    try:
        conn = await asyncpg.connect(stack.postgres.admin_url)
        results["postgres_version"] = (await conn.fetchval("SHOW server_version")).split()[0]
        await conn.execute("ALTER SYSTEM SET max_wal_size = '4GB'")  # fewer checkpoints during COPY; durability unchanged
        await conn.execute("SELECT pg_reload_conf()")
        await conn.close()
        for target in args.steps:
            if target > state["loaded"]:
                log(f"loading subjects {state['loaded']:,} … {target:,}")
                loaded = await load_step(stack.dsn, state["loaded"], target, seed=args.seed, today=today, now=now,
                                         workers=args.workers, log=log)
                state = {"loaded": target, "live": state["live"] + loaded["live"], "today": today.isoformat(), "seed": args.seed}
                (work / "bench-scale-state.json").write_text(json.dumps(state))
            else:
                loaded = {"seconds": 0.0, "note": "already loaded (--reuse)"}
            loaded |= {"loaded_subjects": target, "live_total": state["live"]}
            vacuum_s = await vacuum_analyze(stack.dsn)
            sizes = await table_sizes(stack.dsn)
            log(f"{target:,} subjects: {sizes['tables']['credit_records']['rows']:,} records, "
                f"{sizes['database_mib']:,} MiB; VACUUM ANALYZE {vacuum_s} s; measuring …")
            pools = await sample_pools(stack.dsn, target, today)
            measured = await measure(stack.rating.url, pools, stack.admin_token, requests=args.requests,
                                     concurrency=args.concurrency, seed=args.seed, log=log)
            results["steps"].append({"subjects": target, "load": loaded, "vacuum_s": vacuum_s, "sizes": sizes,
                                     "measured": measured})
            if target == args.steps[-1]:
                try:
                    results["explain"] = await explain(stack.dsn, main_queries(pools, today, random.Random(args.seed)))
                except Exception as exc:  # noqa: BLE001 - the measurements stand without the plans
                    results["notes"].append(f"EXPLAIN failed: {exc!r}")
    finally:
        stack.stop()
        if not (args.keep or args.reuse):
            shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="10000,100000,1000000",
                        type=lambda s: sorted(int(x) for x in s.split(",")), help="subjects at each step (multiples of 1000)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per call, sequential and concurrent each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="processes generating data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="load into DIR and keep it (to --reuse later)")
    parser.add_argument("--reuse", type=Path, help="a DIR kept by --keep: load only what it lacks")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-scale.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md", help="'-' to leave the docs alone")
    args = parser.parse_args()
    if any(s % CHUNK for s in args.steps):
        parser.error(f"steps must be multiples of {CHUNK}")
    results = asyncio.run(main_async(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    if str(args.doc) != "-":
        write_doc(args.doc, markdown(results))
    log(f"results in {args.json}" + ("" if str(args.doc) == "-" else f" and {args.doc}"))


if __name__ == "__main__":
    main()
