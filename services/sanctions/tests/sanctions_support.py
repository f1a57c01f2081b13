"""Test support for sanctions (its own tests and e2e): listings as rating emits them, publishing to the real broker,
polling the real database. Not used by the service itself."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import (
    Evidence,
    RecordEnded,
    RecordExpired,
    RecordRepaired,
    RecordWithdrawn,
    SubjectListed,
    SubjectRef,
)
from jointcredit_common.events.schemas_rating import RecordIncentivesResumed, RecordIncentivesSuspended
from jointcredit_common.pii import PiiCipher, PiiHasher, mask_name, mask_resident_id
from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, DEV_PII_KEY_ID
from jointcredit_common.subjects import SUBJECT_ID_CONTEXT, SUBJECT_NAME_CONTEXT
from jointcredit_common.tables import inbox
from jointcredit_common.testing.factories import resident_id, uscc
from jointcredit_common.testing.kafka import eventually, publish  # noqa: F401 - re-exported to the tests

CATALOG = load_catalog()
CONSUMER = "sanctions-dispatch"
ENDINGS: dict[str, type[RecordEnded]] = {"repaired": RecordRepaired, "withdrawn": RecordWithdrawn, "expired": RecordExpired}


def enterprise(n: int, name: str = "大连某某贸易有限公司") -> SubjectRef:
    code = uscc(n)
    return SubjectRef(type="enterprise", key=f"enterprise:{code}", display_id=code, display_name=name)


def citizen(n: int, name: str = "张三丰") -> SubjectRef:
    number = resident_id(n)
    cipher = PiiCipher.from_settings({DEV_PII_KEY_ID: DEV_PII_KEY}, DEV_PII_KEY_ID)
    hasher = PiiHasher.from_settings(DEV_PII_HASH_KEY)
    return SubjectRef(
        type="citizen", key=f"citizen:{hasher.keyed_hash(number)}", display_id=mask_resident_id(number),
        display_name=mask_name(name), id_encrypted=cipher.encrypt(number, context=SUBJECT_ID_CONTEXT),
        name_encrypted=cipher.encrypt(name, context=SUBJECT_NAME_CONTEXT),
    )


def listed(subject: SubjectRef, behavior: str, *, suppressed: bool = False, record_id: str | None = None) -> SubjectListed:
    """A subject.listed.v1 as rating emits it for ``behavior`` (measures from the catalog, filtered by subject type)."""
    entry = CATALOG.behavior(behavior)
    applicable = [c for c in entry.measures if subject.type in CATALOG.measure(c).subject_types]
    suppressed_codes = [c for c in applicable if suppressed and CATALOG.measure(c).suppressed_while_dishonest]
    list_name = {"key_warning": "key_warning", "red": "red", "dishonest": "dishonest"}[entry.outcome]
    evidence = (Evidence(kind="administrative_penalty", document_no="大市监罚〔2020〕12号", authority="大连市市场监督管理局",
                         decided_on=date(2020, 3, 10)) if list_name == "dishonest" else None)
    return SubjectListed(
        record_id=record_id or str(uuid.uuid4()), report_id=str(uuid.uuid4()), department="market_regulation",
        subject=subject, list=list_name, behavior=behavior, clause_codes=[behavior], tier=entry.tier,
        measures=[c for c in applicable if c not in suppressed_codes], suppressed_measures=suppressed_codes,
        publicity_starts_on=date(2020, 3, 12), publicity_ends_on=date(2021, 3, 11), evidence=evidence,
        reason_zh=f"依据大信办字〔2020〕4号（{behavior}）", catalog=CATALOG.id,
    )


def ended(kind: str, listing: SubjectListed, reason: str = "信用修复申请经终审通过") -> RecordEnded:
    return ENDINGS[kind](record_id=listing.record_id, report_id=listing.report_id, subject_key=listing.subject.key,
                         list=listing.list, reason=reason, ended_at=datetime.now(UTC))


def incentives(kind: str, red: SubjectListed, because: SubjectListed, *, reason: str | None = None) -> CloudEvent:
    """Rating's decision on a red record's incentives as rating emits it: ``record.incentives_suspended.v1`` when the
    subject became dishonest (``because``), ``record.incentives_resumed.v1`` when its last dishonest record ended."""
    model = {"suspended": RecordIncentivesSuspended, "resumed": RecordIncentivesResumed}[kind]
    codes = [c for c in [*red.measures, *red.suppressed_measures] if CATALOG.measure(c).suppressed_while_dishonest]
    text = reason or {"suspended": "因该企业存在尚未修复的失信记录，暂不实施信用激励措施",
                      "resumed": "该主体已无尚未结束的失信记录，恢复实施信用激励措施"}[kind]
    data = model(record_id=red.record_id, report_id=red.report_id, subject_key=red.subject.key, list="red", measures=codes,
                 because_record_id=because.record_id, reason_zh=text, at=datetime.now(UTC))
    return cloudevent(data, key=red.subject.key)


def cloudevent(data: Any, *, key: str, event_id: str | None = None) -> CloudEvent:
    return CloudEvent(type=data.type_name(), source="/jointcredit/rating", subject=key, data=data.to_data(), key=key,
                      **({"id": event_id} if event_id else {}))


def expected_routes(listing: SubjectListed) -> set[tuple[str, str]]:
    """(agency, measure) pairs the catalog routes this listing's measures to."""
    return {(route.agency, code) for code in listing.measures for route in CATALOG.measure(code).agencies}


async def processed_count(runtime: Any) -> int:
    async with runtime.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(inbox).where(inbox.c.consumer == CONSUMER))).scalar_one()


async def wait_processed(runtime: Any, count: int, timeout: float = 25.0) -> None:
    async def done() -> bool:
        return await processed_count(runtime) >= count

    await eventually(done, timeout=timeout)


class SanctionsUnderTest:
    """One in-process sanctions service with its real database and the shared broker."""

    def __init__(self, app: Any, client: Any, credentials: list[dict[str, Any]]) -> None:
        self.app = app
        self.client = client
        self.credentials = credentials

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    @property
    def bootstrap(self) -> str:
        return self.runtime.settings.kafka_bootstrap_servers

    def topic(self, name: str) -> str:
        return self.runtime.settings.topic(name)

    def token(self, role: str, principal: str | None = None) -> str:
        for cred in self.credentials:
            if cred["role"] == role and (principal is None or cred["principal"] == principal):
                return cred["token"]
        raise LookupError((role, principal))

    def auth(self, role: str, principal: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, principal)}"}

    async def send(self, *events: CloudEvent) -> None:
        await publish(self.bootstrap, self.topic("ratings"), list(events))
