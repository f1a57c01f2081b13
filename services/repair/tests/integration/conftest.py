"""In-process repair service against the real PostgreSQL and the real broker.

Rating is simulated by producing its real event types (subject.listed.v1, record.*.v1) onto ``<prefix>.ratings``;
repair consumes them through its real consumer group.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select, text

from jointcredit_common.auth import issue_credential
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import RecordRepaired, RecordWithdrawn, SubjectListed, SubjectRef
from jointcredit_common.app import ServiceRuntime
from jointcredit_common.testing.kafka import signed_record
from jointcredit_common.testing.plugin import token_of
from repair_service.main import create_app
from repair_service.repairs.models import listed_records
from repair_service.settings import RepairSettings

CATALOG_REF = "dalian-2020-4@1.0.0"


async def wait_until(predicate: Callable[[], Awaitable[Any]], timeout: float = 25.0, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Repair:
    app: Any
    client: httpx.AsyncClient
    runtime: ServiceRuntime
    creds: list[dict[str, Any]]
    producer: AIOKafkaProducer
    bootstrap: str
    prefix: str

    def auth(self, role: str, principal: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_of(self.creds, role, principal)}"}

    @property
    def department(self) -> dict[str, str]:
        return self.auth("department", "market_regulation")

    @property
    def admin(self) -> dict[str, str]:
        return self.auth("admin")

    def reviewer(self, stage: str) -> dict[str, str]:
        return self.auth("reviewer", f"reviewer_{stage}")

    async def new_reviewer(self, principal: str, scopes: list[str]) -> dict[str, str]:
        async with self.runtime.sessionmaker() as session, session.begin():
            _, token = await issue_credential(session, role="reviewer", principal=principal, scopes=scopes)
        return {"Authorization": f"Bearer {token}"}

    async def emit(self, data: Any, key: str) -> str:
        """Publish one of rating's events onto <prefix>.ratings, as rating's relay would."""
        event = CloudEvent(type=data.type_name(), source="/jointcredit/rating", subject=key, data=data.to_data(), key=key)
        k, v, h = signed_record(f"{self.prefix}.ratings", event)
        await self.producer.send_and_wait(f"{self.prefix}.ratings", value=v, key=k, headers=h)
        return event.id

    async def list_record(
        self, subject_key: str, *, list_: str = "dishonest", behavior: str = "E7", subject_type: str = "enterprise",
        display_id: str | None = None, catalog: str = CATALOG_REF, wait: bool = True,
    ) -> str:
        record_id = str(uuid.uuid4())
        subject = SubjectRef(type=subject_type, key=subject_key, display_id=display_id or subject_key.split(":", 1)[1],
                             display_name="大连某某医疗器械有限公司" if subject_type == "enterprise" else "张*")
        await self.emit(
            SubjectListed(record_id=record_id, report_id=str(uuid.uuid4()), department="market_regulation", subject=subject,
                          list=list_, behavior=behavior, clause_codes=[behavior], tier="general", measures=["P1"],
                          reason_zh="测试", catalog=catalog),
            subject_key,
        )
        if wait:
            await self.wait_record(record_id)
        return record_id

    async def wait_record(self, record_id: str, ended: bool = False) -> None:
        async def known() -> bool:
            async with self.runtime.sessionmaker() as session:
                row = (await session.execute(select(listed_records).where(listed_records.c.record_id == record_id))).mappings().first()
            return row is not None and (not ended or row["ended_at"] is not None)

        await wait_until(known, what=f"record {record_id} at repair")

    async def end_record(self, record_id: str, subject_key: str, kind: str = "repaired") -> None:
        model = {"repaired": RecordRepaired, "withdrawn": RecordWithdrawn}[kind]
        await self.emit(model(record_id=record_id, report_id=str(uuid.uuid4()), subject_key=subject_key, list="dishonest",
                              reason=kind, ended_at=datetime.now(UTC)), subject_key)

    wait_until = staticmethod(wait_until)

    @staticmethod
    def application(subject_id: str, record_ids: list[str], subject_type: str = "enterprise", **extra: Any) -> dict[str, Any]:
        return application(subject_id, record_ids, subject_type, **extra)

    async def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post("/v1/repairs", json=body, headers=self.department if headers is None else headers)

    async def review(self, app_id: str, stage: str, decision: str = "approve", reason: str = "材料齐全，符合修复条件",
                     headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(f"/v1/repairs/{app_id}/reviews", json={"stage": stage, "decision": decision, "reason": reason},
                                      headers=self.reviewer(stage) if headers is None else headers)

    async def read(self, topic: str, until: Callable[[list[CloudEvent]], bool] | None = None, timeout: float = 30.0,
                   settle: float = 0.0) -> list[CloudEvent]:
        from jointcredit_common.testing.kafka import read_topic

        return await read_topic(self.bootstrap, f"{self.prefix}.{topic}", until=until, timeout=timeout, settle=settle)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.runtime.sessionmaker() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        async with self.runtime.sessionmaker() as session:
            return [dict(r) for r in (await session.execute(text(sql), params)).mappings()]


def correction() -> dict[str, str]:
    return {
        "what_corrected": "已下架全部不合格口罩并召回已售产品",
        "obligations_fulfilled": "已缴清罚款 5 万元（大市监罚〔2020〕12号）",
        "credit_commitment": "本企业承诺今后严格遵守疫情防控法律法规，接受社会监督",
    }


def application(subject_id: str, record_ids: list[str], subject_type: str = "enterprise", **extra: Any) -> dict[str, Any]:
    return {"subject": {"type": subject_type, "id": subject_id}, "record_ids": record_ids, "correction": correction(), **extra}


@pytest.fixture
def open_repair(jc_app, jc_credentials, jc_infra, jc_topic_prefix):
    """``async with open_repair(**settings) as r``: one repair app; call twice for two replicas on one database."""
    import contextlib

    @contextlib.asynccontextmanager
    async def opened(**overrides: Any):
        values = {"sla_poll_seconds": 0.2, "metrics_refresh_seconds": 0.2, "consumer_retry_backoff_seconds": 0.05,
                  "outbox_poll_seconds": 0.2, **overrides}
        async with jc_app("repair", create_app, RepairSettings, **values) as (app, client):
            producer = AIOKafkaProducer(bootstrap_servers=jc_infra.kafka_bootstrap, acks="all")
            await producer.start()
            try:
                repair = Repair(app, client, app.state.runtime, jc_credentials[1], producer, jc_infra.kafka_bootstrap, jc_topic_prefix)
                # The eligibility consumer must have joined its group before rating's events count.
                await wait_until(lambda: _ready(repair), what="repair consumer ready")
                yield repair
            finally:
                await producer.stop()

    return opened


async def _ready(repair: Repair) -> bool:
    return all(c.ready.is_set() for c in repair.runtime.consumers)


@pytest.fixture
async def repair(open_repair):
    async with open_repair() as r:
        yield r
