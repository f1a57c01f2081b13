"""Event contracts, one row per event type of the registry (``EVENT_TYPES``), no servers needed:

- the producer's payload, built through the producer's own code where it is pure (ingest's report → event, rating's
  classifier) and through the one model otherwise, with realistic data, crosses the wire the way the relay sends it
  (outbox row → CloudEvent → Kafka bytes → CloudEvent) and still validates against that model and its JSON Schema;
- the consumers are exactly the ones the table names (each service's handler map, by exact type);
- each consumer's handler reads the event through that same model first (a payload off the model fails with that
  model's validation error before anything else happens), never through a dict with loose keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from ingest_service.main import create_app as create_ingest
from ingest_service.reports.schemas import ReportIn
from ingest_service.reports.service import received_event, report_row
from ingest_service.settings import IngestSettings
from jointcredit_common.auth import Principal
from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.outbox import Outbox
from jointcredit_common.events.schemas import (
    EVENT_TYPES, DeadLettered, EventData, LegalBasis, MeasureIssued, MeasureLifted, RecordExpired, RecordRepaired,
    RecordWithdrawn, ReportClassified, ReportReceived, ReportWithdrawn, SubjectListed, json_schemas,
)
from jointcredit_common.events.schemas_ingest import CommitmentFiled
from jointcredit_common.events.schemas_rating import (
    ObjectionDecided, RecordDisputed, RecordIncentivesResumed, RecordIncentivesSuspended,
)
from jointcredit_common.events.schemas_repair import (
    CalendarOverrideChanged, RecomputedDeadline, RepairAccepted, RepairDeadlinesRecomputed, RepairDecided, RepairSlaBreached,
)
from jointcredit_common.events.schemas_sanctions import MeasureFeedbackRecorded, MeasureResumed, MeasureSuspended
from jointcredit_common.pii import PiiCipher, PiiHasher, mask_name
from jointcredit_common.app import ServiceRuntime
from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, DEV_PII_KEY_ID
from jointcredit_common.testing.factories import resident_id, uscc
from rating_service.classification import EvidenceFacts, ReportFacts, classify
from rating_service.main import create_app as create_rating
from rating_service.settings import RatingSettings
from repair_service.main import create_app as create_repair
from repair_service.settings import RepairSettings
from sanctions_service.main import create_app as create_sanctions
from sanctions_service.settings import SanctionsSettings

CATALOG = load_catalog()
HASHER = PiiHasher.from_settings(DEV_PII_HASH_KEY)
CIPHER = PiiCipher.from_settings({DEV_PII_KEY_ID: DEV_PII_KEY}, DEV_PII_KEY_ID)
DEPARTMENT = Principal(role="department", principal="market_regulation", scopes=frozenset({"E4", "G5"}))
AT = datetime(2020, 3, 12, 9, 30, tzinfo=UTC)  # inside the notice's validity window
ENTERPRISE_ID = uscc(424_242)
ENTERPRISE_KEY = f"enterprise:{ENTERPRISE_ID}"
RECORD_ID, RED_RECORD_ID, REPORT_ID, MEASURE_ID = (str(uuid.uuid4()) for _ in range(4))
PENALTY = {"kind": "administrative_penalty", "document_no": "大市监罚〔2020〕55号", "authority": "大连市市场监督管理局",
           "decided_on": "2020-03-05"}


# --- producers: each builds what its service puts into the outbox ----------------------------------------------------


def report_received(behavior: str = "E4", *, citizen: bool = False) -> ReportReceived:
    """ingest: POST /v1/reports body → ReportIn → report_row → received_event (its own code path)."""
    subject_id = resident_id(77) if citizen else ENTERPRISE_ID
    name = "王小明" if citizen else "大连某某防护用品有限公司"
    report_in = ReportIn.model_validate({
        "subject": {"type": "citizen" if citizen else "enterprise", "id": subject_id, "name": name},
        "behavior": behavior, "occurred_on": "2020-03-02", "description": "哄抬口罩价格，每只售价 20 元",
        "evidence": PENALTY,
    })
    row = report_row(report_in, subject_id, principal=DEPARTMENT, cipher=CIPHER, hasher=HASHER,
                     report_id=uuid.UUID(REPORT_ID), received_at=AT)
    return received_event(row, subject_id, name)


def decision_on(report: ReportReceived, *, dishonest_live: bool = False):  # noqa: ANN201 - the classifier's Decision
    """rating: the pure classifier on the report ingest sent, as classify_report calls it."""
    facts = ReportFacts(subject_type=report.subject.type, behavior=report.behavior, occurred_on=report.occurred_on,
                        evidence=EvidenceFacts(**report.evidence.model_dump()))
    return classify(facts, CATALOG, as_of=AT.date(), emergency_ends_on=None, subject_has_active_dishonest_record=dishonest_live)


def report_classified() -> ReportClassified:
    report = report_received()
    decision = decision_on(report)
    return ReportClassified(report_id=report.report_id, subject_key=report.subject.key, outcome=decision.outcome,
                            clause_codes=decision.clause_codes, reason_zh=decision.reason_zh, record_id=RECORD_ID,
                            list=decision.list, catalog=decision.catalog, classified_at=AT)


def subject_listed(behavior: str = "E4", *, dishonest_live: bool = False) -> SubjectListed:
    report = report_received(behavior)
    decision = decision_on(report, dishonest_live=dishonest_live)
    assert decision.list, decision
    return SubjectListed(
        record_id=RECORD_ID, report_id=report.report_id, department=report.department, subject=report.subject,
        list=decision.list, behavior=report.behavior, clause_codes=decision.clause_codes, tier=decision.tier,
        measures=decision.measures, suppressed_measures=decision.suppressed_measures,
        publicity_starts_on=decision.publicity_starts_on, publicity_ends_on=decision.publicity_ends_on,
        evidence=decision.evidence_used.model_dump(mode="json") if decision.evidence_used else None,
        reason_zh=decision.reason_zh, notice=decision.notice.model_dump(mode="json") if decision.notice else None,
        catalog=decision.catalog,
    )


def ended(model: type[RecordRepaired | RecordWithdrawn | RecordExpired]) -> Callable[[], EventData]:
    return lambda: model(record_id=RECORD_ID, report_id=REPORT_ID, subject_key=ENTERPRISE_KEY, list="dishonest",
                         reason="信用修复申请经初审、复核、终审批准", ended_at=AT)


def incentives(model: type[RecordIncentivesSuspended | RecordIncentivesResumed]) -> Callable[[], EventData]:
    def build() -> EventData:
        red = subject_listed("G5", dishonest_live=True)
        paused = [c for c in red.suppressed_measures if CATALOG.measure(c).suppressed_while_dishonest]
        assert paused, red
        return model(record_id=RED_RECORD_ID, report_id=REPORT_ID, subject_key=ENTERPRISE_KEY, list="red",
                     measures=paused, because_record_id=RECORD_ID, reason_zh="因该企业存在尚未修复的失信记录，暂不实施信用激励措施",
                     at=AT)

    return build


def repair_decided() -> RepairDecided:
    return RepairDecided(
        application_id=str(uuid.uuid4()), subject_key=ENTERPRISE_KEY, subject_type="enterprise", department="market_regulation",
        record_ids=[RECORD_ID], decision="approved", reason="终审：同意修复", stage="final", decided_by="reviewer_final",
        channel="green", accepted_at=AT, due_at=AT + timedelta(days=1), decided_at=AT + timedelta(hours=6), within_sla=True,
    )


def measure_issued() -> MeasureIssued:
    listing = subject_listed()
    code = listing.measures[0]
    route = CATALOG.measure(code).agencies[0]
    return MeasureIssued(
        measure_id=MEASURE_ID, agency=route.agency, record_id=listing.record_id, subject=listing.subject, list=listing.list,
        measure=code, text_zh=route.part_zh or CATALOG.measure(code).text_zh, kind=CATALOG.measure(code).kind,
        basis=LegalBasis(catalog=listing.catalog, document=CATALOG.document_no, clause_codes=listing.clause_codes,
                         evidence_document_no=PENALTY["document_no"]),
        starts_on=listing.publicity_starts_on, planned_end_on=listing.publicity_ends_on,
    )


PRODUCERS: dict[type[EventData], tuple[str, Callable[[], EventData]]] = {
    ReportReceived: ("ingest", report_received),
    ReportWithdrawn: ("ingest", lambda: ReportWithdrawn(
        report_id=REPORT_ID, department="market_regulation", subject_key=ENTERPRISE_KEY,
        reason="行政处罚决定已被复议机关撤销（大政复决〔2020〕3号）", withdrawn_at=AT)),
    CommitmentFiled: ("ingest", lambda: CommitmentFiled(
        commitment_id=str(uuid.uuid4()), department="market_regulation", subject_key=ENTERPRISE_KEY,
        enterprise_id=ENTERPRISE_ID, enterprise_name="大连某某防护用品有限公司", signatory_masked=mask_name("李建国"),
        signatory_encrypted=CIPHER.encrypt("李建国", context="commitment.signatory"), signed_on=date(2020, 2, 25),
        document_sha256="a" * 64, text_sha256="b" * 64, filed_at=AT)),
    ReportClassified: ("rating", report_classified),
    SubjectListed: ("rating", subject_listed),
    RecordRepaired: ("rating", ended(RecordRepaired)),
    RecordWithdrawn: ("rating", ended(RecordWithdrawn)),
    RecordExpired: ("rating", ended(RecordExpired)),
    RecordDisputed: ("rating", lambda: RecordDisputed(
        record_id=RECORD_ID, report_id=REPORT_ID, subject_key=ENTERPRISE_KEY, list="dishonest", objection_id=str(uuid.uuid4()),
        filed_by_role="subject", filed_by=ENTERPRISE_KEY, due_on=date(2020, 3, 19), disputed_at=AT)),
    ObjectionDecided: ("rating", lambda: ObjectionDecided(
        objection_id=str(uuid.uuid4()), record_id=RECORD_ID, report_id=REPORT_ID, subject_key=ENTERPRISE_KEY, list="dishonest",
        decision="rejected", reason="处罚决定合法有效", record_state="active", decided_by="admin", decided_at=AT)),
    RecordIncentivesSuspended: ("rating", incentives(RecordIncentivesSuspended)),
    RecordIncentivesResumed: ("rating", incentives(RecordIncentivesResumed)),
    MeasureIssued: ("sanctions", measure_issued),
    MeasureLifted: ("sanctions", lambda: MeasureLifted(
        measure_id=MEASURE_ID, agency="xinyidai_banks", record_id=RECORD_ID, subject_key=ENTERPRISE_KEY, measure="P2",
        reason="repaired: 信用修复申请经初审、复核、终审批准", lifted_at=AT)),
    MeasureSuspended: ("sanctions", lambda: MeasureSuspended(
        measure_id=MEASURE_ID, agency="xinyidai_banks", record_id=RED_RECORD_ID, subject_key=ENTERPRISE_KEY, measure="F",
        reason="因该企业存在尚未修复的失信记录，暂不实施信用激励措施", because_record_id=RECORD_ID, suspended_at=AT)),
    MeasureResumed: ("sanctions", lambda: MeasureResumed(
        measure_id=MEASURE_ID, agency="xinyidai_banks", record_id=RED_RECORD_ID, subject_key=ENTERPRISE_KEY, measure="F",
        reason="该主体已无尚未结束的失信记录，恢复实施信用激励措施", resumed_at=AT)),
    MeasureFeedbackRecorded: ("sanctions", lambda: MeasureFeedbackRecorded(
        feedback_id=str(uuid.uuid4()), measure_id=MEASURE_ID, agency="xinyidai_banks", record_id=RECORD_ID,
        subject_key=ENTERPRISE_KEY, measure="P2", result="applied", at=AT, matter="贷款申请 2020-0312-001 未予受理",
        recorded_at=AT)),
    RepairAccepted: ("repair", lambda: RepairAccepted(
        application_id=str(uuid.uuid4()), subject_key=ENTERPRISE_KEY, subject_type="enterprise", display_id=ENTERPRISE_ID,
        department="market_regulation", record_ids=[RECORD_ID], channel="green", working_days=1, accepted_at=AT,
        due_at=AT + timedelta(days=1))),
    RepairDecided: ("repair", repair_decided),
    RepairSlaBreached: ("repair", lambda: RepairSlaBreached(
        application_id=str(uuid.uuid4()), subject_key=ENTERPRISE_KEY, department="market_regulation", channel="green",
        pending_stage="final", accepted_at=AT, due_at=AT + timedelta(days=1), breached_at=AT + timedelta(days=1))),
    CalendarOverrideChanged: ("repair", lambda: CalendarOverrideChanged(
        day=date(2027, 1, 4), working=False, reason="大连市人民政府关于调整工作日的通知（测试）", changed_at=AT)),
    RepairDeadlinesRecomputed: ("repair", lambda: RepairDeadlinesRecomputed(
        applications=[RecomputedDeadline(application_id=str(uuid.uuid4()), previous_due_at=AT, due_at=AT + timedelta(days=1))],
        reason="official working-day schedule published")),
    DeadLettered: ("any service", lambda: DeadLettered(
        consumer="rating-classifier", original_topic="jointcredit.repairs", original_partition=2, original_offset=41,
        original_event_id=str(uuid.uuid4()), original_type=RepairDecided.type_name(),
        error="ValidationError: 1 validation error for RepairDecided", attempts=5)),
}

# Who acts on each type inside the system (DESIGN §3). Types not named here go to agencies, the public credit platform
# and operators only.
CONSUMERS: dict[type[EventData], set[str]] = {
    ReportReceived: {"rating"},
    ReportWithdrawn: {"rating"},
    ReportClassified: {"ingest"},
    SubjectListed: {"sanctions", "repair"},
    RecordRepaired: {"sanctions", "repair"},
    RecordWithdrawn: {"sanctions", "repair"},
    RecordExpired: {"sanctions", "repair"},
    RecordIncentivesSuspended: {"sanctions"},
    RecordIncentivesResumed: {"sanctions"},
    RepairDecided: {"rating"},
    CalendarOverrideChanged: {"rating", "sanctions"},
}


@dataclass(frozen=True)
class Service:
    create_app: Callable[..., Any]
    settings: type


SERVICES = {
    "ingest": Service(create_ingest, IngestSettings),
    "rating": Service(create_rating, RatingSettings),
    "sanctions": Service(create_sanctions, SanctionsSettings),
    "repair": Service(create_repair, RepairSettings),
}


def handler_map(service: str) -> dict:
    """Every handler of every consumer the service's app declares (its ServiceSpec), as the consumers get them. Building
    the app and the handler maps reads settings and keeps the outbox; it opens no connection."""
    kind = SERVICES[service]
    settings = kind.settings(database_url=f"postgresql+asyncpg://contract@127.0.0.1:1/{service}")
    spec = kind.create_app(settings).state.spec
    runtime = ServiceRuntime(settings=settings, engine=None, sessionmaker=None, tokens=None, cipher=CIPHER, hasher=HASHER,
                             outbox=Outbox(source=f"/jointcredit/{service}", topic_prefix=settings.topic_prefix))
    merged: dict = {}
    for consumer in spec.consumers:
        handlers = consumer.handlers(runtime)
        assert type(handlers) is dict, f"{service}/{consumer.name}: handlers are looked up by exact type"
        assert not set(handlers) & set(merged), f"{service}: two consumers handle {set(handlers) & set(merged)}"
        merged.update(handlers)
    return merged


HANDLERS = {service: handler_map(service) for service in SERVICES}


def over_the_wire(service: str, data: EventData) -> CloudEvent:
    """Outbox row as the producer writes it → the relay's CloudEvent → Kafka bytes → the consumer's CloudEvent."""
    row = Outbox(source=f"/jointcredit/{service}", topic_prefix="jointcredit").row(
        data, key=ENTERPRISE_KEY, **({"agency": "xinyidai_banks"} if "{agency}" in type(data).topic else {}))
    sent = CloudEvent(id=str(row["id"]), type=row["type"], source=row["source"], subject=row["subject"], time=row["time"],
                      data=row["data"], key=row["key"], traceparent=row["traceparent"])
    return CloudEvent.from_kafka(*sent.to_kafka())


def test_the_table_covers_every_registered_event_type():
    assert set(PRODUCERS) == set(EVENT_TYPES.values())
    assert set(CONSUMERS) <= set(PRODUCERS)


@pytest.mark.parametrize("model", list(PRODUCERS), ids=lambda m: m.event_type)
def test_the_producers_payload_validates_against_the_one_model_and_its_json_schema(model: type[EventData]):
    service, build = PRODUCERS[model]
    data = build()
    assert type(data) is model and EVENT_TYPES[model.type_name()] is model
    event = over_the_wire(service, data)
    assert event.type == model.type_name()
    jsonschema.validate(event.data, json_schemas()[model.type_name()])
    assert model.model_validate(event.data) == data


def test_each_service_handles_exactly_the_types_the_table_gives_it_by_their_exact_names():
    for service, handlers in HANDLERS.items():
        assert type(handlers) is dict, f"{service}: handlers are looked up by exact type, not a dict subclass"
        wanted = {model.type_name() for model, consumers in CONSUMERS.items() if service in consumers}
        assert set(handlers) == wanted, service


@pytest.mark.parametrize(
    ("model", "service"), [(m, s) for m, services in CONSUMERS.items() for s in sorted(services)],
    ids=lambda v: v.event_type if isinstance(v, type) else v,
)
async def test_each_consumer_reads_the_event_through_that_same_model(model: type[EventData], service: str):
    handler = HANDLERS[service][model.type_name()]
    producer, build = PRODUCERS[model]
    good = over_the_wire(producer, build()).data
    # Drop one required field: a handler that reads through the model fails with the model's own validation error,
    # before it touches the database (there is none here); one that picks loose keys out of a dict does not.
    required = sorted(json_schemas()[model.type_name()]["required"])
    for field in required:
        off_model = {k: v for k, v in good.items() if k != field}
        event = CloudEvent(type=model.type_name(), source=f"/jointcredit/{producer}", subject=ENTERPRISE_KEY,
                           key=ENTERPRISE_KEY, data=off_model)
        with pytest.raises(ValidationError) as caught:
            await handler(None, event)
        assert caught.value.title == model.__name__, (service, field)
        assert [e["loc"] for e in caught.value.errors()] == [(field,)], (service, field)


def test_repair_decided_is_read_strictly_no_unknown_field_passes():
    good = over_the_wire("repair", repair_decided()).data
    with pytest.raises(ValidationError):
        RepairDecided.model_validate({**good, "approved": True})
