"""Eligibility (subject.listed.v1 → local records), channel choice and POST /v1/repairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jointcredit_common.testing.factories import resident_id, uscc

pytestmark = pytest.mark.consumers  # events flow into the app under test

ACCEPTED = "cn.dalian.jointcredit.repair.accepted.v1"


async def test_listed_dishonest_enterprise_gets_the_green_channel_due_in_one_working_day(repair):
    enterprise = uscc(6001)
    key = f"enterprise:{enterprise}"
    record = await repair.list_record(key)
    response = await repair.post(repair.application(enterprise, [record]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["channel"] == "green" and body["working_days"] == 1
    assert response.headers["Location"] == f"/v1/repairs/{body['id']}"
    # due_at is what China's calendar gives for accepted_at + 1 working day (the calendar is unit-tested on its own).
    from jointcredit_common.calendar import WorkingDayCalendar

    accepted_at = datetime.fromisoformat(body["accepted_at"])
    due = WorkingDayCalendar().due_at(accepted_at, 1)
    assert datetime.fromisoformat(body["due_at"]) == due.at and body["provisional"] is due.provisional
    assert body["due_at"].endswith("+08:00")

    stored = await repair.rows("SELECT status, next_stage, channel, applicant FROM repair_applications")
    assert stored == [{"status": "accepted", "next_stage": "initial", "channel": "green", "applicant": "market_regulation"}]
    timers = await repair.rows("SELECT kind, due_at, fired_at FROM sla_timers")
    assert len(timers) == 1 and timers[0]["fired_at"] is None
    assert timers[0]["due_at"] == datetime.fromisoformat(body["due_at"])
    audit = await repair.rows("SELECT actor, action, target_id FROM audit_log WHERE action = 'repair.accept'")
    assert audit == [{"actor": "market_regulation", "action": "repair.accept", "target_id": body["id"]}]

    events = await repair.read("repairs", until=lambda evs: any(e.type == ACCEPTED for e in evs))
    accepted = [e for e in events if e.type == ACCEPTED]
    assert len(accepted) == 1 and accepted[0].key == key
    assert accepted[0].data["application_id"] == body["id"] and accepted[0].data["record_ids"] == [record]
    assert accepted[0].data["channel"] == "green"


async def test_key_warning_only_enterprise_and_other_catalogs_go_the_standard_channel(repair):
    enterprise = uscc(6002)
    key = f"enterprise:{enterprise}"
    warning = await repair.list_record(key, list_="key_warning", behavior="W1")
    foreign = await repair.list_record(key, catalog="shenyang-2020-1@1.0.0")  # dishonest, but under another notice
    response = await repair.post(repair.application(enterprise, [warning, foreign]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["channel"] == "standard" and body["working_days"] == repair.runtime.settings.standard_channel_working_days
    detail = (await repair.client.get(f"/v1/repairs/{body['id']}", headers=repair.department)).json()
    assert "不适用三(一)绿色通道" in detail["channel_reason"]


async def test_citizens_go_the_standard_channel_and_stay_masked(repair):
    number = resident_id(17)
    key = f"citizen:{repair.runtime.hasher.keyed_hash(number)}"
    record = await repair.list_record(key, subject_type="citizen", behavior="C2", display_id="2102**********" + number[-4:])
    response = await repair.post(repair.application(number, [record], subject_type="citizen"),
                                 headers=repair.auth("department", "public_security"))
    assert response.status_code == 201, response.text
    assert response.json()["channel"] == "standard"
    detail = (await repair.client.get(f"/v1/repairs/{response.json()['id']}", headers=repair.auth("department", "public_security"))).json()
    assert number not in str(detail) and detail["subject"]["key"] == key
    assert number not in str(await repair.rows("SELECT * FROM repair_applications"))


async def test_standard_channel_limit_is_a_setting(open_repair):
    async with open_repair(standard_channel_working_days=3) as repair:
        enterprise = uscc(6003)
        record = await repair.list_record(f"enterprise:{enterprise}", list_="key_warning", behavior="W2")
        # Friday 2020-03-06 16:30 + 3 working days = Wednesday 2020-03-11 16:30 (ordinary weeks, 国办发〔2019〕16号).
        response = await repair.post(repair.application(enterprise, [record], accepted_at="2020-03-06T16:30:00+08:00"), repair.admin)
        assert response.status_code == 201, response.text
        assert response.json()["due_at"] == "2020-03-11T16:30:00+08:00"


async def assert_nothing_stored(repair) -> None:
    assert await repair.scalar("SELECT count(*) FROM repair_applications") == 0
    assert await repair.scalar("SELECT count(*) FROM sla_timers") == 0
    assert await repair.scalar("SELECT count(*) FROM outbox WHERE type LIKE '%repair.%'") == 0


async def test_bad_applications_change_nothing_and_emit_nothing(repair):
    enterprise, other = uscc(6004), uscc(6005)
    record = await repair.list_record(f"enterprise:{enterprise}")
    others = await repair.list_record(f"enterprise:{other}")
    red = await repair.list_record(f"enterprise:{enterprise}", list_="red", behavior="G5")
    cases = [
        (repair.application(enterprise, ["no-such-record"]), 422, "body.record_ids.0"),
        (repair.application(enterprise, [record, others]), 422, "body.record_ids.1"),  # another subject's record
        (repair.application(enterprise, [red]), 422, "body.record_ids.0"),
        (repair.application(enterprise, [record, record]), 422, "body.record_ids.1"),
        (repair.application(enterprise, []), 422, "body.record_ids"),
        (repair.application(enterprise[:-1] + ("0" if enterprise[-1] != "0" else "1"), [record]), 422, "body.subject.id"),
        ({**repair.application(enterprise, [record]), "correction": {"what_corrected": "x"}}, 422, "body.correction.obligations_fulfilled"),
        ({**repair.application(enterprise, [record]), "extra": 1}, 422, "body.extra"),
    ]
    for body, status, field in cases:
        response = await repair.post(body)
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert problem["field"] == field, problem
        assert response.headers["content-type"].startswith("application/problem+json")
    # Only an admin may backdate; the department's attempt is refused.
    response = await repair.post(repair.application(enterprise, [record], accepted_at="2020-03-06T16:30:00+08:00"))
    assert response.status_code == 403 and response.json()["field"] == "body.accepted_at"
    # Not even an admin may date an application in the future, or without an offset.
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert (await repair.post(repair.application(enterprise, [record], accepted_at=future), repair.admin)).status_code == 422
    naive = await repair.post(repair.application(enterprise, [record], accepted_at="2020-03-06T16:30:00"), repair.admin)
    assert naive.status_code == 422 and naive.json()["field"] == "body.accepted_at"
    # Reviewers and agencies do not file applications; no token, no entry.
    assert (await repair.post(repair.application(enterprise, [record]), repair.reviewer("initial"))).status_code == 403
    assert (await repair.post(repair.application(enterprise, [record]), repair.auth("agency"))).status_code == 403
    assert (await repair.post(repair.application(enterprise, [record]), {})).status_code == 401
    await assert_nothing_stored(repair)


async def test_a_record_is_in_at_most_one_open_application_and_ended_records_are_refused(repair):
    enterprise = uscc(6006)
    key = f"enterprise:{enterprise}"
    first, second = await repair.list_record(key), await repair.list_record(key)
    response = await repair.post(repair.application(enterprise, [first]))
    assert response.status_code == 201
    again = await repair.post(repair.application(enterprise, [second, first]))
    assert again.status_code == 409 and again.json()["application_id"] == response.json()["id"]
    # A record rating has ended (here withdrawn with its report) can no longer be repaired.
    await repair.end_record(second, key, "withdrawn")
    await repair.wait_record(second, ended=True)
    ended = await repair.post(repair.application(enterprise, [second]))
    assert ended.status_code == 409 and "withdrawn" in ended.json()["detail"]
    assert await repair.scalar("SELECT count(*) FROM repair_applications") == 1


async def test_once_every_dishonest_record_has_ended_the_enterprise_leaves_the_green_channel(repair):
    enterprise = uscc(6007)
    key = f"enterprise:{enterprise}"
    dishonest = await repair.list_record(key)
    warning = await repair.list_record(key, list_="key_warning", behavior="W3")
    await repair.end_record(dishonest, key, "repaired")
    await repair.wait_record(dishonest, ended=True)
    response = await repair.post(repair.application(enterprise, [warning]))
    assert response.status_code == 201 and response.json()["channel"] == "standard"


async def test_listing_events_are_applied_once_even_when_delivered_twice(repair):
    enterprise = uscc(6008)
    key = f"enterprise:{enterprise}"
    record = await repair.list_record(key)
    # The same listing re-published (an outbox replay upstream: new event id, same record) changes nothing.
    from jointcredit_common.events.schemas import SubjectListed, SubjectRef

    await repair.emit(SubjectListed(record_id=record, report_id="r", department="market_regulation",
                                    subject=SubjectRef(type="enterprise", key=key, display_id=enterprise), list="dishonest",
                                    behavior="E7", clause_codes=["E7"], measures=[], reason_zh="x", catalog="dalian-2020-4@1.0.0"), key)
    marker = await repair.list_record(key)  # same partition (same key), so after the duplicate
    assert marker
    assert await repair.scalar("SELECT count(*) FROM listed_records WHERE subject_key = :k", k=key) == 2
    assert await repair.scalar("SELECT behavior FROM listed_records WHERE record_id = :r", r=record) == "E7"
