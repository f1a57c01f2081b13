"""A realistic mix of reports: every catalog behaviour, both subject types, with and without evidence."""

from __future__ import annotations

import random
from datetime import date, timedelta

from jointcredit_common.catalog import load_catalog
from jointcredit_common.testing.factories import resident_id, uscc

DISTRICTS = ("210202", "210203", "210204", "210211", "210212", "210213", "210214")  # Dalian's districts
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def report(n: int, rng: random.Random) -> dict:
    """Report number ``n``: a fresh subject each time, so a subject key identifies its report downstream."""
    catalog = load_catalog()
    behavior = rng.choice(catalog.behaviors)
    subject_type = rng.choice(behavior.subject_types)
    if subject_type == "enterprise":
        subject = {"type": "enterprise", "id": uscc(n), "name": f"大连第{n}号商贸有限公司"}
    else:
        # One citizen per n (birth date x sequence x district: 210 million): phases of a run must not share subjects,
        # or a subject's events from an earlier phase are taken for a later one's.
        born = date(1940, 1, 1) + timedelta(days=(n // 1000) % 30000)
        region = DISTRICTS[(n // 30_000_000) % len(DISTRICTS)]
        subject = {"type": "citizen", "id": resident_id(n, born=born, region=region), "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)}
    # Recent incidents: a penalty decided in 2020 is past its publicity period today and issues no measures.
    occurred = date.today() - timedelta(days=rng.randrange(30, 90))
    body: dict = {"subject": subject, "behavior": behavior.code, "occurred_on": occurred.isoformat(),
                  "description": "压力测试报告 " + "疫情防控" * rng.randrange(1, 20)}
    # Most dishonesty reports carry their penalty decision (else evidence_required); some warnings escalated (→ E9).
    evidence_share = {"dishonest": 0.9, "key_warning": 0.2}.get(behavior.outcome, 0.0)
    if rng.random() < evidence_share:
        body["evidence"] = {"kind": rng.choice(["administrative_penalty", "judicial_judgment"]),
                            "document_no": f"大市监罚〔2020〕{n}号", "authority": "大连市市场监督管理局",
                            "decided_on": (occurred + timedelta(days=rng.randrange(1, 29))).isoformat()}
    if behavior.outcome == "exemption":
        body["exemption"] = {"cause": "force_majeure", "risk_controllable": rng.random() < 0.8}
    return body
