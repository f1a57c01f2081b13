"""Reconciliation after the faults: counts across the four databases and the agency topics must agree.

"Exactly once" follows the services' own keys:
- a report is ingest's ``reports.id``; its classification is rating's ``classifications.report_id`` (primary key);
- a listing is a credit record rating announced with ``subject.listed.v1`` (its outbox); sanctions keeps one
  ``credit_records`` row per record id, repair one ``listed_records`` row;
- a measure is sanctions' ``measures`` row, unique per (record, measure, agency) (``measures_once``): for every
  listing, one row per code in its ``measures`` + ``suppressed_measures`` and per route of that measure in the
  catalog — unless sanctions saw the record end before its listing (a tombstone: then none);
- it was *issued* to its agency iff it is not ``withheld``/``cancelled``: then exactly one ``measure.issued.v1`` in
  ``measure_events`` (the agency feed; the same CloudEvents id goes to the topic and webhooks);
- a lift is due for every issued measure whose record ended in rating (here: withdrawn): exactly one
  ``measure.lifted.v1``, and the measure is ``lifted``; no other measure is lifted.
On the topics (recreated empty by the broker restart, then refilled by the outbox replay): every measure event
written since the replay point is there, no issued event is unknown to sanctions, and a measure's issue appears
under one event id only (a relay crash may repeat an event, never re-create it).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.schemas import MeasureIssued, MeasureLifted, SubjectListed
from jointcredit_common.testing.kafka import read_topic

ISSUED, LIFTED = MeasureIssued.type_name(), MeasureLifted.type_name()
NOT_SENT = ("withheld", "cancelled")


@dataclass(frozen=True)
class Check:
    what: str
    expected: int
    found: int

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass
class Snapshot:
    """What the four databases say, read in one pass."""

    reports: dict[str, tuple[str, bool]] = field(default_factory=dict)  # id → (status, classification seen)
    classifications: dict[str, str | None] = field(default_factory=dict)  # report id → record id
    records: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # record id → (state, end reason)
    listings: list[dict[str, Any]] = field(default_factory=list)  # subject.listed.v1 data in rating's outbox
    sanctions_records: dict[str, tuple[str, bool]] = field(default_factory=dict)  # record id → (state, tombstone)
    measures: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # id → (record, measure, agency, state)
    measure_events: list[tuple[str, str, str, datetime]] = field(default_factory=list)  # (event id, measure id, type, time)
    repair_records: dict[str, bool] = field(default_factory=dict)  # record id → ended
    backlog: dict[str, int] = field(default_factory=dict)  # unpublished outbox rows per service
    dead_letters: dict[str, int] = field(default_factory=dict)  # open dead letters per service


async def snapshot(dsn: dict[str, str]) -> Snapshot:
    snap = Snapshot()

    async def rows(service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn[service])
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    for service in dsn:
        snap.backlog[service] = (await rows(service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))[0][0]
        snap.dead_letters[service] = (await rows(service, "SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL"))[0][0]
    for r in await rows("ingest", "SELECT id::text, status, classified_at IS NOT NULL AS seen FROM reports"):
        snap.reports[r["id"]] = (r["status"], r["seen"])
    for r in await rows("rating", "SELECT report_id::text, record_id::text FROM classifications"):
        snap.classifications[r["report_id"]] = r["record_id"]
    for r in await rows("rating", "SELECT id::text, state, end_reason FROM credit_records"):
        snap.records[r["id"]] = (r["state"], r["end_reason"])
    for r in await rows("rating", "SELECT data FROM outbox WHERE type = $1", SubjectListed.type_name()):
        snap.listings.append(json.loads(r["data"]))
    for r in await rows("sanctions", "SELECT record_id::text, state, listed IS NULL AS tombstone FROM credit_records"):
        snap.sanctions_records[r["record_id"]] = (r["state"], r["tombstone"])
    for r in await rows("sanctions", "SELECT id::text, record_id::text, measure, agency, state FROM measures"):
        snap.measures[r["id"]] = (r["record_id"], r["measure"], r["agency"], r["state"])
    for r in await rows("sanctions", "SELECT event_id::text, measure_id::text, type, time FROM measure_events"):
        snap.measure_events.append((r["event_id"], r["measure_id"], r["type"], r["time"]))
    for r in await rows("repair", "SELECT record_id, ended_at IS NOT NULL AS ended FROM listed_records"):
        snap.repair_records[r["record_id"]] = r["ended"]
    return snap


def database_checks(snap: Snapshot, *, accepted: set[str], withdrawn: set[str]) -> list[Check]:
    catalog = load_catalog()
    reports = set(snap.reports)
    ingest_withdrawn = {rid for rid, (status, _) in snap.reports.items() if status == "withdrawn"}
    listed = [listing["record_id"] for listing in snap.listings]
    listed_set = set(listed)
    never_listed = catalog.templates_zh.records.expired_before_listing
    expected_listed = {rid for rid, (_, reason) in snap.records.items() if reason != never_listed}
    ended = {rid for rid in listed_set if snap.records.get(rid, ("", None))[0] in ("withdrawn", "repaired", "expired")}
    record_of_report = {report: record for report, record in snap.classifications.items() if record}
    due_withdrawn = {record_of_report[r] for r in ingest_withdrawn if record_of_report.get(r) in listed_set}
    tombstones = {rid for rid, (_, tomb) in snap.sanctions_records.items() if tomb}

    expected_measures = Counter()
    for listing in snap.listings:
        if listing["record_id"] in tombstones:
            continue
        for code in dict.fromkeys([*listing["measures"], *listing["suppressed_measures"]]):
            for route in catalog.measure(code).agencies:
                expected_measures[(listing["record_id"], code, route.agency)] += 1
    found_measures = Counter((record, code, agency) for record, code, agency, _ in snap.measures.values())
    sent = {mid for mid, (*_, state) in snap.measures.items() if state not in NOT_SENT}
    issued = Counter(mid for _, mid, kind, _ in snap.measure_events if kind == ISSUED)
    lifted = Counter(mid for _, mid, kind, _ in snap.measure_events if kind == LIFTED)
    due_lifts = {mid for mid in sent if snap.measures[mid][0] in ended}
    lifted_state = {mid for mid, (*_, state) in snap.measures.items() if state == "lifted"}

    return [
        Check("reports answered 202 and found in ingest", len(accepted), len(accepted & reports)),
        Check("ingest reports with exactly one classification (rating)", len(reports), len(reports & set(snap.classifications))),
        Check("classifications of no ingest report", 0, len(set(snap.classifications) - reports)),
        Check("ingest reports whose classification came back", len(reports), sum(seen for _, seen in snap.reports.values())),
        Check("withdrawals answered 200 and withdrawn in ingest", len(withdrawn), len(withdrawn & ingest_withdrawn)),
        Check("rating records announced by subject.listed.v1", len(expected_listed), len(listed_set & expected_listed)),
        Check("subject.listed.v1 written more than once or for no record", 0,
              len(listed) - len(listed_set) + len(listed_set - expected_listed)),
        Check("listings known to sanctions (one row per record)", len(listed_set), len(listed_set & set(snap.sanctions_records))),
        Check("listings known to repair (one row per record)", len(listed_set), len(listed_set & set(snap.repair_records))),
        Check("sanctions: listings seen only after their record ended", 0, len(tombstones)),
        Check("measures (record, measure, agency) due from the listings", sum(expected_measures.values()),
              sum(min(n, expected_measures[k]) for k, n in found_measures.items())),
        Check("measures in sanctions not due from any listing, or doubled", 0,
              sum(n - expected_measures.get(k, 0) for k, n in found_measures.items() if n > expected_measures.get(k, 0))),
        Check("measures sent to agencies with exactly one measure.issued", len(sent), sum(1 for mid in sent if issued[mid] == 1)),
        Check("measure.issued for unsent measures or repeated", 0, sum(issued.values()) - sum(issued[mid] for mid in sent if issued[mid] == 1)),
        Check("records withdrawn in ingest and ended in rating", len(due_withdrawn), len(due_withdrawn & ended)),
        Check("records ended in sanctions", len(ended), sum(1 for rid in ended if snap.sanctions_records.get(rid, ("",))[0] == "ended")),
        Check("records ended in repair", len(ended), sum(1 for rid in ended if snap.repair_records.get(rid))),
        Check("lifts due with exactly one measure.lifted", len(due_lifts), sum(1 for mid in due_lifts if lifted[mid] == 1 and mid in lifted_state)),
        Check("lifts not due or repeated", 0, len(lifted_state - due_lifts) + sum(lifted.values()) - sum(lifted[mid] for mid in due_lifts if lifted[mid] == 1)),
        *[Check(f"{service}: outbox rows not yet published", 0, n) for service, n in snap.backlog.items()],
        *[Check(f"{service}: open dead letters", 0, n) for service, n in snap.dead_letters.items()],
    ]


async def topic_checks(bootstrap: str, snap: Snapshot, *, since: datetime, prefix: str = "jointcredit") -> tuple[list[Check], dict]:
    """Read every agency topic from the beginning until every measure event written since ``since`` is there."""
    agencies = [a.code for a in load_catalog().agencies]
    known = {event_id: (mid, kind) for event_id, mid, kind, _ in snap.measure_events}
    due_by_agency: dict[str, set[str]] = {a: set() for a in agencies}
    agency_of = {mid: agency for mid, (_, _, agency, _) in snap.measures.items()}
    for event_id, mid, _, at in snap.measure_events:
        if at >= since:
            due_by_agency[agency_of[mid]].add(event_id)

    async def read(agency: str) -> list:
        due = due_by_agency[agency]
        return await read_topic(bootstrap, f"{prefix}.measures.{agency}", until=lambda events: due <= {e.id for e in events},
                                timeout=60, settle=1.0)

    events = [e for batch in await asyncio.gather(*(read(a) for a in agencies)) for e in batch]
    ids = Counter(e.id for e in events)
    issued_on_topic = {e.id for e in events if e.type == ISSUED}
    issue_ids_per_measure = Counter(known[eid][0] for eid in issued_on_topic if eid in known)
    due = set().union(*due_by_agency.values())
    counts = {"records": len(events), "distinct_event_ids": len(ids), "repeated_records": sum(n - 1 for n in ids.values()),
              "issued_distinct": len(issued_on_topic), "lifted_distinct": len({e.id for e in events if e.type == LIFTED}),
              "events_since_replay_point": len(due)}
    return [
        Check("measure events since the replay point found on the agency topics", len(due), len(due & set(ids))),
        Check("measure.issued on the topics unknown to sanctions", 0, len(issued_on_topic - set(known))),
        Check("measures issued on the topics under more than one event id", 0, sum(1 for n in issue_ids_per_measure.values() if n > 1)),
    ], counts


def table(checks: list[Check]) -> str:
    width = max(len(c.what) for c in checks)
    lines = [f"{'check':<{width}}  {'expected':>9}  {'found':>9}  ok", "-" * (width + 26)]
    lines += [f"{c.what:<{width}}  {c.expected:>9}  {c.found:>9}  {'yes' if c.ok else 'NO'}" for c in checks]
    return "\n".join(lines)
