"""Repair service: the credit-repair green channel (三(一)) and the working-day calendar (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import jointcredit_common.events.schemas_repair  # noqa: F401 - registers the repair event types
from jointcredit_common.catalog import load_catalog
from jointcredit_common.credentials import admin_credentials_router, department_credentials_router
from jointcredit_common.app import ConsumerSpec, ServiceSpec, create_service_app
from repair_service.calendar.models import calendar_overrides
from repair_service.calendar.service import announce_overrides, recompute_provisional_deadlines
from repair_service.calendar.views import router as calendar_router
from repair_service.events.handlers import handlers
from repair_service.repairs.sla import sla_timer_loop
from repair_service.repairs.views import router as repairs_router
from repair_service.reviewers.views import reviewer_tokens_router
from repair_service.settings import RepairSettings


def create_app(settings: RepairSettings | None = None) -> FastAPI:
    settings = settings or RepairSettings()
    catalog = load_catalog()  # validate the catalog at start-up (stages, subject types of 三(一))
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit repair",
            description="Credit repair green channel: initial review → re-review → final review within one working day.",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[repairs_router, calendar_router, reviewer_tokens_router(catalog.credit_repair.stages),
                     department_credentials_router(), admin_credentials_router()],
            consumers=[ConsumerSpec(name="repair-eligibility", topics=["ratings"], handlers=handlers)],
            topics=["repairs", "calendar"],
            calendar_overrides=calendar_overrides,
            on_startup=[announce_overrides, recompute_provisional_deadlines],
            background=[sla_timer_loop],
            openapi_tags=[
                {"name": "repairs", "description": "三(一) credit-repair applications: accept, review, SLA, cascade"},
                {"name": "calendar", "description": "Working days under China's official calendar (Asia/Shanghai)"},
                {"name": "credentials", "description": "Admin: reviewers', applicant departments' and admins' tokens"},
            ],
        )
    )
