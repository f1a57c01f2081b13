"""Webhooks against a real local HTTP receiver: signed, retried with backoff while it is down, every event delivered
exactly once by event id and in order per subject; dead-lettered after the retry window, then re-driven."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jointcredit_common.devstack import free_port
from sanctions_service.measures.models import measure_events, webhook_attempts, webhook_deliveries
from sanctions_service.metrics import purge_webhook_log
from sanctions_support import cloudevent, ended, enterprise, eventually, incentives, listed

_spec = importlib.util.spec_from_file_location("sanctions_webhook_receiver", Path(__file__).with_name("receiver.py"))
receiver_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = receiver_module
_spec.loader.exec_module(receiver_module)
Receiver = receiver_module.Receiver

SECRET = "whsec_test_" + "k" * 32


async def feed_of(h, agency: str) -> list[dict]:
    async with h.runtime.sessionmaker() as session:
        rows = (await session.execute(select(measure_events).where(measure_events.c.agency == agency)
                                      .order_by(measure_events.c.seq))).mappings().all()
    return [dict(r) for r in rows]


def per_subject(events: list[tuple[str, str]]) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for subject, event_id in events:
        order.setdefault(subject, []).append(event_id)
    return order


async def subscribe(h, agency: str, url: str) -> str:
    response = await h.client.post(f"/v1/agencies/{agency}/webhooks", headers=h.auth("agency", agency),
                                   json={"url": url, "secret": SECRET, "description": "测试接收端"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["signed"] is True and "secret" not in body
    return body["id"]


@pytest.mark.consumers
async def test_a_receiver_that_is_down_for_a_while_gets_every_delivery_exactly_once_in_order_per_subject(sanctions):
    receiver = Receiver(port=free_port(), secret=SECRET)  # down: nothing listens on the port yet
    subjects = [enterprise(1101 + i) for i in range(4)]
    dishonest = [listed(s, "E7") for s in subjects]
    red = listed(subjects[0], "G4")
    async with sanctions(webhook_backoff_base_seconds=0.3, webhook_backoff_max_seconds=1.5) as h:
        subscription = await subscribe(h, "xinyidai_banks", receiver.url)
        # subject 0: F issued (red) → P2 issued (dishonest) + F suspended (rating's decision) → P2 lifted (repair)
        # + F resumed (rating's decision)
        await h.send(cloudevent(red, key=subjects[0].key), *(cloudevent(li, key=li.subject.key) for li in dishonest),
                     incentives("suspended", red, dishonest[0]),
                     *(cloudevent(ended("repaired", li), key=li.subject.key) for li in dishonest),
                     incentives("resumed", red, dishonest[0]))

        async def all_in_feed():
            feed = await feed_of(h, "xinyidai_banks")
            return feed if len(feed) == 1 + 4 * 2 + 2 else None

        feed = await eventually(all_in_feed)

        async def attempts_failed(status_code: int | None, at_least: int) -> bool:
            status = webhook_attempts.c.status_code
            async with h.runtime.sessionmaker() as session:
                return (await session.execute(select(func.count()).select_from(webhook_attempts).where(
                    webhook_attempts.c.error.is_not(None), status.is_(None) if status_code is None else status == status_code,
                ))).scalar_one() >= at_least

        await eventually(lambda: attempts_failed(None, 2), timeout=20)  # down for a while: refused, retried, refused
        receiver.failing_status = 503  # back up, but failing for a while
        receiver.start()
        try:
            await eventually(lambda: attempts_failed(503, 2), timeout=20)
            receiver.failing_status = None  # recovered

            async def everything_arrived():
                return len(receiver.accepted) >= len(feed)

            await eventually(everything_arrived, timeout=60)
            await asyncio.sleep(2.0)  # anything doubled would arrive now
        finally:
            receiver.stop()

        async with h.runtime.sessionmaker() as session:
            deliveries = (await session.execute(select(webhook_deliveries).where(
                webhook_deliveries.c.subscription_id == subscription))).mappings().all()
            attempts = (await session.execute(select(webhook_attempts))).mappings().all()
        log = (await h.client.get(f"/v1/webhooks/{subscription}/deliveries", headers=h.auth("agency", "xinyidai_banks"))).json()
        one = (await h.client.get(f"/v1/webhooks/{subscription}/deliveries/{deliveries[0]['id']}",
                                  headers=h.auth("agency", "xinyidai_banks"))).json()
        # finished deliveries and their attempt log are purged after the retention period
        h.runtime.settings.webhook_log_retention_days = 1e-9
        await purge_webhook_log(h.runtime)
        async with h.runtime.sessionmaker() as session:
            left = (await session.execute(select(webhook_deliveries.c.id))).all() + (await session.execute(select(webhook_attempts.c.id))).all()
        assert left == []

    counts = Counter(e["id"] for e in receiver.accepted)
    assert set(counts) == {str(r["event_id"]) for r in feed}
    assert max(counts.values()) == 1, "an event was delivered twice"
    assert receiver.rejected == []
    assert per_subject([(e["subject"], e["id"]) for e in receiver.accepted]) == \
        per_subject([(r["subject_key"], str(r["event_id"])) for r in feed])
    kinds = [e["type"].split(".")[-2] for e in receiver.accepted if e["subject"] == subjects[0].key]
    assert kinds[0] == "issued" and kinds.count("resumed") == 1 and kinds.count("lifted") == 1
    assert all(e["specversion"] == "1.0" and e["data"]["agency"] == "xinyidai_banks" for e in receiver.accepted)
    assert {d["state"] for d in deliveries} == {"delivered"} and len(deliveries) == len(feed)
    # the delivery log keeps every attempt: refused connections, then 503s, then the success
    errors = [a["error"] or "" for a in attempts]
    assert any("ConnectError" in e for e in errors) and any(e.startswith("HTTP 503") for e in errors)
    assert max(d["attempts"] for d in deliveries) >= 3
    assert log["counts"] == {"delivered": len(feed)}
    assert len(one["attempt_log"]) == one["attempts"] and one["attempt_log"][-1]["status_code"] == 204


@pytest.mark.consumers
async def test_deliveries_are_dead_lettered_after_the_retry_window_with_the_last_error_and_can_be_redriven(sanctions):
    receiver = Receiver(port=free_port(), secret=SECRET, failing_status=500)
    receiver.start()
    subject = enterprise(1201)
    listing = listed(subject, "E6")
    try:
        async with sanctions(webhook_backoff_base_seconds=0.2, webhook_backoff_max_seconds=0.5,
                             webhook_retry_window_hours=3 / 3600, metrics_refresh_seconds=0.3) as h:
            subscription = await subscribe(h, "airlines", receiver.url)
            admin = h.auth("admin")
            await h.send(cloudevent(listing, key=subject.key))

            async def dead():
                body = (await h.client.get(f"/v1/webhooks/{subscription}/deliveries?state=dead", headers=admin)).json()
                return body["items"]

            items = await eventually(dead, timeout=30)
            assert items[0]["last_error"].startswith("HTTP 500: receiver is having a bad day")
            assert items[0]["attempts"] >= 3 and items[0]["dead_at"] is not None

            # A later event for the same subject is held back behind the dead one (order per subject).
            await h.send(cloudevent(ended("repaired", listing), key=subject.key))

            async def both_dead():
                body = (await h.client.get(f"/v1/webhooks/{subscription}/deliveries?state=dead", headers=admin)).json()
                return body["items"] if len(body["items"]) == 2 else None

            both = await eventually(both_dead, timeout=30)
            assert both[1]["last_error"].startswith("held back") and both[1]["attempts"] == 0

            async def gauge():
                text = (await h.client.get("/metrics")).text
                return 'jc_webhook_deliveries{agency="airlines",service="sanctions",state="dead"} 2.0' in text

            await eventually(gauge)

            receiver.failing_status = None
            other = await h.client.post(f"/v1/webhooks/{subscription}/deliveries:redrive", headers=h.auth("agency", "railway"))
            assert other.status_code == 403
            response = await h.client.post(f"/v1/webhooks/{subscription}/deliveries:redrive", headers=h.auth("agency", "airlines"))
            assert response.status_code == 200 and response.json()["requeued"] == 2

            async def delivered():
                return len(receiver.accepted) >= 2

            await eventually(delivered, timeout=30)
            await asyncio.sleep(1.0)
            feed = await feed_of(h, "airlines")
    finally:
        receiver.stop()
    assert [e["id"] for e in receiver.accepted] == [str(r["event_id"]) for r in feed]
    assert [e["type"].split(".")[-2] for e in receiver.accepted] == ["issued", "lifted"]


async def test_webhook_registration_validates_input_and_generates_a_secret_when_none_is_given(sanctions):
    async with sanctions() as h:
        banks = h.auth("agency", "xinyidai_banks")
        bad = [({"url": "ftp://example/hook"}, "body.url"), ({"url": "https://x.example", "secret": "short"}, "body.secret"),
               ({"url": "https://x.example", "secret": "s" * 20, "events": ["x"]}, "body.events")]
        for body, field in bad:
            response = await h.client.post("/v1/agencies/xinyidai_banks/webhooks", json=body, headers=banks)
            assert response.status_code == 422 and response.json()["field"] == field, response.text
        assert (await h.client.get("/v1/agencies/xinyidai_banks/webhooks", headers=banks)).json()["items"] == []
        created = await h.client.post("/v1/agencies/xinyidai_banks/webhooks", json={"url": "https://hooks.example/banks"},
                                      headers=h.auth("admin"))
        assert created.status_code == 201 and len(created.json()["secret"]) >= 32
        listed_hooks = (await h.client.get("/v1/agencies/xinyidai_banks/webhooks", headers=banks)).json()["items"]
        assert [w["url"] for w in listed_hooks] == ["https://hooks.example/banks"] and "secret" not in listed_hooks[0]
        removed = await h.client.delete(f"/v1/webhooks/{created.json()['id']}", headers=banks)
        assert removed.status_code == 200
        assert (await h.client.get("/v1/agencies/xinyidai_banks/webhooks", headers=banks)).json()["items"] == []


@pytest.mark.consumers
async def test_several_dispatchers_racing_still_deliver_each_event_once_and_in_order(sanctions):
    """Three dispatch loops (as three replicas would run) against one database and a flaky receiver."""
    import random

    from sanctions_service.webhooks.dispatcher import run_webhook_dispatcher

    receiver = Receiver(port=free_port(), secret=SECRET)
    flaky = random.Random(7)
    original = receiver.handle
    receiver.handle = lambda headers, body: (503, "flaky") if flaky.random() < 0.3 else original(headers, body)
    receiver.start()
    subjects = [enterprise(1301 + i) for i in range(8)]
    listings = [listed(s, "E2") for s in subjects]
    try:
        async with sanctions(webhook_backoff_base_seconds=0.1, webhook_backoff_max_seconds=0.4) as h:
            await subscribe(h, "credit_office", receiver.url)
            stop = asyncio.Event()
            extra = [asyncio.create_task(run_webhook_dispatcher(h.runtime, stop)) for _ in range(2)]
            try:
                await h.send(*(cloudevent(li, key=li.subject.key) for li in listings),
                             *(cloudevent(ended("expired", li, "公示期满"), key=li.subject.key) for li in listings))

                async def complete():
                    feed = await feed_of(h, "credit_office")
                    return feed if len(feed) == 16 and len(receiver.accepted) >= 16 else None

                feed = await eventually(complete, timeout=60)
                await asyncio.sleep(1.5)
            finally:
                stop.set()
                await asyncio.gather(*extra)
    finally:
        receiver.stop()
    counts = Counter(e["id"] for e in receiver.accepted)
    assert set(counts) == {str(r["event_id"]) for r in feed} and max(counts.values()) == 1
    assert per_subject([(e["subject"], e["id"]) for e in receiver.accepted]) == \
        per_subject([(r["subject_key"], str(r["event_id"])) for r in feed])


async def test_a_webhook_may_not_point_into_our_network(sanctions):
    """SSRF guard at registration: loopback, private and metadata addresses are refused (422, nothing stored)
    unless the operator allows their network; this harness allows loopback for its receivers, so clear it."""
    async with sanctions(webhook_allowed_networks=[]) as h:
        banks = h.auth("agency", "xinyidai_banks")
        for url in (f"http://127.0.0.1:{free_port()}/hook", "http://169.254.169.254/latest/meta-data/",
                    "http://10.0.0.7/hook", "http://[::1]/hook", "http://localhost/hook"):
            response = await h.client.post("/v1/agencies/xinyidai_banks/webhooks", json={"url": url}, headers=banks)
            problem = response.json()
            assert response.status_code == 422 and problem["field"] == "body.url", response.text
            assert "not a public address" in problem["detail"]
        assert (await h.client.get("/v1/agencies/xinyidai_banks/webhooks", headers=banks)).json()["items"] == []


@pytest.mark.consumers
async def test_a_target_refused_after_registration_is_never_contacted(sanctions):
    """SSRF guard at delivery: the host is checked again before every attempt (a name may be re-pointed after
    registration). Here loopback is allowed when subscribing and no longer when delivering: the receiver gets
    nothing, and the delivery fails and is dead-lettered with the reason."""
    receiver = Receiver(port=free_port(), secret=SECRET)
    receiver.start()
    subject = enterprise(1301)
    try:
        async with sanctions(webhook_backoff_base_seconds=0.2, webhook_backoff_max_seconds=0.5,
                             webhook_retry_window_hours=2 / 3600) as h:
            subscription = await subscribe(h, "airlines", receiver.url)
            h.runtime.settings.webhook_allowed_networks = []
            await h.send(cloudevent(listed(subject, "E6"), key=subject.key))

            async def dead():
                body = (await h.client.get(f"/v1/webhooks/{subscription}/deliveries?state=dead",
                                           headers=h.auth("admin"))).json()
                return body["items"]

            items = await eventually(dead, timeout=30)
    finally:
        receiver.stop()
    assert items[0]["last_error"].startswith("refused target: 127.0.0.1 resolves to 127.0.0.1")
    assert items[0]["attempts"] >= 2 and items[0]["last_status"] is None
    assert receiver.accepted == [] and receiver.rejected == []
