"""The green channel for real: service processes, the real broker, real databases.

1. A dishonest enterprise (E7 with an administrative penalty) → rating lists it → sanctions issues measures on
   the agencies' topics → the repair service learns of the record → a department files an application →
   three reviewers approve in turn → repair.decided.v1 → rating ends the record as repaired → sanctions lifts
   every measure on each agency's topic → the application shows the rating step confirmed. The enterprise was on
   the red list first: rating pauses its incentives when it becomes dishonest and returns them after the repair,
   and sanctions executes exactly that (F on the xinyidai_banks topic: issued → suspended → resumed).
2. The repair service is killed (SIGKILL) and restarted between acceptance and the deadline: the timer (a database
   row) fires once, at or after its due time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from jointcredit_common.calendar import WorkingDayCalendar
from jointcredit_common.clock import CHINA_TZ as SHANGHAI
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import SubjectListed, SubjectRef
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic, signed_record

# Recent conduct: key warning and red periods run from the conduct (issue 13 item 2); a 2020 act reported now is history.
RECENT_CONDUCT = (datetime.now(SHANGHAI).date() - timedelta(days=10)).isoformat()

pytestmark = pytest.mark.e2e
LISTED = "cn.dalian.jointcredit.subject.listed.v1"
REPAIRED = "cn.dalian.jointcredit.record.repaired.v1"
ISSUED = "cn.dalian.jointcredit.measure.issued.v1"
LIFTED = "cn.dalian.jointcredit.measure.lifted.v1"
SUSPENDED = "cn.dalian.jointcredit.measure.suspended.v1"
RESUMED = "cn.dalian.jointcredit.measure.resumed.v1"
BREACHED = "cn.dalian.jointcredit.repair.sla_breached.v1"


def auth(stack, role: str, principal: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(role, principal)}"}


def correction() -> dict[str, str]:
    return {
        "what_corrected": "已按市场监管部门要求全部退还哄抬价格所得并公开致歉",
        "obligations_fulfilled": "已缴清罚款（大市监罚〔2020〕21号）",
        "credit_commitment": "本企业承诺依法诚信经营，自愿接受社会监督",
    }


def poll(fn, what: str, timeout: float = 30.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: {last}")


async def test_dishonest_enterprise_repaired_through_three_reviews_lifts_every_measure(jc_stack):
    stack = jc_stack("ingest", "rating", "sanctions", "repair")
    enterprise = uscc(9501)
    key = f"enterprise:{enterprise}"
    report = {
        "subject": {"type": "enterprise", "id": enterprise, "name": "大连某某药房连锁有限公司"},
        "behavior": "E7",
        "occurred_on": RECENT_CONDUCT,
        "description": "口罩哄抬价格",
        "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕21号", "authority": "大连市市场监督管理局",
                     # Publicity runs from the penalty decision; a recent one keeps the record live today.
                     "decided_on": (datetime.now(SHANGHAI).date() - timedelta(days=7)).isoformat()},
    }
    red_report = {"subject": report["subject"], "behavior": "G4", "occurred_on": RECENT_CONDUCT,
                  "description": "转产医用口罩，日产 10 万只"}
    with httpx.Client(base_url=stack.url("ingest"), timeout=10) as client:
        headers = auth(stack, "department", "market_regulation")
        response = client.post("/v1/reports", json=red_report, headers=headers)
        assert response.status_code == 202, response.text
        red_url = f"/v1/reports/{response.json()['id']}"
        red = poll(lambda: (lambda b: b if b.get("status") == "classified" else None)(client.get(red_url, headers=headers).json()),
                   "the red report to be classified")
        assert red["outcome"] == "red", red
        response = client.post("/v1/reports", json=report, headers=headers)
        assert response.status_code == 202, response.text
        url = f"/v1/reports/{response.json()['id']}"
        classified = poll(lambda: (lambda b: b if b.get("status") == "classified" else None)(client.get(url, headers=headers).json()),
                          "the report to be classified")
        assert classified["outcome"] == "dishonest", classified

    def dishonest_listing(evs):  # noqa: ANN001, ANN202
        return next((e for e in evs if e.type == LISTED and e.key == key and e.data["list"] == "dishonest"), None)

    listed = await read_topic(stack.bootstrap, stack.topic("ratings"), until=dishonest_listing, timeout=60)
    listing = dishonest_listing(listed)
    assert listing is not None, [(e.type, e.key) for e in listed]
    red_record_id = next(e.data["record_id"] for e in listed if e.type == LISTED and e.key == key and e.data["list"] == "red")
    record_id = listing.data["record_id"]
    agencies = sorted({a for a in await _issued_agencies(stack, record_id, listing.data["measures"])})
    assert agencies, "sanctions issued measures for the dishonest record"

    application = {"subject": {"type": "enterprise", "id": enterprise}, "record_ids": [record_id], "correction": correction()}
    with httpx.Client(base_url=stack.url("repair"), timeout=10) as repair:
        # The listing reaches repair asynchronously; until then the record is unknown there (422).
        def file() -> httpx.Response | None:
            r = repair.post("/v1/repairs", json=application, headers=auth(stack, "department", "market_regulation"))
            return r if r.status_code == 201 else None

        accepted = poll(file, "the repair service to know the record").json()
        assert accepted["channel"] == "green" and accepted["status"] == "accepted"
        app_id = accepted["id"]
        for stage, reason in (("initial", "初审：材料齐全"), ("re_review", "复核：罚款已缴清"), ("final", "终审：同意修复")):
            r = repair.post(f"/v1/repairs/{app_id}/reviews", json={"stage": stage, "decision": "approve", "reason": reason},
                            headers=auth(stack, "reviewer", f"reviewer_{stage}"))
            assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"

        # Rating ends the record as repaired; sanctions lifts every measure it issued, on each agency's own topic.
        ratings = await read_topic(stack.bootstrap, stack.topic("ratings"),
                                   until=lambda evs: any(e.type == REPAIRED and e.data["record_id"] == record_id for e in evs),
                                   timeout=60)
        assert sum(e.type == REPAIRED and e.data["record_id"] == record_id for e in ratings) == 1
        for agency in agencies:
            events = await read_topic(
                stack.bootstrap, stack.topic(f"measures.{agency}"),
                until=lambda evs: _lifted_all(evs, record_id), timeout=60, settle=1.0,
            )
            issued = {e.data["measure_id"] for e in events if e.type == ISSUED and e.data["record_id"] == record_id}
            lifted = [e.data["measure_id"] for e in events if e.type == LIFTED and e.data["record_id"] == record_id]
            assert issued and sorted(lifted) == sorted(issued), agency  # every measure lifted, each once

        def rating_confirmed() -> dict | None:
            view = repair.get(f"/v1/repairs/{app_id}", headers=auth(stack, "department", "market_regulation")).json()
            steps = {s["step"]: s for s in view["cascade"]["steps"]}
            return view if steps["records_repaired"]["confirmed"] and steps["decision_published"]["confirmed"] else None

        # The red record's financing incentive: paused by rating's decision while dishonest, back after the repair.
        banks = await read_topic(
            stack.bootstrap, stack.topic("measures.xinyidai_banks"), timeout=60, settle=1.0,
            until=lambda evs: any(e.type == RESUMED and e.data["record_id"] == red_record_id for e in evs))
        assert [(e.type, e.data["measure"]) for e in banks if e.data["record_id"] == red_record_id] == [
            (ISSUED, "F"), (SUSPENDED, "F"), (RESUMED, "F")]

        view = poll(rating_confirmed, "the application to show rating's confirmation")
        assert view["records"][0]["state"] == "repaired" and view["cascade"]["complete"] is True
        assert [s["reviewer"] for s in view["steps"]] == ["reviewer_initial", "reviewer_re_review", "reviewer_final"]

    with httpx.Client(base_url=stack.url("rating"), timeout=10) as rating:
        subject = rating.get(f"/v1/subjects/enterprise/{enterprise}", headers=auth(stack, "admin")).json()
        assert "repaired" in str(subject)


async def _issued_agencies(stack, record_id: str, measures: list[str]) -> set[str]:
    from jointcredit_common.catalog import load_catalog

    catalog = load_catalog()
    agencies = {route.agency for code in measures for route in catalog.measure(code).agencies}
    found = set()
    for agency in agencies:
        events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"),
                                  until=lambda evs: any(e.type == ISSUED and e.data["record_id"] == record_id for e in evs),
                                  timeout=30)
        if any(e.type == ISSUED and e.data["record_id"] == record_id for e in events):
            found.add(agency)
    return found


def _lifted_all(events, record_id: str) -> bool:  # noqa: ANN001
    issued = {e.data["measure_id"] for e in events if e.type == ISSUED and e.data["record_id"] == record_id}
    lifted = {e.data["measure_id"] for e in events if e.type == LIFTED and e.data["record_id"] == record_id}
    return bool(issued) and issued == lifted


async def test_a_restart_between_acceptance_and_deadline_still_breaches_exactly_once(jc_stack):
    repair_env = {"REPAIR_SLA_POLL_SECONDS": "0.5", "REPAIR_METRICS_REFRESH_SECONDS": "1"}
    stack = jc_stack("repair", extra_env={"repair": repair_env})
    proc = stack.procs["repair"]
    enterprise = uscc(9502)
    key = f"enterprise:{enterprise}"
    record_id = str(uuid.uuid4())
    # Rating's listing, on rating's topic (rating itself is not needed to prove the timer).
    event = SubjectListed(record_id=record_id, report_id=str(uuid.uuid4()), department="market_regulation",
                          subject=SubjectRef(type="enterprise", key=key, display_id=enterprise), list="dishonest",
                          behavior="E7", clause_codes=["E7"], measures=["P1"], reason_zh="测试", catalog="dalian-2020-4@1.0.0")
    envelope = CloudEvent(type=event.type_name(), source="/jointcredit/rating", subject=key, data=event.to_data(), key=key)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        k, v, h = signed_record(stack.topic("ratings"), envelope)
        await producer.send_and_wait(stack.topic("ratings"), value=v, key=k, headers=h)
    finally:
        await producer.stop()

    # A deadline ~25 s from now: yesterday and today are made working days by city override (whatever today is),
    # and the paper application is backdated to yesterday at (now + 25 s) — due = today at now + 25 s.
    target = (datetime.now(SHANGHAI) + timedelta(seconds=25)).replace(microsecond=0)
    accepted_at = target - timedelta(days=1)
    admin = auth(stack, "admin")
    with httpx.Client(base_url=stack.url("repair"), timeout=10) as repair:
        for day in {accepted_at.date(), target.date()}:
            r = repair.put(f"/v1/calendar/overrides/{day.isoformat()}", json={"working": True, "reason": "e2e"}, headers=admin)
            assert r.status_code == 200, r.text
        application = {"subject": {"type": "enterprise", "id": enterprise}, "record_ids": [record_id], "correction": correction(),
                       "accepted_at": accepted_at.isoformat()}

        def file() -> httpx.Response | None:
            r = repair.post("/v1/repairs", json=application, headers=admin)
            assert r.status_code in (201, 422), r.text
            return r if r.status_code == 201 else None

        accepted = poll(file, "the repair service to know the record", timeout=20).json()
        assert datetime.fromisoformat(accepted["due_at"]) == target
        assert WorkingDayCalendar({accepted_at.date(): True, target.date(): True}).due_at(accepted_at, 1).at == target
        assert datetime.now(SHANGHAI) < target, "the application must be accepted before its deadline"

    proc.kill()  # SIGKILL: nothing of the timer lives in the process
    assert datetime.now(SHANGHAI) < target
    await asyncio.sleep(2)
    proc.start(**repair_env)
    proc.wait_ready(timeout=90)

    events = await read_topic(stack.bootstrap, stack.topic("repairs"),
                              until=lambda evs: any(e.type == BREACHED for e in evs), timeout=90, settle=5.0)
    breached = [e for e in events if e.type == BREACHED]
    assert len(breached) == 1
    assert breached[0].data["application_id"] == accepted["id"] and breached[0].key == key
    assert datetime.fromisoformat(breached[0].data["breached_at"]) >= target  # never early
    with httpx.Client(base_url=stack.url("repair"), timeout=10) as repair:
        overdue = repair.get("/v1/repairs?overdue=true", headers=admin).json()["items"]
        assert [i["id"] for i in overdue] == [accepted["id"]] and overdue[0]["breached_at"]
        poll(lambda: 'jc_repair_applications_overdue{channel="green"} 1.0' in repair.get("/metrics").text,
             "the overdue gauge", timeout=15)
