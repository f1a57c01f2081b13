"""Fixtures for rating's api/ and events/ tests: the real service (in process) on the real DB and broker.

Reports reach rating the way ingest sends them: ``report.received.v1`` CloudEvents on ``<prefix>.reports``,
produced with a plain aiokafka producer (``CloudEvent.to_kafka()``), subjects built like ingest builds them
(keyed hash + masked display values + ciphertext for citizens).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import Evidence, Exemption, ReportReceived, SubjectRef
from jointcredit_common.events.schemas_repair import RepairDecided
from jointcredit_common.pii import PiiCipher, PiiHasher, mask_name, mask_resident_id
from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, DEV_PII_KEY_ID
from jointcredit_common.subjects import SUBJECT_ID_CONTEXT, SUBJECT_NAME_CONTEXT
from jointcredit_common.testing.factories import resident_id  # noqa: F401 - used by the tests
from jointcredit_common.testing.kafka import eventually, publish  # noqa: F401 - re-exported to the tests


@dataclass(frozen=True)
class Subject:
    type: str
    id: str  # the full USCC / resident ID, as a department reports it
    name: str

    @property
    def key(self) -> str:
        return subject_ref(self).key


# The same development keys the app under test uses (JC_ENVIRONMENT=test keeps the defaults).
HASHER = PiiHasher.from_settings(DEV_PII_HASH_KEY)
CIPHER = PiiCipher.from_settings({DEV_PII_KEY_ID: DEV_PII_KEY}, DEV_PII_KEY_ID)


def subject_ref(subject: Subject) -> SubjectRef:
    if subject.type == "enterprise":
        return SubjectRef(type="enterprise", key=f"enterprise:{subject.id}", display_id=subject.id, display_name=subject.name)
    return SubjectRef(
        type="citizen", key=f"citizen:{HASHER.keyed_hash(subject.id)}", display_id=mask_resident_id(subject.id),
        display_name=mask_name(subject.name), id_encrypted=CIPHER.encrypt(subject.id, context=SUBJECT_ID_CONTEXT),
        name_encrypted=CIPHER.encrypt(subject.name, context=SUBJECT_NAME_CONTEXT),
    )


def report_event(
    subject: Subject, behavior: str, *, occurred_on: date, evidence: dict[str, Any] | None = None,
    exemption: dict[str, Any] | None = None, department: str = "market_regulation", description: str | None = None,
    report_id: str | None = None,
) -> CloudEvent:
    ref = subject_ref(subject)
    data = ReportReceived(
        report_id=report_id or str(uuid.uuid4()), department=department, subject=ref, behavior=behavior,
        occurred_on=occurred_on, description=description, evidence=Evidence(**(evidence or {"kind": "none"})),
        exemption=Exemption(**exemption) if exemption else None, received_at=datetime.now(UTC),
    )
    return CloudEvent(type=ReportReceived.type_name(), source="/jointcredit/ingest", subject=ref.key, key=ref.key,
                      data=data.to_data())


def repair_event(record_ids: list[str], decision: str = "approved", *, key: str, type_name: str | None = None,
                 reason: str = "经初审、复核、终审，同意信用修复", **fields: Any) -> CloudEvent:
    """``repair.decided.v1`` as the repair service publishes it (its model, every field); ``fields`` override or,
    past the model, add raw keys (a producer breaking the contract)."""
    now = datetime.now(UTC)
    data = RepairDecided(
        application_id=str(uuid.uuid4()), subject_key=key, subject_type=key.split(":", 1)[0], department="market_regulation",
        record_ids=record_ids, decision=decision, reason=reason, stage="final" if decision == "approved" else "re_review",
        decided_by="reviewer_final", channel="green", accepted_at=now - timedelta(hours=3), due_at=now + timedelta(hours=21),
        decided_at=now, within_sla=True,
    ).to_data() | fields
    return CloudEvent(type=type_name or RepairDecided.type_name(), source="/jointcredit/repair", subject=key, key=key, data=data)


async def wait_record(runtime: Any, report_id: str, *, state: str | None = None, timeout: float = 25.0) -> dict[str, Any]:
    """The credit record built from ``report_id`` (optionally once it reached ``state``)."""
    from sqlalchemy import select

    from rating_service.records.models import credit_records

    async def check() -> dict[str, Any] | None:
        async with runtime.sessionmaker() as session:
            row = (await session.execute(
                select(credit_records).where(credit_records.c.report_id == uuid.UUID(report_id)))).mappings().first()
        return dict(row) if row and (state is None or row["state"] == state) else None

    return await eventually(check, timeout=timeout)


async def wait_classified(runtime: Any, report_ids: list[str], *, timeout: float = 30.0) -> None:
    from sqlalchemy import func, select

    from rating_service.records.models import classifications

    wanted = [uuid.UUID(r) for r in report_ids]

    async def check() -> bool:
        async with runtime.sessionmaker() as session:
            done = await session.scalar(
                select(func.count()).select_from(classifications).where(classifications.c.report_id.in_(wanted)))
        return done == len(wanted)

    await eventually(check, timeout=timeout)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(jc_credentials):
    """``tokens("department", "market_regulation")`` → a bearer token of the demo credentials."""
    from jointcredit_common.testing.plugin import token_of

    return lambda role, principal=None: token_of(jc_credentials[1], role, principal)


@pytest.fixture
def rating_app(jc_app):
    """``async with rating_app(expiry_check_seconds=0.5) as (app, client)``: rating in process, lifespan and all."""
    from rating_service.main import create_app
    from rating_service.settings import RatingSettings

    def open_rating(**overrides: Any):
        return jc_app("rating", create_app, RatingSettings, **overrides)

    return open_rating


@pytest.fixture(scope="session")
def kit():
    """Helpers as one object (conftest modules are not importable under --import-mode=importlib)."""

    class Kit:
        Subject = Subject
        resident_id = staticmethod(resident_id)
        subject_ref = staticmethod(subject_ref)
        report_event = staticmethod(report_event)
        repair_event = staticmethod(repair_event)
        publish = staticmethod(publish)
        eventually = staticmethod(eventually)
        wait_record = staticmethod(wait_record)
        wait_classified = staticmethod(wait_classified)
        auth = staticmethod(auth)

    return Kit
