"""Repair service: the credit-repair green channel (三(一)) and the working-day calendar (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from jointcredit_common.service import ServiceSpec, create_service_app
from repair_service.calendar.views import router as calendar_router
from repair_service.settings import RepairSettings


def create_app(settings: RepairSettings | None = None) -> FastAPI:
    settings = settings or RepairSettings()
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit repair",
            description="Credit repair green channel: initial review → re-review → final review within one working day.",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[calendar_router],
            topics=["repairs"],
        )
    )
