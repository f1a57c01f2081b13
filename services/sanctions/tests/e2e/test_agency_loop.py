"""The agency loop end to end, with real service processes, the real broker and a real webhook receiver:
a dishonest enterprise reported at ingest → rating lists it → sanctions issues the catalog's measures on each agency's
topic and signed webhook → the agency reports feedback → the penalty is revoked and the report withdrawn (or the
record repaired) → every measure is lifted on the same channels."""

from __future__ import annotations

import importlib.util
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from jointcredit_common.devstack import free_port
from jointcredit_common.testing.kafka import read_topic
from sanctions_support import CATALOG, enterprise

pytestmark = pytest.mark.e2e

_spec = importlib.util.spec_from_file_location("sanctions_e2e_receiver", Path(__file__).parents[1] / "webhooks" / "receiver.py")
receiver_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = receiver_module
_spec.loader.exec_module(receiver_module)

ISSUED = "cn.dalian.jointcredit.measure.issued.v1"
LIFTED = "cn.dalian.jointcredit.measure.lifted.v1"
SECRET = "e2e-webhook-secret-0123456789"


def wait_for(check, timeout: float = 30.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not reached within {timeout}s: {last!r}")


async def test_dishonest_enterprise_measures_reach_agencies_feedback_is_recorded_and_withdrawal_lifts_them(jc_stack):
    stack = jc_stack("ingest", "rating", "sanctions")
    receiver = receiver_module.Receiver(port=free_port(), secret=SECRET)
    receiver.start()
    department = {"Authorization": f"Bearer {stack.token('department', 'market_regulation')}"}
    banks = {"Authorization": f"Bearer {stack.token('agency', 'xinyidai_banks')}"}
    company = enterprise(4501, "大连哄抬口罩价格商贸有限公司")
    try:
        with httpx.Client(base_url=stack.url("sanctions"), timeout=10) as sanctions, \
                httpx.Client(base_url=stack.url("ingest"), timeout=10) as ingest:
            hook = sanctions.post("/v1/agencies/xinyidai_banks/webhooks", headers=banks, json={"url": receiver.url, "secret": SECRET})
            assert hook.status_code == 201, hook.text
            report = ingest.post("/v1/reports", headers=department, json={
                "subject": {"type": "enterprise", "id": company.display_id, "name": company.display_name},
                # Recent dates: rating does not publish a record whose publicity period already ended.
                "behavior": "E7", "occurred_on": str(date.today() - timedelta(days=20)), "description": "口罩哄抬价格",
                "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕88号",
                             "authority": "大连市市场监督管理局", "decided_on": str(date.today() - timedelta(days=3))},
            })
            assert report.status_code == 202, report.text
            report_id = report.json()["id"]
            classified = wait_for(lambda: (lambda b: b if b.get("status") == "classified" else None)(
                ingest.get(f"/v1/reports/{report_id}", headers=department).json()))
            assert classified["outcome"] == "dishonest" and classified["clause_codes"] == ["E7"], classified

            routes = {(r.agency, code) for code in CATALOG.behavior("E7").measures for r in CATALOG.measure(code).agencies}
            for agency in sorted({a for a, _ in routes}):
                wanted = {c for a, c in routes if a == agency}
                events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"), timeout=60,
                                          until=lambda evs, w=wanted: {e.data["measure"] for e in evs} >= w)
                assert sorted(e.data["measure"] for e in events if e.type == ISSUED) == sorted(wanted), agency
                assert all(e.key == company.key for e in events)

            wait_for(lambda: len(receiver.accepted) >= 1)
            issued = receiver.accepted[0]
            assert issued["type"] == ISSUED and issued["data"]["measure"] == "P2" and issued["subject"] == company.key

            feedback = sanctions.post(f"/v1/measures/{issued['data']['measure_id']}/feedback", headers=banks, json={
                "result": "applied", "at": datetime.now(UTC).isoformat(), "matter": "流动资金贷款申请（编号 DL-2020-0316）",
                "note": "已暂停授信"})
            assert feedback.status_code == 201, feedback.text
            stats = sanctions.get("/v1/agencies/xinyidai_banks/stats", headers=banks).json()
            assert stats["feedback"]["applied"] == 1 and stats["measures"]["in_force"] == 1

            withdrawn = ingest.post(f"/v1/reports/{report_id}/withdraw", headers=department,
                                    json={"reason": "行政处罚决定经行政复议被撤销"})
            assert withdrawn.status_code == 200, withdrawn.text
            for agency in sorted({a for a, _ in routes}):
                wanted = {c for a, c in routes if a == agency}
                events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"), timeout=60,
                                          until=lambda evs, w=wanted: {e.data["measure"] for e in evs if e.type == LIFTED} >= w)
                lifted = [e for e in events if e.type == LIFTED]
                assert sorted(e.data["measure"] for e in lifted) == sorted(wanted)
                assert all(e.data["reason"].startswith("withdrawn: ") for e in lifted)
            wait_for(lambda: len(receiver.accepted) >= 2)
            assert [e["type"] for e in receiver.accepted] == [ISSUED, LIFTED]
            assert sanctions.get("/v1/measures?state=in_force", headers=banks).json()["items"] == []
    finally:
        receiver.stop()


