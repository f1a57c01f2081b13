"""The three reviews (初审 → 复核 → 终审), separation of duties, rejection, decision events and cascade progress."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from jointcredit_common.testing.factories import uscc

pytestmark = pytest.mark.consumers  # events flow into the app under test

DECIDED = "cn.dalian.jointcredit.repair.decided.v1"


async def accepted_application(repair, n: int, records: int = 1) -> tuple[str, str, list[str]]:
    enterprise = uscc(n)
    key = f"enterprise:{enterprise}"
    record_ids = [await repair.list_record(key) for _ in range(records)]
    response = await repair.post(repair.application(enterprise, record_ids))
    assert response.status_code == 201, response.text
    return response.json()["id"], key, record_ids


async def test_three_reviewers_approve_in_order_and_the_decision_is_published(repair):
    app_id, key, record_ids = await accepted_application(repair, 7001, records=2)
    first = await repair.review(app_id, "initial", reason="初审：材料齐全")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "in_review" and first.json()["next_stage"] == "re_review"
    second = await repair.review(app_id, "re_review", reason="复核：罚款已缴清")
    assert second.json()["next_stage"] == "final"
    final = await repair.review(app_id, "final", reason="终审：同意修复")
    assert final.status_code == 200, final.text
    body = final.json()
    assert body["status"] == "approved" and body["next_stage"] is None
    assert [(s["stage"], s["decision"], s["reviewer"], s["reason"]) for s in body["steps"]] == [
        ("initial", "approve", "reviewer_initial", "初审：材料齐全"),
        ("re_review", "approve", "reviewer_re_review", "复核：罚款已缴清"),
        ("final", "approve", "reviewer_final", "终审：同意修复"),
    ]
    assert all(s["decided_at"] for s in body["steps"])
    assert body["decision"]["decision"] == "approved" and body["decision"]["within_sla"] is True
    assert body["links"]["credit_report"].endswith(f"/v1/subjects/enterprise/{key.split(':')[1]}/report")

    events = await repair.read("repairs", until=lambda evs: any(e.type == DECIDED for e in evs), settle=1.0)
    decided = [e for e in events if e.type == DECIDED]
    assert len(decided) == 1 and decided[0].key == key
    data = decided[0].data
    assert data["application_id"] == app_id and data["subject_key"] == key and data["record_ids"] == record_ids
    assert data["decision"] == "approved" and data["reason"] == "终审：同意修复" and data["decided_at"]
    assert data["department"] == "market_regulation" and data["decided_by"] == "reviewer_final"

    audit = await repair.rows("SELECT actor, action FROM audit_log WHERE target_id = :id ORDER BY id", id=app_id)
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("market_regulation", "repair.accept"), ("reviewer_initial", "repair.review.initial"),
        ("reviewer_re_review", "repair.review.re_review"), ("reviewer_final", "repair.review.final"),
    ]
    # Decided: the timer is cancelled and will never fire; the records are free for a later application.
    timer = (await repair.rows("SELECT fired_at, cancelled_at FROM sla_timers"))[0]
    assert timer["fired_at"] is None and timer["cancelled_at"] is not None
    assert await repair.scalar("SELECT count(*) FROM repair_application_records WHERE open") == 0


async def test_cascade_progress_follows_rating_confirming_each_record(repair):
    app_id, key, record_ids = await accepted_application(repair, 7002, records=2)
    for stage in ("initial", "re_review", "final"):
        assert (await repair.review(app_id, stage)).status_code == 200

    async def view() -> dict:
        return (await repair.client.get(f"/v1/repairs/{app_id}", headers=repair.department)).json()

    async def published() -> bool:
        return (await view())["cascade"]["steps"][0]["confirmed"]

    await repair.wait_until(published, what="decision published by the relay")
    steps = {s["step"]: s for s in (await view())["cascade"]["steps"]}
    assert steps["records_repaired"]["confirmed"] is False and steps["records_repaired"]["records_confirmed"] == 0
    assert steps["measures_lifted"]["observed"] is False

    # Rating answers repair.decided.v1 with record.repaired.v1 for each record.
    await repair.end_record(record_ids[0], key, "repaired")
    await repair.wait_until(lambda: _confirmed(view, 1), what="first record confirmed")
    assert (await view())["cascade"]["complete"] is False
    await repair.end_record(record_ids[1], key, "repaired")
    await repair.wait_until(lambda: _confirmed(view, 2), what="second record confirmed")
    final = await view()
    assert final["cascade"]["complete"] is True
    assert {r["state"] for r in final["records"]} == {"repaired"}


async def test_a_decision_still_reads_published_after_the_relay_purged_its_outbox_row(open_repair):
    """The relay purges published outbox rows after ``outbox_retention_hours`` (168 h). Repair's view of its decision
    and of the cascade is its own record, so a week later the application still reads as published and complete."""
    async with open_repair(outbox_purge_interval_seconds=0.2) as repair:
        approved, key, record_ids = await accepted_application(repair, 7011)
        rejected, _, _ = await accepted_application(repair, 7012)
        for stage in ("initial", "re_review", "final"):
            assert (await repair.review(approved, stage)).status_code == 200
        assert (await repair.review(rejected, "initial", "reject", reason="材料不全")).status_code == 200
        await repair.end_record(record_ids[0], key, "repaired")  # rating's answer to repair.decided.v1

        async def view(app_id: str) -> dict:
            return (await repair.client.get(f"/v1/repairs/{app_id}", headers=repair.department)).json()

        async def complete() -> bool:
            return (await view(approved))["cascade"].get("complete") is True

        await repair.wait_until(complete, what="cascade complete before the purge")
        async def all_published() -> bool:
            return await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.decided.v1' "
                                       "AND published_at IS NOT NULL") == 2

        await repair.wait_until(all_published, what="both decisions published by the relay")
        # Eight days later: the relay's own purge (retention 168 h) removes the published rows.
        async with repair.runtime.sessionmaker() as session, session.begin():
            await session.execute(text("UPDATE outbox SET published_at = published_at - interval '8 days' "
                                       "WHERE published_at IS NOT NULL"))

        async def purged() -> bool:
            return await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.decided.v1'") == 0

        await repair.wait_until(purged, what="the relay purging the week-old outbox rows")

        after = await view(approved)
        assert after["cascade"]["decision_event"]["published"] is True
        assert after["cascade"]["decision_event"]["published_at"] is not None
        steps = {s["step"]: s for s in after["cascade"]["steps"]}
        assert steps["decision_published"]["confirmed"] is True
        assert steps["records_repaired"]["confirmed"] is True
        assert after["cascade"]["complete"] is True
        assert (await view(rejected))["cascade"]["decision_event"]["published"] is True


async def _confirmed(view, n: int) -> bool:
    steps = {s["step"]: s for s in (await view())["cascade"]["steps"]}
    return steps["records_repaired"]["records_confirmed"] == n


async def test_rejection_at_re_review_ends_the_application_with_the_reason(repair):
    app_id, key, record_ids = await accepted_application(repair, 7003)
    assert (await repair.review(app_id, "initial")).status_code == 200
    rejected = await repair.review(app_id, "re_review", "reject", reason="未提供罚款缴纳凭证")
    assert rejected.status_code == 200
    body = rejected.json()
    assert body["decision"]["decision"] == "rejected" and body["decision"]["reason"] == "未提供罚款缴纳凭证"
    assert "steps" not in body["cascade"]  # a rejection has nothing downstream but its announcement
    assert body["status"] == "rejected" and body["next_stage"] is None
    # Nothing follows a rejection.
    late = await repair.review(app_id, "final")
    assert late.status_code == 409
    events = await repair.read("repairs", until=lambda evs: any(e.type == DECIDED for e in evs), settle=1.0)
    decided = [e.data for e in events if e.type == DECIDED]
    assert len(decided) == 1
    assert decided[0]["decision"] == "rejected" and decided[0]["reason"] == "未提供罚款缴纳凭证"
    assert decided[0]["stage"] == "re_review" and decided[0]["department"] == "market_regulation"
    assert decided[0]["record_ids"] == record_ids
    # The record may be applied for again.
    again = await repair.post(repair.application(key.split(":")[1], record_ids))
    assert again.status_code == 201


async def test_stages_go_in_order_and_need_the_stage_scope(repair):
    app_id, _, _ = await accepted_application(repair, 7004)
    # re_review before initial: out of order.
    out_of_order = await repair.review(app_id, "re_review")
    assert out_of_order.status_code == 409 and out_of_order.json()["next_stage"] == "initial"
    # The re-review reviewer has no initial scope.
    no_scope = await repair.review(app_id, "initial", headers=repair.reviewer("re_review"))
    assert no_scope.status_code == 403 and no_scope.json()["field"] == "body.stage"
    # Departments and admins do not review (admins pass role checks elsewhere, not here).
    assert (await repair.review(app_id, "initial", headers=repair.department)).status_code == 403
    assert (await repair.review(app_id, "initial", headers=repair.admin)).status_code == 403
    # Malformed input.
    bad = await repair.client.post(f"/v1/repairs/{app_id}/reviews", json={"stage": "initial", "decision": "approve", "reason": ""},
                                   headers=repair.reviewer("initial"))
    assert bad.status_code == 422 and bad.json()["field"] == "body.reason"
    assert (await repair.review("00000000-0000-0000-0000-000000000000", "initial")).status_code == 404
    assert (await repair.review("not-a-uuid", "initial")).status_code == 404
    assert await repair.scalar("SELECT count(*) FROM review_steps") == 0
    assert await repair.scalar("SELECT status FROM repair_applications") == "accepted"
    # The same stage twice: the second is refused.
    queue = await repair.client.get("/v1/repairs", params={"next_stage": "initial"}, headers=repair.reviewer("initial"))
    assert [i["id"] for i in queue.json()["items"]] == [app_id]
    assert (await repair.review(app_id, "initial")).status_code == 200
    queue = await repair.client.get("/v1/repairs", params={"next_stage": "initial"}, headers=repair.reviewer("initial"))
    assert queue.json()["items"] == []
    queue = await repair.client.get("/v1/repairs", params={"next_stage": "re_review"}, headers=repair.reviewer("re_review"))
    assert [i["id"] for i in queue.json()["items"]] == [app_id]
    assert (await repair.review(app_id, "initial")).status_code == 409


async def test_no_reviewer_decides_two_stages_of_one_application(repair):
    app_id, _, _ = await accepted_application(repair, 7005)
    versatile = await repair.new_reviewer("reviewer_wang", ["initial", "re_review", "final"])
    assert (await repair.review(app_id, "initial", headers=versatile)).status_code == 200
    second = await repair.review(app_id, "re_review", headers=versatile)
    assert second.status_code == 403 and "initial" in second.json()["detail"]
    # Another credential of the same person is still the same reviewer.
    same_person = await repair.new_reviewer("reviewer_wang", ["re_review"])
    assert (await repair.review(app_id, "re_review", headers=same_person)).status_code == 403
    assert (await repair.review(app_id, "re_review")).status_code == 200
    assert (await repair.review(app_id, "final", headers=versatile)).status_code == 403
    final = await repair.review(app_id, "final")
    assert final.status_code == 200 and final.json()["status"] == "approved"
    # ... and the versatile reviewer may still serve on other applications.
    other_id, _, _ = await accepted_application(repair, 7006)
    assert (await repair.review(other_id, "initial", headers=versatile)).status_code == 200


async def test_two_reviewers_racing_for_one_stage_decide_it_once(repair):
    app_id, _, _ = await accepted_application(repair, 7007)
    other = await repair.new_reviewer("reviewer_li", ["initial"])
    results = await asyncio.gather(repair.review(app_id, "initial"), repair.review(app_id, "initial", headers=other))
    assert sorted(r.status_code for r in results) == [200, 409]
    assert await repair.scalar("SELECT count(*) FROM review_steps") == 1


async def test_who_sees_which_application(repair):
    app_id, _, _ = await accepted_application(repair, 7008)
    for headers in (repair.department, repair.reviewer("final"), repair.admin):
        response = await repair.client.get(f"/v1/repairs/{app_id}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["correction"]["credit_commitment"].startswith("本企业承诺")
    # Another department sees neither the application nor its existence.
    other = repair.auth("department", "health_commission")
    assert (await repair.client.get(f"/v1/repairs/{app_id}", headers=other)).status_code == 404
    assert (await repair.client.get("/v1/repairs", headers=other)).json()["items"] == []
    assert (await repair.client.get(f"/v1/repairs/{app_id}", headers=repair.auth("agency"))).status_code == 403
    listed = (await repair.client.get("/v1/repairs", headers=repair.department)).json()
    assert [i["id"] for i in listed["items"]] == [app_id]


async def test_the_list_pages_with_a_cursor(repair):
    ids = [(await accepted_application(repair, 7100 + n))[0] for n in range(3)]
    first = (await repair.client.get("/v1/repairs", params={"limit": 2}, headers=repair.admin)).json()
    assert [i["id"] for i in first["items"]] == ids[:2] and first["next_cursor"]
    second = (await repair.client.get("/v1/repairs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=repair.admin)).json()
    assert [i["id"] for i in second["items"]] == ids[2:] and second["next_cursor"] is None
    bad = await repair.client.get("/v1/repairs", params={"cursor": "x"}, headers=repair.admin)
    assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
