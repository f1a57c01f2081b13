"""Sanctions service: joint reward and punishment dispatch to implementing agencies (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import jointcredit_common.events.schemas_sanctions  # noqa: F401 - registers sanctions' event types
from jointcredit_common.calendar.overrides import calendar_consumer, calendar_overrides_mirror
from jointcredit_common.catalog import load_catalog
from jointcredit_common.credentials import admin_credentials_router
from jointcredit_common.app import ConsumerSpec, ServiceSpec, create_service_app
from sanctions_service.agencies.views import router as agencies_router
from sanctions_service.agencies.views import tokens_router as agency_tokens_router
from sanctions_service.asyncapi import router as asyncapi_router
from sanctions_service.events.handlers import handlers
from sanctions_service.measures.views import router as measures_router
from sanctions_service.metrics import refresh_gauges_loop
from sanctions_service.settings import SanctionsSettings
from sanctions_service.webhooks.dispatcher import run_webhook_dispatcher
from sanctions_service.webhooks.views import router as webhooks_router


def create_app(settings: SanctionsSettings | None = None) -> FastAPI:
    settings = settings or SanctionsSettings()
    agencies = [a.code for a in load_catalog().agencies]
    unknown = sorted(set(settings.identity_entitled_agencies) - set(agencies))
    if unknown:
        raise ValueError(f"identity_entitled_agencies names agencies the catalog does not know: {unknown}")
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit sanctions",
            description="Joint rewards and punishments dispatched to the agencies that apply them (发起-响应-反馈).",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[agencies_router, agency_tokens_router, measures_router, webhooks_router, asyncapi_router,
                     admin_credentials_router()],
            consumers=[ConsumerSpec(name="sanctions-dispatch", topics=["ratings"], handlers=handlers),
                       calendar_consumer("sanctions")],
            calendar_overrides=calendar_overrides_mirror,
            topics=[f"measures.{code}" for code in agencies] + ["feedback"],
            background=[run_webhook_dispatcher, refresh_gauges_loop],
            openapi_tags=[
                {"name": "agencies", "description": "Implementing agencies and their delivery channels"},
                {"name": "measures", "description": "Pull feed, measures, feedback and statistics"},
                {"name": "webhooks", "description": "Signed webhooks: subscriptions, delivery log, re-drive"},
                {"name": "events", "description": "AsyncAPI document of the event contract"},
                {"name": "credentials", "description": "Admin: named admins and their tokens"},
            ],
        )
    )
