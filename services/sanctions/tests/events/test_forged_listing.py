"""DESIGN §7, issue 14 item 1: a listing sanctions acts on is one rating signed. A forged subject.listed.v1 — unsigned,
or signed by ingest (a service that does not own the type) — dispatches no punishment and is dead-lettered."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import EventSigner
from jointcredit_common.tables import dead_letters
from jointcredit_common.testing.kafka import eventually, publish
from sanctions_service.measures.models import measures
from sanctions_support import cloudevent, enterprise, listed, wait_processed

pytestmark = pytest.mark.consumers  # forged and genuine events reach the service under test


async def test_a_forged_listing_dispatches_no_measure_and_is_dead_lettered(sanctions):
    victim = enterprise(611, "大连伪造名单受害有限公司")
    genuine = enterprise(612, "大连真实名单测试有限公司")
    forged = cloudevent(listed(victim, "E7"), key=victim.key)
    as_ingest = CloudEvent(type=forged.type, source="/jointcredit/ingest", subject=victim.key, key=victim.key,
                           data=forged.data)
    async with sanctions() as h:
        ratings = h.topic("ratings")
        await publish(h.bootstrap, ratings, [forged], unsigned=True)
        await publish(h.bootstrap, ratings, [as_ingest], signer=EventSigner.dev("ingest"))
        await h.send(cloudevent(listed(genuine, "E7"), key=genuine.key))  # signed by rating, as rating's relay does
        await wait_processed(h.runtime, 3)  # two dead letters and the genuine listing, each with its inbox row

        async def two_dead_letters() -> bool:
            async with h.runtime.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(dead_letters)) == 2

        await eventually(two_dead_letters, timeout=30)
        async with h.runtime.sessionmaker() as session:
            by_subject = dict((await session.execute(
                select(measures.c.subject_key, func.count()).group_by(measures.c.subject_key))).all())
            errors = sorted((await session.execute(select(dead_letters.c.error))).scalars())
        assert victim.key not in by_subject and by_subject[genuine.key] > 0
        assert [e.split(":")[0] for e in errors] == ["rejected (unsigned", "rejected (wrong_type"]
