"""Per-credential and per-address rate limits (RateLimitMiddleware): 429 problem with Retry-After, nothing written for
a refused request, other callers unaffected, probes exempt, made-up tokens buy no fresh buckets."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from typing import Any

import pytest

from jointcredit_common.middleware import TokenBuckets
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.plugin import token_of

pytestmark = pytest.mark.hostile


def test_a_bucket_grants_its_burst_then_one_token_per_interval():
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("k", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", 100.0) == pytest.approx(0.5)  # refused: the next token is half a second away
    assert buckets.wait("k", 100.25) == pytest.approx(0.25)
    assert buckets.take("k", 100.5) == 0.0
    assert buckets.take("other", 100.5) == 0.0  # keys do not share
    assert buckets.take("k", 200.0) == 0.0 and buckets.take("k", 200.0) == 0.0 and buckets.take("k", 200.0) == 0.0
    assert buckets.take("k", 200.0) > 0  # refilled to the burst, never beyond


def test_buckets_stay_bounded_under_a_flood_of_keys():
    buckets = TokenBuckets(rate=1.0, burst=2, max_keys=100)
    for n in range(1000):
        buckets.take(f"k{n}", 0.0)
    assert len(buckets._buckets) <= 100
    buckets.take("busy", 0.0)
    buckets.take("busy", 0.0)
    assert buckets.take("busy", 0.0) > 0


def test_a_rate_without_a_burst_is_refused_at_start_up_and_zero_turns_a_limit_off():
    from pydantic import ValidationError

    from jointcredit_common.settings import ServiceSettings

    database = "postgresql+asyncpg://ingest@db/ingest"
    with pytest.raises(ValidationError, match="rate_limit_burst must be at least 1"):
        ServiceSettings(database_url=database, rate_limit_per_second=5, rate_limit_burst=0)
    with pytest.raises(ValidationError, match="anonymous_rate_limit_burst"):
        ServiceSettings(database_url=database, anonymous_rate_limit_burst=0)
    off = ServiceSettings(database_url=database, rate_limit_per_second=0, rate_limit_burst=0)
    assert off.rate_limit_per_second == 0 and off.anonymous_rate_limit_per_second == 10.0


class ManualClock:
    """The rate limits' clock, moved only by the test: a slow machine's requests take no time as far as the
    buckets know, so what is refused depends on the count of requests alone."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manual_clock(monkeypatch) -> ManualClock:
    from jointcredit_common import middleware

    clock = ManualClock()
    monkeypatch.setattr(middleware, "clock", clock)
    return clock


def report(n: int) -> dict[str, Any]:
    return {"subject": {"type": "enterprise", "id": uscc(9500 + n), "name": f"大连某某{n}号商贸有限公司"}, "behavior": "W1",
            "occurred_on": (date.today() - timedelta(days=45)).isoformat(), "description": "未落实复工防控措施",
            "evidence": {"kind": "none"}}


def rate_limited_count(metrics: str, kind: str) -> float:
    match = re.search(rf'jc_http_rate_limited_total{{key_kind="{kind}",service="ingest"}} ([0-9.e+]+)', metrics)
    return float(match.group(1)) if match else 0.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_burst_over_the_credential_limit_gets_429_and_stores_nothing_for_the_refused(jc_app, jc_credentials,
                                                                                          manual_clock):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings

    creds = jc_credentials[1]
    market = bearer(token_of(creds, "department", "market_regulation"))
    court = bearer(token_of(creds, "department", "intermediate_court"))
    admin = bearer(token_of(creds, "admin"))
    async with jc_app("ingest", create_app, IngestSettings, rate_limit_per_second=2, rate_limit_burst=5) as (_, client):
        before = rate_limited_count((await client.get("/metrics")).text, "credential")
        answers = [await client.post("/v1/reports", json=report(n), headers=market) for n in range(8)]
        assert [a.status_code for a in answers] == [202] * 5 + [429] * 3
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) >= 1
        problem = refused.json()
        assert problem["status"] == 429 and problem["type"].endswith("/rate-limited") and problem["limit_per_second"] == 2
        assert "retry after" in problem["detail"]
        # nothing of the refused three was written; the accepted five were
        stored = (await client.get("/v1/reports", headers=admin)).json()["items"]
        assert sorted(r["subject"]["key"] for r in stored) == sorted(f"enterprise:{uscc(9500 + n)}" for n in range(5))
        # another credential has its own bucket: under its limit it is unaffected
        assert (await client.post("/v1/reports", json=report(20), headers=court)).status_code == 202
        # probes and scrapes are never limited
        for _ in range(20):
            assert (await client.get("/healthz")).status_code == 200
        after = rate_limited_count((await client.get("/metrics")).text, "credential")
        assert after - before == 3
        # the bucket refills at the configured rate: just before Retry-After still refused, after it admitted again
        manual_clock.now += 0.4
        assert (await client.post("/v1/reports", json=report(5), headers=market)).status_code == 429
        manual_clock.now += int(refused.headers["retry-after"]) - 0.4
        assert (await client.post("/v1/reports", json=report(5), headers=market)).status_code == 202


