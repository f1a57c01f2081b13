"""Data schemas of every event type on the bus (versioned; exported as JSON Schema for consumers).

Adding a field is compatible; renaming or removing one needs a new version (``….v2``) published alongside.
Consumers ignore fields they don't know.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, List, Literal  # noqa: UP035 - `list` is a field name below

from pydantic import BaseModel, ConfigDict

from jointcredit_common.domain import ListName, Outcome, SubjectType  # noqa: F401 - re-exported for event modules
from jointcredit_common.events.envelope import TYPE_PREFIX

EVENT_TYPES: dict[str, type["EventData"]] = {}


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str] = ""
    topic: ClassVar[str] = ""  # relative to the topic prefix; per-agency topics are chosen at write time
    summary: ClassVar[str] = ""
    # The one service that publishes this type (events/provenance.py checks the signer against it): the ``<svc>`` of
    # the schemas_<svc>.py module a type lives in, or named here for the types of this module ("*": every service).
    producer: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = cls.__module__.rsplit(".", 1)[-1]
        if not cls.producer and module.startswith("schemas_"):
            cls.producer = module.removeprefix("schemas_")
        if cls.event_type:
            if not cls.producer:
                raise TypeError(f"{cls.__name__}: no producer (define it in schemas_<service>.py or name it)")
            EVENT_TYPES[cls.type_name()] = cls

    @classmethod
    def type_name(cls) -> str:
        return TYPE_PREFIX + cls.event_type

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class SubjectRef(BaseModel):
    """Who an event is about. Citizens appear only by keyed hash, masked text and AES-GCM ciphertext."""

    type: SubjectType
    key: str  # "enterprise:<USCC>" | "citizen:<HMAC-SHA256 of the ID number>"
    display_id: str  # USCC, or the masked ID number (2101**********123X)
    display_name: str | None = None  # enterprise name, or the masked citizen name (张*三)
    id_encrypted: str | None = None  # citizens only
    name_encrypted: str | None = None  # citizens only


class Evidence(BaseModel):
    kind: Literal["none", "administrative_penalty", "judicial_judgment"] = "none"
    document_no: str | None = None
    authority: str | None = None
    decided_on: date | None = None


class Exemption(BaseModel):
    cause: Literal["epidemic_participation", "force_majeure"] | None = None
    risk_controllable: bool = False


# --- ingest -------------------------------------------------------------------------------------------


class ReportReceived(EventData):
    event_type = "report.received.v1"
    producer = "ingest"
    topic = "reports"
    summary = "A member department reported an incident about a subject (ingest)."

    report_id: str
    department: str
    subject: SubjectRef
    behavior: str
    occurred_on: date
    description: str | None = None
    evidence: Evidence
    exemption: Exemption | None = None
    received_at: datetime


class ReportWithdrawn(EventData):
    event_type = "report.withdrawn.v1"
    producer = "ingest"
    topic = "reports"
    summary = "The reporting department withdrew a report (e.g. the penalty was revoked); undo what rests on it."

    report_id: str
    department: str
    subject_key: str
    reason: str
    withdrawn_at: datetime


# --- rating -------------------------------------------------------------------------------------------


class ReportClassified(EventData):
    event_type = "report.classified.v1"
    producer = "rating"
    topic = "ratings"
    summary = "The classifier's decision on a report, with the clauses and evidence it rests on (rating)."

    report_id: str
    subject_key: str
    outcome: Outcome
    clause_codes: List[str]
    reason_zh: str
    record_id: str | None = None
    list: ListName | None = None
    catalog: str
    classified_at: datetime


class SubjectListed(EventData):
    event_type = "subject.listed.v1"
    producer = "rating"
    topic = "ratings"
    summary = "A credit record put a subject on a list (key warning, red or dishonest) (rating)."

    record_id: str
    report_id: str
    department: str
    subject: SubjectRef
    list: ListName
    behavior: str
    clause_codes: List[str]
    tier: str | None = None
    measures: List[str]
    suppressed_measures: List[str] = []
    publicity_starts_on: date | None = None
    publicity_ends_on: date | None = None
    evidence: Evidence | None = None
    reason_zh: str
    notice: dict[str, Any] | None = None
    catalog: str


class RecordEnded(EventData):
    """Base of the events that end a listing; sanctions lifts every measure built on the record."""

    topic = "ratings"
    producer = "rating"

    record_id: str
    report_id: str
    subject_key: str
    list: ListName
    reason: str
    ended_at: datetime


class RecordRepaired(RecordEnded):
    event_type = "record.repaired.v1"
    summary = "A credit record was repaired (green-channel approval): publicity stops, sharing stops, measures lift."


class RecordWithdrawn(RecordEnded):
    event_type = "record.withdrawn.v1"
    summary = "A credit record was withdrawn with its report (e.g. penalty revoked on appeal)."


class RecordExpired(RecordEnded):
    event_type = "record.expired.v1"
    summary = "A credit record's publicity period ended."


# --- sanctions ----------------------------------------------------------------------------------------


class LegalBasis(BaseModel):
    catalog: str
    document: str
    clause_codes: List[str]
    evidence_document_no: str | None = None


class MeasureIssued(EventData):
    event_type = "measure.issued.v1"
    producer = "sanctions"
    topic = "measures.{agency}"
    summary = "An implementing agency must apply a joint reward or punishment measure (sanctions)."

    measure_id: str
    agency: str
    record_id: str
    subject: SubjectRef
    list: ListName
    measure: str
    text_zh: str
    kind: str
    basis: LegalBasis
    starts_on: date
    planned_end_on: date | None = None


class MeasureLifted(EventData):
    event_type = "measure.lifted.v1"
    producer = "sanctions"
    topic = "measures.{agency}"
    summary = "An implementing agency must stop applying a measure, with the reason (sanctions)."

    measure_id: str
    agency: str
    record_id: str
    subject_key: str
    measure: str
    reason: str
    lifted_at: datetime


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every event type's data, keyed by CloudEvents type."""
    return {name: model.model_json_schema() for name, model in sorted(EVENT_TYPES.items())}


class DeadLettered(EventData):
    event_type = "dead_letter.v1"
    producer = "*"
    topic = "dlq"
    summary = "An event a consumer could not handle after its retries, with the error (any service)."

    consumer: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_event_id: str | None = None
    original_type: str | None = None
    error: str
    attempts: int


# Each service's own event types live beside this module; importing them here registers them in EVENT_TYPES
# (at the end, because they subclass EventData).
from jointcredit_common.events import schemas_ingest, schemas_rating, schemas_repair, schemas_sanctions  # noqa: E402, F401
