"""What sanctions does on each incoming event type."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import TYPE_PREFIX, CloudEvent
from jointcredit_common.events.schemas import RecordEnded, RecordExpired, RecordRepaired, RecordWithdrawn, SubjectListed
from jointcredit_common.service import ServiceRuntime
from sanctions_service.measures.service import (
    DispatchPolicy,
    has_active_dishonest_record,
    issue_measures,
    lift_measures,
    restore_incentives,
    suspend_incentives,
)

# Rating also announces the pause and the return of a red record's incentives (schemas_rating.py). Sanctions already
# pauses them itself on the dishonest listing and restores them when the last dishonest record ends (same ordered
# events), so these are confirmations: state guards make whichever arrives second a no-op. Read with a tolerant local
# model (only the fields used) so that rating can extend its event freely.
INCENTIVES_SUSPENDED = TYPE_PREFIX + "record.incentives_suspended.v1"
INCENTIVES_RESUMED = TYPE_PREFIX + "record.incentives_resumed.v1"


DISPATCH_ACTOR = Principal(role="service", principal="sanctions.dispatch")


class IncentivesChanged(BaseModel):
    model_config = ConfigDict(extra="ignore")

    record_id: str
    subject_key: str
    measures: list[str]
    because_record_id: str
    reason_zh: str


def dispatch_policy(runtime: ServiceRuntime) -> DispatchPolicy:
    settings = runtime.settings
    return DispatchPolicy(
        catalog=load_catalog(),
        outbox=runtime.outbox,
        identity_entitled=frozenset(settings.identity_entitled_agencies),
        feedback_due_working_days=settings.feedback_due_working_days,
        calendar=runtime.calendar,
    )


def handlers(runtime: ServiceRuntime) -> dict[str, Handler]:
    policy = dispatch_policy(runtime)

    async def on_listed(session: AsyncSession, event: CloudEvent) -> None:
        listing = SubjectListed.model_validate(event.data)
        issued = await issue_measures(session, listing, policy=policy)
        await record_audit(session, principal=DISPATCH_ACTOR, action="measures.issue", target_type="credit_record",
                           target_id=listing.record_id, detail={"event_id": event.id, "list": listing.list, "issued": issued,
                                                               "clause_codes": listing.clause_codes})

    def on_ended(model: type[RecordEnded]) -> Handler:
        async def handle(session: AsyncSession, event: CloudEvent) -> None:
            ending = model.model_validate(event.data)
            lifted = await lift_measures(session, ending, policy=policy)
            await record_audit(session, principal=DISPATCH_ACTOR, action="measures.lift", target_type="credit_record",
                               target_id=ending.record_id, detail={"event_id": event.id, "ended": model.event_type,
                                                                  "reason": ending.reason, "lifted": lifted})

        return handle

    async def on_incentives_suspended(session: AsyncSession, event: CloudEvent) -> None:
        change = IncentivesChanged.model_validate(event.data)
        await suspend_incentives(session, subject_key=change.subject_key, because_record_id=change.because_record_id,
                                 policy=policy, record_id=change.record_id, codes=change.measures, reason=change.reason_zh)

    async def on_incentives_resumed(session: AsyncSession, event: CloudEvent) -> None:
        change = IncentivesChanged.model_validate(event.data)
        if await has_active_dishonest_record(session, change.subject_key):
            return  # our own view still has a live dishonest record: its ending will restore them
        await restore_incentives(session, subject_key=change.subject_key, reason=change.reason_zh, policy=policy,
                                 record_id=change.record_id, codes=change.measures)

    return {
        SubjectListed.type_name(): on_listed,
        INCENTIVES_SUSPENDED: on_incentives_suspended,
        INCENTIVES_RESUMED: on_incentives_resumed,
        **{model.type_name(): on_ended(model) for model in (RecordRepaired, RecordWithdrawn, RecordExpired)},
    }
