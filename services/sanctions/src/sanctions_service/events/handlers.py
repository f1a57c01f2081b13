"""What sanctions does on each incoming event type."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from jointcredit_common.auth import Principal, record_audit
from jointcredit_common.catalog import load_catalog
from jointcredit_common.events.consumer import Handler
from jointcredit_common.events.envelope import CloudEvent
from jointcredit_common.events.schemas import RecordEnded, RecordExpired, RecordRepaired, RecordWithdrawn, SubjectListed
from jointcredit_common.events.schemas_rating import RecordIncentivesResumed, RecordIncentivesSuspended
from jointcredit_common.app import ServiceRuntime
from sanctions_service.measures.service import (
    DispatchPolicy, issue_measures, lift_measures, restore_incentives, suspend_incentives,
)

DISPATCH_ACTOR = Principal(role="service", principal="sanctions.dispatch")


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

    # Rating alone decides that a red record's incentives pause or apply again (it owns "does the subject have a live
    # dishonest record?"); sanctions executes the decision on the measures it issued for that record.
    async def on_incentives_suspended(session: AsyncSession, event: CloudEvent) -> None:
        paused = RecordIncentivesSuspended.model_validate(event.data)
        count = await suspend_incentives(session, paused, policy=policy)
        await record_audit(session, principal=DISPATCH_ACTOR, action="measures.suspend", target_type="credit_record",
                           target_id=paused.record_id, detail={"event_id": event.id, "measures": paused.measures,
                                                              "because_record_id": paused.because_record_id,
                                                              "suspended": count})

    async def on_incentives_resumed(session: AsyncSession, event: CloudEvent) -> None:
        resumed = RecordIncentivesResumed.model_validate(event.data)
        count = await restore_incentives(session, resumed, policy=policy)
        await record_audit(session, principal=DISPATCH_ACTOR, action="measures.resume", target_type="credit_record",
                           target_id=resumed.record_id, detail={"event_id": event.id, "measures": resumed.measures,
                                                               "because_record_id": resumed.because_record_id,
                                                               "resumed": count})

    return {
        SubjectListed.type_name(): on_listed,
        RecordIncentivesSuspended.type_name(): on_incentives_suspended,
        RecordIncentivesResumed.type_name(): on_incentives_resumed,
        **{model.type_name(): on_ended(model) for model in (RecordRepaired, RecordWithdrawn, RecordExpired)},
    }
