"""DESIGN §7, issue 14 item 1: whoever reaches the broker cannot repair a record. rating acts on repair.decided.v1
only when the repair service signed it (a key rating trusts for repair), from repair's source, on repair's topic; a
forged decision — unsigned, signed with a wrong key, or validly signed by a service that does not own the type —
is dead-lettered, counted in jc_events_rejected_total and changes nothing."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import EventSigner, dev_trusted_keys, public_key_b64
from jointcredit_common.tables import dead_letters, inbox
from jointcredit_common.testing.factories import uscc
from jointcredit_common.testing.kafka import read_topic

pytestmark = pytest.mark.consumers  # forged and genuine events reach the service under test

TODAY = (datetime.now(UTC) + timedelta(hours=8)).date()
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕77号", "authority": "大连市市场监督管理局",
           "decided_on": (TODAY - timedelta(days=20)).isoformat()}


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value(
        "jc_events_rejected_total", {"service": "rating", "consumer": "rating-classifier", "reason": reason}) or 0.0


async def listed_record(runtime, kit, subject) -> tuple[CloudEvent, str]:
    listed = kit.report_event(subject, "E4", occurred_on=TODAY - timedelta(days=30), evidence=PENALTY)
    await kit.publish(runtime.settings.kafka_bootstrap_servers, runtime.topic("reports"), [listed])
    return listed, str((await kit.wait_record(runtime, listed.data["report_id"]))["id"])


async def test_forged_repair_decisions_are_dead_lettered_counted_and_repair_nothing(rating_app, kit, tokens):
    subject = kit.Subject("enterprise", uscc(871_001), "大连伪造修复测试有限公司")
    reasons = ("unsigned", "bad_signature", "unknown_key", "wrong_source", "wrong_type", "wrong_topic")
    before = {reason: rejected(reason) for reason in reasons}
    async with rating_app() as (app, client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        listed, record_id = await listed_record(runtime, kit, subject)
        repairs = runtime.topic("repairs")

        def approval(source: str = "/jointcredit/repair") -> CloudEvent:
            event = kit.repair_event([record_id], key=listed.key)
            return CloudEvent(type=event.type, source=source, subject=event.subject, key=event.key, data=event.data)

        # 1. The attack of the review (C1): a plain approval, no signature at all.
        await kit.publish(bootstrap, repairs, [approval()], unsigned=True)
        # 2. Signed with a key that is not repair's, under repair's key id.
        impostor = EventSigner.from_seed("repair-dev", os.urandom(32))
        await kit.publish(bootstrap, repairs, [approval()], signer=impostor)
        # 3. Signed with a key id rating does not trust at all.
        await kit.publish(bootstrap, repairs, [approval()], signer=EventSigner.from_seed("repair-9999", os.urandom(32)))
        # 4. Validly signed by ingest (a compromised ingest), claiming to be repair ...
        ingest = EventSigner.dev("ingest")
        await kit.publish(bootstrap, repairs, [approval()], signer=ingest)
        # 5. ... or honestly as ingest: the registry gives repair.decided.v1 to repair alone.
        await kit.publish(bootstrap, repairs, [approval("/jointcredit/ingest")], signer=ingest)
        # 6. repair's genuine signature, but on a topic that is not repair's (the signature names the topic).
        await kit.publish(bootstrap, runtime.topic("reports"), [approval()])
        # Last on the repairs partition of this subject: a genuine rejection, so once it is processed so are 1-5.
        marker = kit.repair_event([record_id], "rejected", key=listed.key)
        await kit.publish(bootstrap, repairs, [marker])

        async def settled() -> bool:
            async with runtime.sessionmaker() as session:
                marker_done = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == marker.id))
                dead = await session.scalar(select(func.count()).select_from(dead_letters))
            return bool(marker_done) and dead == 6

        await kit.eventually(settled, timeout=60)
        assert {reason: rejected(reason) - before[reason] for reason in reasons} == dict.fromkeys(reasons, 1.0)
        assert (await kit.wait_record(runtime, listed.data["report_id"]))["state"] == "active"
        assert len((await client.get("/v1/public/lists/dishonest", params={"q": subject.id})).json()["items"]) == 1
        events = await read_topic(bootstrap, runtime.topic("ratings"), timeout=5, settle=1.0)
        assert not [e for e in events if e.type.endswith("record.repaired.v1")]
        async with runtime.sessionmaker() as session:
            letters = (await session.execute(select(dead_letters).order_by(dead_letters.c.id))).mappings().all()
        # Dead-lettered under their offsets, never under the id they claim (a forger cannot take a genuine event's
        # inbox row), with the reason and without the claimed type.
        assert all(letter["event_id"] == f"{letter['topic']}:{letter['partition']}:{letter['offset']}" for letter in letters)
        assert all(letter["attempts"] == 0 and letter["error"].startswith("rejected (") for letter in letters)

        # An administrator cannot re-drive a forgery into effect: its signature is checked again.
        admin = {"Authorization": f"Bearer {tokens('admin')}"}
        answer = await client.post(f"/v1/admin/dead-letters/{letters[0]['id']}:redrive", headers=admin)
        assert answer.status_code == 409, answer.text
        assert (await kit.wait_record(runtime, listed.data["report_id"]))["state"] == "active"

        # The genuine decision, signed by repair's key, still repairs.
        await kit.publish(bootstrap, repairs, [kit.repair_event([record_id], key=listed.key)])
        assert (await kit.wait_record(runtime, listed.data["report_id"], state="repaired"))["state"] == "repaired"


async def test_both_keys_of_a_producer_are_accepted_during_a_key_rollover(rating_app, kit):
    """Rotation: repair's new key is added to the consumers' trusted keys beside the old one, then repair signs with
    it, then the old one is removed. In between both hold; a retired key does not."""
    first = kit.Subject("enterprise", uscc(871_011), "大连密钥轮换测试一有限公司")
    second = kit.Subject("enterprise", uscc(871_012), "大连密钥轮换测试二有限公司")
    third = kit.Subject("enterprise", uscc(871_013), "大连密钥轮换测试三有限公司")
    new_seed = os.urandom(32)
    trusted = dev_trusted_keys() | {"repair-2027-01": {"service": "repair", "public_key": public_key_b64(new_seed)}}
    new_repair = EventSigner.from_seed("repair-2027-01", new_seed)
    async with rating_app(event_trusted_keys=trusted) as (app, _client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        old_listed, old_record = await listed_record(runtime, kit, first)
        new_listed, new_record = await listed_record(runtime, kit, second)
        await kit.publish(bootstrap, runtime.topic("repairs"), [kit.repair_event([old_record], key=old_listed.key)])
        await kit.publish(bootstrap, runtime.topic("repairs"), [kit.repair_event([new_record], key=new_listed.key)],
                          signer=new_repair)
        await kit.wait_record(runtime, old_listed.data["report_id"], state="repaired")
        await kit.wait_record(runtime, new_listed.data["report_id"], state="repaired")

    # The rollover done: the old key is no longer trusted, so what it signs is refused.
    retired = {kid: entry for kid, entry in trusted.items() if kid != "repair-dev"}
    async with rating_app(event_trusted_keys=retired) as (app, _client):
        runtime = app.state.runtime
        bootstrap = runtime.settings.kafka_bootstrap_servers
        listed, record = await listed_record(runtime, kit, third)
        stale = kit.repair_event([record], key=listed.key)
        marker = kit.repair_event([record], "rejected", key=listed.key)
        await kit.publish(bootstrap, runtime.topic("repairs"), [stale])
        await kit.publish(bootstrap, runtime.topic("repairs"), [marker], signer=new_repair)

        async def marker_done() -> bool:
            async with runtime.sessionmaker() as session:
                return bool(await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id == marker.id)))

        await kit.eventually(marker_done, timeout=60)
        assert (await kit.wait_record(runtime, listed.data["report_id"]))["state"] == "active"
        async with runtime.sessionmaker() as session:
            errors = (await session.execute(select(dead_letters.c.error))).scalars().all()
        assert len(errors) == 1 and "unknown_key" in errors[0]


def test_a_signature_covers_the_data_bytes():
    """A genuine signature on altered data (record ids swapped in) does not verify."""
    from jointcredit_common.events.provenance import EventRejected, EventVerifier, TrustedKey, decode_public_key

    trusted = {kid: TrustedKey(e["service"], decode_public_key(e["public_key"])) for kid, e in dev_trusted_keys().items()}
    verifier = EventVerifier(trusted, topic_prefix="jointcredit")
    event = CloudEvent(type="cn.dalian.jointcredit.repair.decided.v1", source="/jointcredit/repair", subject="k", key="k",
                       data={"decision": "rejected"})
    key, value, headers = event.to_kafka()
    headers += EventSigner.dev("repair").headers("jointcredit.repairs", key, value, headers)
    assert verifier.verify("jointcredit.repairs", key, value, headers) == "repair"
    for topic, altered in (("jointcredit.repairs", value.replace(b"rejected", b"approved")),
                           ("jointcredit.repairs", value + b" "), ("jointcredit.reports", value)):
        try:
            verifier.verify(topic, key, altered, headers)
        except EventRejected as exc:
            assert exc.reason == "bad_signature"
        else:
            raise AssertionError("an altered record verified")
    assert base64.b64decode(dict(headers)["ce_signature"])  # present, base64
