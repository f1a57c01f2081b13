"""Property test over random sequences of listings and endings (seeded, reproducible), through the real broker:

- nothing stays in force (or paused) whose record has ended;
- each (record, measure, agency) is issued at most once, and lifted at most once, only after it was issued;
- no incentive applies while its subject has an active dishonest record (DESIGN §2), and once the dishonest records
  end every live record's measures apply again;
- what reached each agency's topic is exactly its pull feed (same events, same ids).
Rating's record.incentives_suspended/resumed.v1 (its decision, the only one sanctions acts on) are interleaved as
rating emits them.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.testing.kafka import read_topic
from sanctions_service.measures.models import measure_events, measures
from sanctions_support import (
    CATALOG, citizen, cloudevent, ended, enterprise, expected_routes, incentives, listed, wait_processed,
)

pytestmark = pytest.mark.consumers  # events flow into the app under test

BEHAVIORS = {
    "enterprise": ["W1", "W4", "G4", "G5", "E1", "E7", "E9"],
    "citizen": ["G1", "G3", "C2", "C5", "C8"],
}
INCENTIVES = {m.code for m in CATALOG.measures if m.suppressed_while_dishonest}
SEEDS = (20200221, 4, 2020)


def random_sequence(seed: int, first_subject: int):
    """Events as rating could emit them (plus redeliveries, re-announcements and out-of-order endings)."""
    rng = random.Random(seed)
    subjects = [enterprise(first_subject + i) for i in range(3)] + [citizen(first_subject + i) for i in range(2)]
    records: dict[str, dict] = {}  # record_id → {"listing", "ended"}
    sent: list[CloudEvent] = []
    for _ in range(45):
        roll = rng.random()
        live = [r for r in records.values() if not r["ended"]]
        if roll < 0.45 or not records:
            subject = rng.choice(subjects)
            dishonest_active = any(r["listing"].subject.key == subject.key and r["listing"].list == "dishonest"
                                   for r in live)
            listing = listed(subject, rng.choice(BEHAVIORS[subject.type]), suppressed=dishonest_active)
            records[listing.record_id] = {"listing": listing, "ended": False}
            sent.append(cloudevent(listing, key=subject.key))
            if listing.list == "dishonest":  # rating pauses the subject's live red records too
                sent.extend(incentives("suspended", red["listing"], listing) for red in live
                            if red["listing"].subject.key == subject.key and red["listing"].list == "red")
        elif roll < 0.75 and live:
            record = rng.choice(live)
            record["ended"] = True
            listing = record["listing"]
            sent.append(cloudevent(ended(rng.choice(["repaired", "withdrawn", "expired"]), listing), key=listing.subject.key))
            still_live = [r for r in records.values() if not r["ended"] and r["listing"].subject.key == listing.subject.key]
            if listing.list == "dishonest" and not [r for r in still_live if r["listing"].list == "dishonest"]:
                sent.extend(incentives("resumed", red["listing"], listing) for red in still_live
                            if red["listing"].list == "red")
        elif roll < 0.85:
            sent.append(rng.choice(sent))  # the same event delivered again (same id)
        elif roll < 0.93:
            record = rng.choice(list(records.values()))  # re-announced under a new id (replay after a broker loss)
            sent.append(cloudevent(record["listing"], key=record["listing"].subject.key))
        else:
            # An ending seen before its listing (a re-driven dead letter): the listing must then issue nothing.
            subject = rng.choice(subjects)
            listing = listed(subject, rng.choice(BEHAVIORS[subject.type]))
            records[listing.record_id] = {"listing": listing, "ended": True}
            sent.append(cloudevent(ended("withdrawn", listing), key=subject.key))
            sent.append(cloudevent(listing, key=subject.key))
    return records, sent


async def test_random_listing_and_ending_sequences_keep_the_dispatch_invariants(sanctions):
    records: dict[str, dict] = {}
    events: list[CloudEvent] = []
    for n, seed in enumerate(SEEDS):
        seed_records, seed_events = random_sequence(seed, 700 + 10 * n)
        records.update(seed_records)
        events.extend(seed_events)
    async with sanctions() as h:
        await h.send(*events)
        await wait_processed(h.runtime, len({e.id for e in events}), timeout=120)
        async with h.runtime.sessionmaker() as session:
            rows = (await session.execute(select(measures))).mappings().all()
            feed_counts = dict((await session.execute(
                select(measure_events.c.agency, func.count()).group_by(measure_events.c.agency))).all())
            feed = (await session.execute(select(measure_events).order_by(measure_events.c.seq))).mappings().all()
        # every agency's topic read side by side (each read settles 1 s to catch doubles)
        agencies = list(feed_counts)
        on_topics: dict[str, list[CloudEvent]] = dict(zip(agencies, await asyncio.gather(*(
            read_topic(h.bootstrap, h.topic(f"measures.{agency}"), until=lambda evs, c=feed_counts[agency]: len(evs) >= c,
                       timeout=45, settle=1.0) for agency in agencies)), strict=True))

    # the seeds exercise every path: pauses, returns, lifts, withheld incentives and endings seen before listings
    kinds = Counter(r["type"].split(".")[-2] for r in feed)
    assert kinds["issued"] and kinds["suspended"] and kinds["resumed"] and kinds["lifted"], kinds
    states = Counter(r["state"] for r in rows)
    assert states["cancelled"] or states["withheld"], states

    ended_records = {rid for rid, r in records.items() if r["ended"]}
    active_dishonest_subjects = {r["listing"].subject.key for r in records.values()
                                 if not r["ended"] and r["listing"].list == "dishonest"}

    # 1. Nothing stays in force or paused whose record has ended.
    live_rows = [r for r in rows if r["state"] in ("in_force", "suspended", "withheld")]
    assert not [r for r in live_rows if str(r["record_id"]) in ended_records]
    # 2. Each live record has exactly the catalog's routes (one row per (record, measure, agency)).
    for rid, record in records.items():
        mine = {(r["agency"], r["measure"]) for r in rows if str(r["record_id"]) == rid}
        listing = record["listing"]
        routes = expected_routes(listing) | {(route.agency, code) for code in listing.suppressed_measures
                                             for route in CATALOG.measure(code).agencies}
        if not record["ended"]:
            assert mine == routes, rid
        assert len([r for r in rows if str(r["record_id"]) == rid]) == len(mine)
    # 3. Incentives: none applies while the subject has an active dishonest record; otherwise every live measure applies.
    for row in live_rows:
        if row["subject_key"] in active_dishonest_subjects and row["measure"] in INCENTIVES:
            assert row["state"] in ("suspended", "withheld"), row
        else:
            assert row["state"] == "in_force", row

    # 4. The topics: exactly the feed, each measure issued at most once, lifted at most once and only after issue.
    by_id = {str(r["event_id"]): r for r in feed}
    all_topic_events = [e for evs in on_topics.values() for e in evs]
    assert sorted(e.id for e in all_topic_events) == sorted(by_id), "topics and pull feeds differ"
    issued = Counter((e.data["record_id"], e.data["measure"], e.data["agency"])
                     for e in all_topic_events if e.type.endswith("measure.issued.v1"))
    assert issued and max(issued.values()) == 1
    history: dict[str, list[str]] = defaultdict(list)
    for agency, evs in on_topics.items():
        for e in evs:  # one subject's events share a partition, so this is their order on the broker
            assert e.data["agency"] == agency
            history[e.data["measure_id"]].append(e.type.split(".")[-2])
    for measure_id, steps in history.items():
        assert steps[0] == "issued", (measure_id, steps)
        assert steps.count("issued") == 1 and steps.count("lifted") <= 1, steps
        assert "lifted" not in steps[:-1], f"an event after lifting: {steps}"
    state_of = {str(r["id"]): r["state"] for r in rows}
    for measure_id, steps in history.items():
        expected_state = {"issued": "in_force", "resumed": "in_force", "suspended": "suspended", "lifted": "lifted"}[steps[-1]]
        assert state_of[measure_id] == expected_state, (measure_id, steps)
    assert not [mid for mid, state in state_of.items() if state in ("in_force", "suspended", "lifted") and mid not in history]
