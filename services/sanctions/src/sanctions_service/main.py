"""Sanctions service: joint reward and punishment dispatch to implementing agencies (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from jointcredit_common.catalog import load_catalog
from jointcredit_common.service import ConsumerSpec, ServiceSpec, create_service_app
from sanctions_service.events.handlers import handlers
from sanctions_service.measures.views import router as measures_router
from sanctions_service.settings import SanctionsSettings


def create_app(settings: SanctionsSettings | None = None) -> FastAPI:
    settings = settings or SanctionsSettings()
    agencies = [a.code for a in load_catalog().agencies]
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit sanctions",
            description="Joint rewards and punishments dispatched to the agencies that apply them (发起-响应-反馈).",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[measures_router],
            consumers=[ConsumerSpec(name="sanctions-dispatch", topics=["ratings"], handlers=handlers)],
            topics=[f"measures.{code}" for code in agencies],
        )
    )
