"""Dispatch and lifting through the real service: subject.listed.v1 on the real broker → measure events on each
agency's own topic (per the catalog's routes), once; record.repaired.v1 → every measure lifted."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from jointcredit_common.testing.kafka import read_topic
from sanctions_service.measures.models import measures
from sanctions_support import (
    CATALOG, citizen, cloudevent, ended, enterprise, expected_routes, incentives, listed, wait_processed,
)

pytestmark = pytest.mark.consumers  # events flow into the app under test

ISSUED = "cn.dalian.jointcredit.measure.issued.v1"
LIFTED = "cn.dalian.jointcredit.measure.lifted.v1"
SUSPENDED = "cn.dalian.jointcredit.measure.suspended.v1"
RESUMED = "cn.dalian.jointcredit.measure.resumed.v1"


async def read_agency(h, agency: str, until, timeout: float = 45.0, settle: float = 0.0):
    return await read_topic(h.bootstrap, h.topic(f"measures.{agency}"), until=until, timeout=timeout, settle=settle)


async def test_price_gouging_with_penalty_sends_each_punishment_to_its_agency_once_and_repair_lifts_them_all(sanctions):
    subject = enterprise(501, "大连哄抬物价药房有限公司")
    listing = listed(subject, "E7")
    routes = expected_routes(listing)
    # P1 → securities, trading centre, finance, tax; P2 → banks, airlines, rail; P3, P4, P6.
    assert {a for a, _ in routes} >= {"securities_regulator", "public_resource_trading_center", "finance_bureau",
                                      "tax_bureau", "xinyidai_banks", "airlines", "railway", "credit_office"}
    first = cloudevent(listing, key=subject.key)
    async with sanctions() as h:
        await h.send(first)
        issued_ids: dict[tuple[str, str], str] = {}
        for agency in sorted({a for a, _ in routes}):
            wanted = {code for a, code in routes if a == agency}
            events = await read_agency(h, agency, until=lambda evs, w=wanted: {e.data["measure"] for e in evs} >= w)
            issued = [e for e in events if e.type == ISSUED]
            assert sorted(e.data["measure"] for e in issued) == sorted(wanted), agency
            for event in issued:
                assert event.key == subject.key and event.subject == subject.key
                assert event.data["agency"] == agency and event.data["record_id"] == listing.record_id
                assert event.data["list"] == "dishonest"
                assert event.data["basis"] == {"catalog": CATALOG.id, "document": "大信办字〔2020〕4号",
                                               "clause_codes": ["E7"], "evidence_document_no": "大市监罚〔2020〕12号"}
                measure = CATALOG.measure(event.data["measure"])
                route = next(r for r in measure.agencies if r.agency == agency)
                assert event.data["text_zh"] == (route.part_zh or measure.text_zh)
                assert event.data["starts_on"] == "2020-03-12" and event.data["planned_end_on"] == "2021-03-11"
                issued_ids[(agency, event.data["measure"])] = event.id
        # Agencies the catalog does not route E7's measures to hear nothing.
        quiet = ("sasac", "education_bureau")  # read side by side: each read waits its full timeout
        assert await asyncio.gather(*(read_agency(h, agency, until=None, timeout=2) for agency in quiet)) == [[], []]

        # The same event delivered again, and the same listing re-announced under a new event id: nothing twice.
        await h.send(first, cloudevent(listing, key=subject.key))
        await wait_processed(h.runtime, 2)  # the duplicate is skipped by the inbox; the re-announcement is processed
        agencies = sorted({a for a, _ in routes})  # read side by side: each read waits its full timeout for doubles
        for agency, events in zip(agencies, await asyncio.gather(
                *(read_agency(h, agency, until=lambda evs: False, timeout=3) for agency in agencies)), strict=True):
            assert sorted((e.data["measure"], e.id) for e in events if e.type == ISSUED) == sorted(
                (code, eid) for (a, code), eid in issued_ids.items() if a == agency)

        # The pull feed carries the same events with the same ids.
        feed = (await h.client.get("/v1/agencies/airlines/measures", headers=h.auth("agency", "airlines"))).json()
        assert [item["id"] for item in feed["items"]] == [issued_ids[("airlines", "P2")]]

        await h.send(cloudevent(ended("repaired", listing), key=subject.key))
        for agency in {a for a, _ in routes}:
            wanted = {code for a, code in routes if a == agency}
            events = await read_agency(h, agency, until=lambda evs, w=wanted: {e.data["measure"] for e in evs if e.type == LIFTED} >= w)
            lifted = [e for e in events if e.type == LIFTED]
            assert sorted(e.data["measure"] for e in lifted) == sorted(wanted)
            assert all(e.data["reason"].startswith("repaired: ") and e.key == subject.key for e in lifted)
            assert {e.data["measure_id"] for e in lifted} == {e.data["measure_id"] for e in events if e.type == ISSUED}
            # order per subject on the agency's topic: issued before lifted
            assert [e.type for e in events] == [ISSUED] * len(wanted) + [LIFTED] * len(wanted)
        async with h.runtime.sessionmaker() as session:
            states = (await session.execute(select(measures.c.state).where(measures.c.subject_key == subject.key))).scalars().all()
        assert sorted(states) == ["lifted"] * len(routes)

        # What has ended is no longer shared (停止共享): the pull feed stops carrying the issued event (subject, basis,
        # penalty number) and keeps only the lifting, which tells an agency that has not read it yet to stop.
        feed = (await h.client.get("/v1/agencies/airlines/measures", headers=h.auth("agency", "airlines"))).json()
        assert [(item["type"], item["data"]["measure"]) for item in feed["items"]] == [(LIFTED, "P2")]
        assert "basis" not in feed["items"][0]["data"] and feed["items"][0]["id"] != issued_ids[("airlines", "P2")]
        # Read as a measure, it says lifted, when and why, but no longer whom or on what basis; the credit office's
        # (admin) view keeps the whole record (依规保存).
        measure_id = feed["items"][0]["data"]["measure_id"]
        seen_by_airline = (await h.client.get(f"/v1/measures/{measure_id}", headers=h.auth("agency", "airlines"))).json()
        assert seen_by_airline["state"] == "lifted" and seen_by_airline["lift_reason"].startswith("repaired: ")
        assert seen_by_airline["subject"] is None and seen_by_airline["basis"] is None and seen_by_airline["text_zh"] is None
        (listed_item,) = (await h.client.get("/v1/measures?state=lifted", headers=h.auth("agency", "airlines"))).json()["items"]
        assert listed_item["id"] == measure_id and listed_item["subject"] is None
        kept = (await h.client.get(f"/v1/measures/{measure_id}", headers=h.auth("admin"))).json()
        assert kept["subject"]["key"] == subject.key and kept["basis"]["evidence_document_no"] == "大市监罚〔2020〕12号"


async def test_key_warning_sends_the_warning_notice_and_the_credit_record_push(sanctions):
    subject = enterprise(502)
    listing = listed(subject, "W3")
    async with sanctions() as h:
        await h.send(cloudevent(listing, key=subject.key))
        notice = await read_agency(h, "credit_office", until=lambda evs: len(evs) >= 1)
        record = await read_agency(h, "public_credit_platform", until=lambda evs: len(evs) >= 1)
        view = await h.client.get(f"/v1/measures/{notice[0].data['measure_id']}", headers=h.auth("agency", "credit_office"))
    assert [(e.type, e.data["measure"], e.data["kind"]) for e in notice] == [(ISSUED, "N1", "notice")]
    assert [(e.type, e.data["measure"]) for e in record] == [(ISSUED, "N2")]
    assert notice[0].data["list"] == "key_warning"
    # 一: the warning reaches the subject through the reporting department; the credit office sees who that is.
    assert view.status_code == 200
    assert view.json()["reporting_department"] == "market_regulation" and view.json()["kind"] == "notice"
    assert "notice" in view.json()


async def test_citizen_identity_reaches_only_the_agencies_entitled_to_identify_a_person(sanctions):
    person = citizen(17, "李四海")
    listing = listed(person, "C2")
    async with sanctions() as h:
        await h.send(cloudevent(listing, key=person.key))
        airlines = await read_agency(h, "airlines", until=lambda evs: len(evs) >= 1)
        publicity = await read_agency(h, "credit_china_dalian", until=lambda evs: len(evs) >= 1)
        coordinator = await read_agency(h, "credit_office", until=lambda evs: len(evs) >= 1)
        sasac = await read_agency(h, "sasac", until=lambda evs: len(evs) >= 1)
        feed = (await h.client.get("/v1/agencies/credit_china_dalian/measures",
                                   headers=h.auth("agency", "credit_china_dalian"))).json()
    for entitled in (airlines[0], sasac[0]):  # P2 travel restriction, P5 SOE offices: must match the person
        assert entitled.data["subject"]["id_encrypted"] == person.id_encrypted
        assert entitled.data["subject"]["name_encrypted"] == person.name_encrypted
    for masked in (publicity[0], coordinator[0]):  # P3 publicity, P6 coordination: masked display values only
        assert masked.data["subject"]["id_encrypted"] is None and masked.data["subject"]["name_encrypted"] is None
    for event in (airlines[0], publicity[0], coordinator[0], sasac[0]):
        assert event.data["subject"]["display_id"] == person.display_id and "*" in event.data["subject"]["display_id"]
        assert event.data["subject"]["display_name"] == "李*海"
        assert "210202" not in str(event.data) or "**" in event.data["subject"]["display_id"]
    assert feed["items"][0]["data"]["subject"]["id_encrypted"] is None


async def test_red_list_incentives_pause_while_a_dishonest_record_is_active_and_resume_after_repair(sanctions):
    subject = enterprise(503, "大连捐赠物资有限公司")
    red = listed(subject, "G5")
    dishonest = listed(subject, "E2")
    async with sanctions() as h:
        await h.send(cloudevent(red, key=subject.key))
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: {e.data["measure"] for e in evs} >= {"F"})
        assert [(e.type, e.data["measure"]) for e in banks] == [(ISSUED, "F")]
        # rating lists the dishonest record, then announces its decision to pause the red record's incentives
        await h.send(cloudevent(dishonest, key=subject.key), incentives("suspended", red, dishonest))
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 3)
        # F is paused (not lifted: the red record stands) and P2 issued for the dishonest record
        assert [(e.type, e.data["measure"]) for e in banks[1:]] == [(ISSUED, "P2"), (SUSPENDED, "F")]
        # A second red listing while dishonest: incentives withheld (rating marks them suppressed), nothing sent yet.
        red_again = listed(subject, "G6", suppressed=True)
        assert "F" in red_again.suppressed_measures
        await h.send(cloudevent(red_again, key=subject.key))
        await wait_processed(h.runtime, 4)
        trading = await read_agency(h, "public_resource_trading_center", until=lambda evs: len(evs) >= 3, timeout=5)
        # I3 of the first red record was suspended after P1 was issued; the withheld I3 of G6 was not sent.
        assert sorted((e.type, e.data["measure"]) for e in trading) == sorted(
            [(ISSUED, "I3"), (SUSPENDED, "I3"), (ISSUED, "P1")])

        # The repair ends the dishonest record; rating then returns both red records' incentives.
        await h.send(cloudevent(ended("repaired", dishonest), key=subject.key),
                     incentives("resumed", red, dishonest), incentives("resumed", red_again, dishonest))
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 6)
        tail = [(e.type, e.data["measure"], e.data["record_id"]) for e in banks[3:]]
        assert tail == [(LIFTED, "P2", dishonest.record_id), (RESUMED, "F", red.record_id),
                        (ISSUED, "F", red_again.record_id)]  # the punishment is lifted before incentives come back
        async with h.runtime.sessionmaker() as session:
            rows = (await session.execute(select(measures.c.record_id, measures.c.measure, measures.c.state)
                                          .where(measures.c.agency == "xinyidai_banks"))).all()
        assert sorted((str(r), m, s) for r, m, s in rows) == sorted([
            (red.record_id, "F", "in_force"), (dishonest.record_id, "P2", "lifted"), (red_again.record_id, "F", "in_force")])


async def test_only_ratings_decision_pauses_and_returns_incentives(sanctions):
    """One owner per rule: rating decides whether a subject has a live dishonest record (it counts disputed records
    too). Sanctions never re-derives it: a dishonest listing alone pauses nothing, and rating's return applies even
    while sanctions still holds a dishonest record of the subject as active."""
    subject = enterprise(504)
    red = listed(subject, "G6")
    dishonest = listed(subject, "E8")
    async with sanctions() as h:
        await h.send(cloudevent(red, key=subject.key), cloudevent(dishonest, key=subject.key))
        await wait_processed(h.runtime, 2)
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 2, settle=1.0)
        assert [(e.type, e.data["measure"]) for e in banks] == [(ISSUED, "F"), (ISSUED, "P2")]

        await h.send(incentives("suspended", red, dishonest, reason="暂停"))
        await h.send(incentives("resumed", red, dishonest, reason="恢复"))  # the dishonest record still active here
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 4)
        await h.send(cloudevent(ended("withdrawn", dishonest), key=subject.key))
        banks = await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 5, settle=1.0)
        assert [(e.type, e.data["measure"], e.data.get("reason")) for e in banks[2:]] == [
            (SUSPENDED, "F", "暂停"), (RESUMED, "F", "恢复"), (LIFTED, "P2", "withdrawn: 信用修复申请经终审通过")]
        async with h.runtime.sessionmaker() as session:
            rows = dict((await session.execute(select(measures.c.measure, measures.c.state)
                                               .where(measures.c.record_id == red.record_id))).all())
        assert set(rows.values()) == {"in_force"}

        # A repeated decision (a new event id: rating re-announced it) changes nothing.
        await h.send(incentives("resumed", red, dishonest))
        await wait_processed(h.runtime, 6)
        assert len(await read_agency(h, "xinyidai_banks", until=lambda evs: len(evs) >= 5, settle=1.0)) == 5
