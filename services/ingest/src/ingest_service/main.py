"""Ingest service: member departments report incidents and file commitments (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from jointcredit_common.service import ConsumerSpec, ServiceSpec, create_service_app
from ingest_service.events.handlers import handlers
from ingest_service.reports.views import router as reports_router
from ingest_service.settings import IngestSettings


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit ingest",
            description="Member departments report incidents about enterprises and citizens (大信办字〔2020〕4号).",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[reports_router],
            consumers=[ConsumerSpec(name="ingest-status", topics=["ratings"], handlers=handlers)],
            topics=["reports"],
        )
    )
