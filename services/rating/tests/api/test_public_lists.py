"""GET /v1/public/lists/{key_warning|red|dishonest}: what the public sees — keyset pages, search, masking,
only records inside their publicity period, disputed ones marked, ended ones gone."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import ReportWithdrawn
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
OCCURRED = TODAY - timedelta(days=60)
POLICE = {"kind": "administrative_penalty", "document_no": "大公（中）行罚决字〔2020〕41号", "authority": "大连市公安局中山分局",
          "decided_on": (TODAY - timedelta(days=20)).isoformat()}
MASKED_ID = re.compile(r"^\d{4}\*{10}[\dX]{4}$")


@pytest.mark.consumers
async def test_key_warning_list_pages_by_keyset_without_gaps_or_repeats(rating_app, kit):
    companies = [kit.Subject("enterprise", uscc(810_000 + n), f"大连翻页{n}号机械有限公司") for n in range(7)]
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        events = [kit.report_event(c, "W3", occurred_on=OCCURRED) for c in companies]
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
        await kit.wait_classified(runtime, [e.data["report_id"] for e in events])

        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
            body = (await client.get("/v1/public/lists/key_warning", params=params)).json()
            pages += 1
            assert len(body["items"]) <= 3 and body["list_name_zh"] == "重点警示名单"
            seen.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert pages == 3
        assert sorted(i["subject"]["id"] for i in seen) == sorted(c.id for c in companies)
        assert len({i["record_id"] for i in seen}) == 7
        order = [(i["publicity_starts_on"], i["record_id"]) for i in seen]
        assert order == sorted(order, reverse=True)
        assert all(i["clause_codes"] == ["W3"] and i["clause_refs"] == ["一.3"] and set(i["measures"]) == {"N1", "N2"}
                   for i in seen)

        # Search: by a name fragment and by the full USCC; an unknown list or a forged cursor is a 422.
        by_name = (await client.get("/v1/public/lists/key_warning", params={"q": "翻页4号"})).json()["items"]
        assert [i["subject"]["id"] for i in by_name] == [companies[4].id]
        by_code = (await client.get("/v1/public/lists/key_warning", params={"q": companies[2].id.lower()})).json()["items"]
        assert [i["subject"]["name"] for i in by_code] == [companies[2].name]
        assert (await client.get("/v1/public/lists/key_warning", params={"q": "100%_"})).json()["items"] == []
        bad = await client.get("/v1/public/lists/key_warning", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
        assert (await client.get("/v1/public/lists/blacklist")).status_code == 422
        # Not on the red list or the dishonest list.
        assert (await client.get("/v1/public/lists/red", params={"q": companies[0].id})).json()["items"] == []


@pytest.mark.consumers
async def test_dishonest_list_masks_citizens_and_shows_only_records_in_publicity(rating_app, kit):
    zhang = kit.Subject("citizen", kit.resident_id(301), "张小三")
    ouyang = kit.Subject("citizen", kit.resident_id(302), "欧阳娜娜")
    shop = kit.Subject("enterprise", uscc(820_001), "大连哄抬药房有限公司")
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        events = [
            kit.report_event(zhang, "C2", occurred_on=OCCURRED, evidence=POLICE, department="public_security"),
            kit.report_event(ouyang, "C6", occurred_on=OCCURRED, evidence=POLICE, department="public_security"),
            kit.report_event(shop, "E7", occurred_on=OCCURRED, evidence=POLICE | {"authority": "大连市市场监督管理局"}),
        ]
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
        records = [await kit.wait_record(runtime, e.data["report_id"]) for e in events]

        body = (await client.get("/v1/public/lists/dishonest", params={"type": "citizen"})).json()
        assert {i["subject"]["name"] for i in body["items"]} == {"张*三", "欧**娜"}
        assert all(MASKED_ID.match(i["subject"]["id"]) for i in body["items"])
        text = str(body)
        assert zhang.id not in text and ouyang.id not in text and "张小三" not in text and "欧阳娜娜" not in text
        # A citizen is found by the full resident ID (keyed hash), never shown in clear.
        hit = (await client.get("/v1/public/lists/dishonest", params={"q": zhang.id})).json()["items"]
        assert [i["record_id"] for i in hit] == [str(records[0]["id"])]
        assert hit[0]["subject"]["id"] == zhang.id[:4] + "*" * 10 + zhang.id[-4:]
        assert hit[0]["evidence"]["document_no"] == POLICE["document_no"] and hit[0]["tier_name_zh"] == "一般失信"

        # Outside its publicity period a record is not published, whatever its state (expiry may lag a pass).
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(update(runtime_records()).where(runtime_records().c.id == records[1]["id"])
                                  .values(publicity_ends_on=TODAY - timedelta(days=1), state="active"))
        body = (await client.get("/v1/public/lists/dishonest")).json()
        assert str(records[1]["id"]) not in {i["record_id"] for i in body["items"]}
        assert str(records[2]["id"]) in {i["record_id"] for i in body["items"]}


@pytest.mark.consumers
async def test_withdrawn_report_leaves_the_list_and_is_announced(rating_app, kit):
    shop = kit.Subject("enterprise", uscc(830_001), "大连撤销测试口罩有限公司")
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        event = kit.report_event(shop, "E4", occurred_on=OCCURRED, evidence=POLICE | {"authority": "大连市市场监督管理局"})
        await kit.publish(bootstrap, runtime.topic("reports"), [event])
        record = await kit.wait_record(runtime, event.data["report_id"])
        listed = (await client.get("/v1/public/lists/dishonest", params={"q": shop.id})).json()["items"]
        assert [i["record_id"] for i in listed] == [str(record["id"])]

        # The penalty was revoked on appeal: ingest withdraws the report (二 intro; DESIGN §2 due process).
        withdrawn = ReportWithdrawn(report_id=event.data["report_id"], department="market_regulation",
                                    subject_key=event.key, reason="行政处罚决定经行政复议被撤销", withdrawn_at=datetime.now(UTC))
        await kit.publish(bootstrap, runtime.topic("reports"), [CloudEvent(
            type=ReportWithdrawn.type_name(), source="/jointcredit/ingest", subject=event.key, key=event.key,
            data=withdrawn.to_data())])
        await kit.wait_record(runtime, event.data["report_id"], state="withdrawn")
        assert (await client.get("/v1/public/lists/dishonest", params={"q": shop.id})).json()["items"] == []
        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=30, settle=1.0,
                                  until=lambda evs: any(e.type.endswith("record.withdrawn.v1") for e in evs))
        ended = [e for e in events if e.type.endswith("record.withdrawn.v1")]
        assert len(ended) == 1 and ended[0].data["record_id"] == str(record["id"]) and ended[0].key == event.key
        assert ended[0].data["reason"] == "行政处罚决定经行政复议被撤销"


def runtime_records():
    from rating_service.records.models import credit_records

    return credit_records


def test_cursor_round_trips_and_rejects_garbage():
    from jointcredit_common.paging import decode_cursor, encode_cursor

    record_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(TODAY, record_id), date, uuid.UUID) == (TODAY, record_id)
