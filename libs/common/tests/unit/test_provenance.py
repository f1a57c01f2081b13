"""The event registry names one producer per type, and the verifier holds each signer to its own types and topics."""

from __future__ import annotations

import pytest

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.provenance import (
    EventRejected,
    EventSigner,
    EventVerifier,
    TrustedKey,
    decode_public_key,
    dev_trusted_keys,
    event_producers,
)
from jointcredit_common.events.schemas import (
    DeadLettered,
    MeasureIssued,
    RecordRepaired,
    ReportReceived,
)
from jointcredit_common.events.schemas_repair import CalendarOverrideChanged, RepairDecided

PREFIX = "jc"


def verifier() -> EventVerifier:
    trusted = {kid: TrustedKey(e["service"], decode_public_key(e["public_key"])) for kid, e in dev_trusted_keys().items()}
    return EventVerifier(trusted, topic_prefix=PREFIX)


def record(type_name: str, topic: str, signer: str, source: str | None = None):
    event = CloudEvent(type=type_name, source=source or f"/jointcredit/{signer}", subject="k", key="k", data={})
    key, value, headers = event.to_kafka()
    return topic, key, value, headers + EventSigner.dev(signer).headers(topic, key, value, headers)


def test_every_type_has_one_producing_service_from_its_schema_module():
    producers = event_producers()
    assert set(producers.values()) == {"ingest", "rating", "sanctions", "repair", "*"}
    assert producers[ReportReceived.type_name()] == "ingest"
    assert producers[RecordRepaired.type_name()] == "rating"  # inherited from RecordEnded
    assert producers[MeasureIssued.type_name()] == "sanctions"
    assert producers[RepairDecided.type_name()] == "repair"  # schemas_repair.py
    assert producers[CalendarOverrideChanged.type_name()] == "repair"
    assert producers[DeadLettered.type_name()] == "*"


@pytest.mark.parametrize(
    "type_name, topic, signer, source, verdict",
    [
        (MeasureIssued.type_name(), "jc.measures.railway", "sanctions", None, "sanctions"),
        (MeasureIssued.type_name(), "jc.measures.railway.extra", "sanctions", None, "wrong_topic"),
        (MeasureIssued.type_name(), "jc.measures.railway", "rating", None, "wrong_type"),
        (DeadLettered.type_name(), "jc.dlq", "rating", None, "rating"),  # every service announces its dead letters
        (DeadLettered.type_name(), "jc.dlq", "repair", None, "repair"),
        (DeadLettered.type_name(), "jc.dlq", "repair", "/jointcredit/rating", "wrong_source"),
        (CalendarOverrideChanged.type_name(), "jc.calendar", "repair", None, "repair"),
        ("cn.dalian.jointcredit.nothing.v1", "jc.repairs", "repair", None, "wrong_type"),
        (RepairDecided.type_name(), "other.repairs", "repair", None, "wrong_topic"),  # another deployment's prefix
    ],
)
def test_a_signer_is_held_to_its_own_types_and_topics(type_name, topic, signer, source, verdict):
    try:
        outcome = verifier().verify(*record(type_name, topic, signer, source))
    except EventRejected as exc:
        outcome = exc.reason
    assert outcome == verdict


def test_a_signature_key_id_that_names_another_services_key_does_not_verify():
    topic, key, value, headers = record(RepairDecided.type_name(), "jc.repairs", "ingest", "/jointcredit/repair")
    headers = [(n, b"repair-dev" if n == "ce_signaturekeyid" else v) for n, v in headers]  # ingest's signature
    with pytest.raises(EventRejected) as rejection:
        verifier().verify(topic, key, value, headers)
    assert rejection.value.reason == "bad_signature"