async def test_an_approved_green_channel_repair_lifts_every_measure_on_every_channel(jc_stack):
    """三(一): the repair service approves (initial → re-review → final), rating repairs the record, sanctions lifts."""
    stack = jc_stack("ingest", "rating", "sanctions", "repair")
    receiver = receiver_module.Receiver(port=free_port(), secret=SECRET)
    receiver.start()
    department = {"Authorization": f"Bearer {stack.token('department', 'market_regulation')}"}
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    company = enterprise(4502, "大连违规复工机械有限公司")
    try:
        with httpx.Client(base_url=stack.url("sanctions"), timeout=10) as sanctions, \
                httpx.Client(base_url=stack.url("ingest"), timeout=10) as ingest, \
                httpx.Client(base_url=stack.url("repair"), timeout=10) as repair:
            hook = sanctions.post("/v1/agencies/tax_bureau/webhooks", headers=admin, json={"url": receiver.url, "secret": SECRET})
            assert hook.status_code == 201, hook.text
            # Penalty decided four months ago: past the general tier's minimum publicity (3 months), still listed.
            report = ingest.post("/v1/reports", headers=department, json={
                "subject": {"type": "enterprise", "id": company.display_id, "name": company.display_name},
                "behavior": "E9", "occurred_on": str(date.today() - timedelta(days=130)), "description": "未遵守复工复产规定",
                "evidence": {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕101号",
                             "authority": "大连市市场监督管理局", "decided_on": str(date.today() - timedelta(days=120))},
            })
            assert report.status_code == 202, report.text
            routes = {(r.agency, code) for code in CATALOG.behavior("E9").measures for r in CATALOG.measure(code).agencies}
            tax = await read_topic(stack.bootstrap, stack.topic("measures.tax_bureau"), until=lambda evs: len(evs) >= 1, timeout=60)
            record_id = tax[0].data["record_id"]

            application = repair.post("/v1/repairs", headers=department, json={
                "subject": {"type": "enterprise", "id": company.display_id}, "record_ids": [record_id],
                "correction": {"what_corrected": "已落实复工复产防控措施", "obligations_fulfilled": "已缴纳罚款",
                               "credit_commitment": "公开作出信用承诺"}})
            assert application.status_code == 201, application.text
            for stage in ("initial", "re_review", "final"):
                reviewer = {"Authorization": f"Bearer {stack.token('reviewer', f'reviewer_{stage}')}"}
                decided = repair.post(f"/v1/repairs/{application.json()['id']}/reviews", headers=reviewer,
                                      json={"stage": stage, "decision": "approve", "reason": "材料齐全，同意修复"})
                assert decided.status_code == 200, decided.text

            for agency in sorted({a for a, _ in routes}):
                count = len([1 for a, _ in routes if a == agency])
                events = await read_topic(stack.bootstrap, stack.topic(f"measures.{agency}"), timeout=60,
                                          until=lambda evs, c=count: len([e for e in evs if e.type == LIFTED]) >= c)
                assert [e.type for e in events] == [ISSUED] * count + [LIFTED] * count, agency
                assert all(e.data["reason"].startswith("repaired: ") for e in events if e.type == LIFTED)
            wait_for(lambda: len(receiver.accepted) >= 2)
            assert [(e["type"], e["data"]["measure"]) for e in receiver.accepted] == [(ISSUED, "P1"), (LIFTED, "P1")]
            assert sanctions.get("/v1/measures?state=in_force", headers=admin).json()["items"] == []
            assert len(sanctions.get("/v1/measures?state=lifted", headers=admin).json()["items"]) == len(routes)
    finally:
        receiver.stop()
