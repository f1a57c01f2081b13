"""GET /v1/catalog shows the end of the emergency response in force (the setting, else the catalog's), and the
running service classifies by it (closing clause "新冠肺炎疫情应急响应结束后终止")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jointcredit_common.testing.factories import uscc

from rating_service.records.models import classifications

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()


@pytest.mark.consumers  # the report reaches rating as an event
async def test_the_catalog_shows_the_configured_end_and_reports_after_it_list_nothing(rating_app, kit):
    shop = kit.Subject("enterprise", uscc(890_001), "大连应急响应结束测试有限公司")
    ended = TODAY - timedelta(days=30)
    async with rating_app(emergency_ends_on=ended) as (app, client):
        validity = (await client.get("/v1/catalog")).json()["validity"]
        assert validity["ends_on"] == ended.isoformat() and validity["starts_on"] == "2020-02-21"
        assert validity["emergency_response"] == {"setting": ended.isoformat(), "ended": True}

        runtime = app.state.runtime
        # Inside the window, its warning period still running, but reported after the end: history, not listed.
        late = kit.report_event(shop, "W1", occurred_on=ended - timedelta(days=10))
        after = kit.report_event(shop, "W1", occurred_on=ended + timedelta(days=1))
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [late, after])
        await kit.wait_classified(runtime, [late.data["report_id"], after.data["report_id"]])
        record = await kit.wait_record(runtime, late.data["report_id"])
        assert record["state"] == "history" and record["measures"] == []
        assert f"应急响应已于{ended.year}年{ended.month}月{ended.day}日结束" in record["reason_zh"]
        async with runtime.sessionmaker() as session:
            outcome = await session.scalar(select(classifications.c.outcome).where(
                classifications.c.report_id == uuid.UUID(after.data["report_id"])))
        assert outcome == "out_of_scope"
        assert (await client.get("/v1/public/lists/key_warning", params={"q": shop.id})).json()["items"] == []


async def test_the_catalog_shows_an_explicit_not_ended(rating_app):
    async with rating_app(emergency_ends_on="not_ended") as (_, client):
        validity = (await client.get("/v1/catalog")).json()["validity"]
    assert validity["ends_on"] is None
    assert validity["emergency_response"] == {"setting": "not_ended", "ended": False}
