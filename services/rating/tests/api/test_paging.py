"""Keyset paging at scale (issue 7): the admin objection list pages by cursor without gaps or repeats, a public
list filtered by subject type pages through exactly that type, and the list queries can use their indexes in
the generic plan of a prepared statement (what asyncpg runs after a few executions), not only when the planner
sees the values."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from jointcredit_common.testing.factories import uscc

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2026〕5号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=10)).isoformat()}
POLICE = PENALTY | {"document_no": "大公行罚决字〔2026〕9号", "authority": "大连市公安局"}


async def pages(client, url: str, params: dict, headers: dict | None = None, *, most: int = 50) -> list[list[dict]]:
    """Every page of a list, following ``next_cursor`` (at most ``most`` pages: a cursor that is ignored loops)."""
    result, cursor = [], None
    for _ in range(most):
        response = await client.get(url, params=params | ({"cursor": cursor} if cursor else {}), headers=headers or {})
        assert response.status_code == 200, response.text
        body = response.json()
        result.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return result
    raise AssertionError(f"{url} still had a next_cursor after {most} pages")


@pytest.mark.consumers
async def test_admin_objection_list_pages_by_keyset_earliest_deadline_first(rating_app, kit, tokens):
    shops = [kit.Subject("enterprise", uscc(850_000 + n), f"大连异议分页{n}号有限公司") for n in range(5)]
    admin = kit.auth(tokens("admin"))
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        events = [kit.report_event(s, "E7", occurred_on=TODAY - timedelta(days=40), evidence=PENALTY) for s in shops]
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
        records = [await kit.wait_record(runtime, e.data["report_id"]) for e in events]
        filed = []
        for record in records:
            response = await client.post(f"/v1/records/{record['id']}/objections", json={"grounds": "处罚决定有误"}, headers=admin)
            assert response.status_code == 201, response.text
            filed.append(response.json()["id"])
        # Different deadlines (two share one: the id breaks the tie), so the order is not the filing order.
        from rating_service.records.models import objections

        due = {filed[0]: 9, filed[1]: 2, filed[2]: 5, filed[3]: 2, filed[4]: 7}
        async with runtime.sessionmaker() as session, session.begin():
            for objection_id, days in due.items():
                await session.execute(update(objections).where(objections.c.id == uuid.UUID(objection_id))
                                      .values(due_on=TODAY + timedelta(days=days)))

        walked = await pages(client, "/v1/objections", {"state": "pending", "limit": 2}, admin)
        assert [len(p) for p in walked] == [2, 2, 1]
        seen = [o["id"] for p in walked for o in p]
        assert sorted(seen) == sorted(filed) and len(set(seen)) == 5
        assert [(o["due_on"], o["id"]) for p in walked for o in p] == sorted(
            ((TODAY + timedelta(days=d)).isoformat(), i) for i, d in due.items())

        # Unchanged for clients that never send a cursor: the first `limit` items; a forged cursor is a 422.
        first = (await client.get("/v1/objections", params={"limit": 3}, headers=admin)).json()
        assert [o["id"] for o in first["items"]] == seen[:3] and first["next_cursor"]
        assert (await client.get("/v1/objections", params={"limit": 10}, headers=admin)).json()["next_cursor"] is None
        bad = await client.get("/v1/objections", params={"cursor": "bm90IG9uZSBvZiBvdXJz"}, headers=admin)
        assert bad.status_code == 422 and bad.json()["field"] == "query.cursor"
        assert (await client.get("/v1/objections", params={"state": "rejected"}, headers=admin)).json() == {
            "items": [], "next_cursor": None}


@pytest.mark.consumers
async def test_a_list_filtered_by_subject_type_pages_through_exactly_that_type(rating_app, kit):
    shops = [kit.Subject("enterprise", uscc(860_000 + n), f"大连类型筛选{n}号药房有限公司") for n in range(3)]
    people = [kit.Subject("citizen", kit.resident_id(860 + n), f"类型{n}号") for n in range(4)]
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        events = [kit.report_event(s, "E7", occurred_on=TODAY - timedelta(days=40), evidence=PENALTY) for s in shops]
        events += [kit.report_event(p, "C2", occurred_on=TODAY - timedelta(days=40), evidence=POLICE,
                                    department="public_security") for p in people]
        await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), events)
        await kit.wait_classified(runtime, [e.data["report_id"] for e in events])

        citizens = [i for p in await pages(client, "/v1/public/lists/dishonest", {"type": "citizen", "limit": 1}) for i in p]
        assert len(citizens) == 4 and {i["subject"]["name"] for i in citizens} == {"类**号"}
        enterprises = [i for p in await pages(client, "/v1/public/lists/dishonest", {"type": "enterprise", "limit": 2})
                       for i in p]
        assert sorted(i["subject"]["id"] for i in enterprises) == sorted(s.id for s in shops)
        # The key warning list holds enterprises only: a citizen filter finds nothing (and must not scan it all).
        assert (await client.get("/v1/public/lists/key_warning", params={"type": "citizen"})).json()["items"] == []
        # Search by a name fragment pages too.
        found = [i for p in await pages(client, "/v1/public/lists/dishonest", {"q": "类型筛选", "limit": 2}) for i in p]
        assert sorted(i["subject"]["id"] for i in found) == sorted(s.id for s in shops)


async def test_list_and_objection_queries_use_their_indexes_in_a_generic_plan(rating_app):
    """asyncpg prepares every statement; after five executions PostgreSQL may switch to a generic plan, in which
    parameter values are unknown. A partial index (``WHERE state IN ('active', 'disputed')``) or an expression
    index then only applies if the query states the same constants: this fails if they become parameters."""
    from rating_service.lists.views import public_list_query
    from rating_service.objections.views import objections_query

    after = (TODAY, uuid.uuid4())
    queries = {
        "credit_records_public_page": public_list_query("dishonest", today=TODAY, limit=20, after=after),
        "credit_records_public_page_type": public_list_query("key_warning", today=TODAY, limit=20, subject_type="citizen",
                                                             after=after),
        "objections_state_page": objections_query(state="pending", overdue=False, today=TODAY, limit=50, after=after),
    }
    async with rating_app() as (app, _):
        async with app.state.runtime.engine.connect() as conn:
            pg = (await conn.get_raw_connection()).driver_connection  # asyncpg's own: PREPARE / EXECUTE by hand
            await pg.execute("SET plan_cache_mode = force_generic_plan")
            await pg.execute("SET enable_seqscan = off")  # an empty table: only a usable index avoids a seq scan
            for index, query in queries.items():
                compiled = query.compile(dialect=asyncpg_dialect(), compile_kwargs={"render_postcompile": True})
                args = ", ".join(_literal(compiled.params[name]) for name in compiled.positiontup)
                await pg.execute(f"PREPARE jc_{index} AS {compiled}")
                plan = "\n".join(r[0] for r in await pg.fetch(f"EXPLAIN EXECUTE jc_{index}({args})"))
                main_table = "objections" if index.startswith("objections") else "credit_records"
                assert index in plan and not re.search(rf"Seq Scan on {main_table}\b", plan), plan


def _literal(value: object) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"
