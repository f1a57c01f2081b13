"""An agency sees and acts on its own measures only (DESIGN §3, §4): feed, measures, feedback, stats, webhooks."""

from __future__ import annotations

import pytest

from sanctions_support import cloudevent, eventually, enterprise, listed


@pytest.mark.consumers
async def test_an_agency_token_cannot_read_another_agencys_measures(sanctions):
    subject = enterprise(801)
    listing = listed(subject, "E4")
    async with sanctions() as h:
        await h.send(cloudevent(listing, key=subject.key))
        airlines = h.auth("agency", "airlines")

        async def own_feed():
            body = (await h.client.get("/v1/agencies/airlines/measures", headers=airlines)).json()
            return body["items"]

        items = await eventually(own_feed)
        assert [i["data"]["measure"] for i in items] == ["P2"]
        measure_id = items[0]["data"]["measure_id"]

        other = await h.client.get("/v1/agencies/railway/measures", headers=airlines)
        assert other.status_code == 403 and other.json()["field"] == "path.agency"
        assert other.headers["content-type"].startswith("application/problem+json")
        assert (await h.client.get("/v1/agencies/railway/measures")).status_code == 401
        assert (await h.client.get("/v1/agencies/railway/measures", headers=h.auth("department", "market_regulation"))).status_code == 403
        assert (await h.client.get("/v1/agencies/railway/measures", headers=h.auth("admin"))).status_code == 200
        assert (await h.client.get("/v1/agencies/nobody/measures", headers=h.auth("admin"))).status_code == 404

        railway_measures = (await h.client.get("/v1/measures?agency=railway", headers=airlines))
        assert railway_measures.status_code == 403
        mine = (await h.client.get("/v1/measures", headers=airlines)).json()["items"]
        assert {m["agency"] for m in mine} == {"airlines"}

        railway = h.auth("agency", "railway")
        assert (await h.client.get(f"/v1/measures/{measure_id}", headers=railway)).status_code == 403
        assert (await h.client.get(f"/v1/measures/{measure_id}", headers=airlines)).status_code == 200
        feedback = {"result": "applied", "at": "2020-03-20T10:00:00+08:00", "matter": "航班订票限制"}
        assert (await h.client.post(f"/v1/measures/{measure_id}/feedback", json=feedback, headers=railway)).status_code == 403
        assert (await h.client.post(f"/v1/measures/{measure_id}/feedback", json=feedback, headers=h.auth("admin"))).status_code == 403
        assert (await h.client.get("/v1/agencies/railway/stats", headers=airlines)).status_code == 403
        hook = {"url": "https://hooks.example/railway", "secret": "s" * 32}
        assert (await h.client.post("/v1/agencies/railway/webhooks", json=hook, headers=airlines)).status_code == 403
        assert (await h.client.get("/v1/agencies/railway/webhooks", headers=airlines)).status_code == 403


@pytest.mark.consumers
async def test_the_pull_feed_pages_with_a_cursor(sanctions):
    subjects = [enterprise(811 + i) for i in range(3)]
    async with sanctions() as h:
        await h.send(*(cloudevent(listed(s, "E1"), key=s.key) for s in subjects))
        rail = h.auth("agency", "railway")

        async def three():
            items = (await h.client.get("/v1/agencies/railway/measures", headers=rail)).json()["items"]
            return items if len(items) == 3 else None

        everything = await eventually(three)
        pages, cursor = [], 0
        while True:
            page = (await h.client.get(f"/v1/agencies/railway/measures?since={cursor}&limit=2", headers=rail)).json()
            if not page["items"]:
                assert page["next"] == cursor
                break
            pages.append([i["id"] for i in page["items"]])
            cursor = page["next"]
        assert pages == [[i["id"] for i in everything[:2]], [everything[2]["id"]]]
        assert {i["subject"] for i in everything} == {s.key for s in subjects}
        bad = await h.client.get("/v1/agencies/railway/measures?since=-1", headers=rail)
        assert bad.status_code == 422 and bad.json()["field"] == "query.since"


async def test_the_agency_registry_shows_each_agencys_measures_and_channels(sanctions):
    async with sanctions() as h:
        assert (await h.client.get("/openapi.json")).status_code == 200
        body = (await h.client.get("/v1/agencies")).json()
        one = (await h.client.get("/v1/agencies/airlines")).json()
        missing = await h.client.get("/v1/agencies/nobody")
    by_code = {a["code"]: a for a in body["items"]}
    assert {"public_resource_trading_center", "finance_bureau", "tax_bureau", "securities_regulator", "xinyidai_banks",
            "airlines", "railway", "sasac", "public_credit_platform", "credit_china_dalian"} <= set(by_code)
    assert [m["code"] for m in by_code["xinyidai_banks"]["measures"]] == ["P2", "F"]
    assert [m["code"] for m in by_code["public_resource_trading_center"]["measures"]] == ["I3", "P1"]
    assert one["channels"]["kafka_topic"] == h.topic("measures.airlines")
    assert one["channels"]["pull"] == "/v1/agencies/airlines/measures"
    assert one["receives_citizen_identity"] is True and by_code["credit_china_dalian"]["receives_citizen_identity"] is False
    assert missing.status_code == 404


async def test_an_admin_issues_and_revokes_agency_tokens_scoped_to_that_agency(sanctions):
    async with sanctions() as h:
        admin = h.auth("admin")
        assert (await h.client.post("/v1/agencies/sasac/tokens", headers=h.auth("agency", "sasac"))).status_code == 403
        assert (await h.client.post("/v1/agencies/nobody/tokens", headers=admin)).status_code == 404
        bad = await h.client.post("/v1/agencies/sasac/tokens", headers=admin, json={"expires_at": "2020-01-01T00:00:00+08:00"})
        assert bad.status_code == 422 and bad.json()["field"] == "body.expires_at"
        issued = await h.client.post("/v1/agencies/sasac/tokens", headers=admin, json={"description": "国资委对接系统"})
        assert issued.status_code == 201 and issued.json()["scopes"] == ["sasac"]
        token = {"Authorization": f"Bearer {issued.json()['token']}"}
        assert (await h.client.get("/v1/agencies/sasac/measures", headers=token)).status_code == 200
        assert (await h.client.get("/v1/agencies/railway/measures", headers=token)).status_code == 403
        listed_tokens = (await h.client.get("/v1/agencies/sasac/tokens", headers=admin)).json()["items"]
        assert issued.json()["id"] in {t["id"] for t in listed_tokens} and "token" not in listed_tokens[0]
        revoked = await h.client.post(f"/v1/agencies/sasac/tokens/{issued.json()['id']}:revoke", headers=admin)
        assert revoked.status_code == 200
        assert (await h.client.get("/v1/agencies/sasac/measures", headers=token)).status_code == 401
        again = await h.client.post(f"/v1/agencies/sasac/tokens/{issued.json()['id']}:revoke", headers=admin)
        assert again.status_code == 409