async def test_anonymous_callers_share_their_address_bucket_and_made_up_tokens_buy_no_fresh_ones(jc_app, jc_credentials,
                                                                                                 manual_clock):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings

    market = bearer(token_of(jc_credentials[1], "department", "market_regulation"))
    async with jc_app("ingest", create_app, IngestSettings, anonymous_rate_limit_per_second=0.2,
                      anonymous_rate_limit_burst=4) as (_, client):
        assert (await client.get("/v1/departments/me", headers=market)).status_code == 200  # a credential seen working
        public = [await client.get("/v1/public/commitments") for _ in range(6)]
        assert [r.status_code for r in public] == [200] * 4 + [429] * 2
        assert int(public[-1].headers["retry-after"]) >= 1
        assert public[-1].json()["limit_per_second"] == 0.2
        # a fresh made-up token per request: refused as 429 (not answered 401) while the address's bucket is empty
        sprayed = await client.get("/v1/reports", headers=bearer("jc_dept_" + secrets.token_urlsafe(32)))
        assert sprayed.status_code == 429, sprayed.text
        # a credential that has authenticated here keeps its own limit and is not held back by the address
        assert (await client.get("/v1/departments/me", headers=market)).status_code == 200


async def test_401_answers_cost_the_address_like_anonymous_requests(jc_app, manual_clock):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings

    async with jc_app("ingest", create_app, IngestSettings, anonymous_rate_limit_per_second=0.2,
                      anonymous_rate_limit_burst=3) as (_, client):
        answers = [await client.get("/v1/reports", headers=bearer("jc_dept_" + secrets.token_urlsafe(32))) for _ in range(5)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]
        assert (await client.get("/v1/public/commitments")).status_code == 429  # the same address, now anonymous


async def test_made_up_tokens_on_a_public_route_pay_the_address_like_anonymous_requests(jc_app, jc_credentials, manual_clock):
    """Security review H3: a public route answers 200 whatever token comes with it, so a fresh made-up token per
    request (or one fixed one) used to buy a bucket of its own — 5,000 of 5,000 admitted. It pays the address now."""
    from rating_service.main import create_app
    from rating_service.settings import RatingSettings

    admin = bearer(token_of(jc_credentials[1], "admin"))
    async with jc_app("rating", create_app, RatingSettings, anonymous_rate_limit_per_second=0.2,
                      anonymous_rate_limit_burst=4) as (_, client):
        fresh = [await client.get("/v1/public/lists/red", headers=bearer("jc_x_" + secrets.token_urlsafe(32))) for _ in range(6)]
        assert [r.status_code for r in fresh] == [200] * 4 + [429] * 2
        fixed = bearer("jc_x_" + secrets.token_urlsafe(32))
        assert (await client.get("/v1/public/lists/red", headers=fixed)).status_code == 429
        assert (await client.get("/v1/public/lists/red")).status_code == 429
        # a real credential proves itself on an authenticated route and then keeps its own limit, also on public routes
        manual_clock.now += 5  # one token back in the address's bucket for the first, unproven request
        assert (await client.get("/v1/admin/dead-letters", headers=admin)).status_code == 200  # verified: refunded
        assert (await client.get("/v1/public/lists/red")).status_code == 200  # so the address still has that token
        assert [(await client.get("/v1/public/lists/red", headers=admin)).status_code for _ in range(6)] == [200] * 6
