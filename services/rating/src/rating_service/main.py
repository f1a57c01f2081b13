"""Rating service: the catalog, the classifier, credit records and lists (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

import jointcredit_common.events.schemas_rating  # noqa: F401 - registers rating's own event types
from jointcredit_common.calendar.overrides import calendar_consumer, calendar_overrides_mirror
from jointcredit_common.catalog import load_catalog
from jointcredit_common.credentials import admin_credentials_router, department_credentials_router
from jointcredit_common.app import ConsumerSpec, ServiceSpec, create_service_app
from rating_service.events.handlers import handlers
from rating_service.lists.views import router as lists_router
from rating_service.objections.views import router as objections_router
from rating_service.records.expiry import expire_records_loop
from rating_service.records.views import catalog_router
from rating_service.records.views import router as subjects_router
from rating_service.credit_reports.views import router as reports_router
from rating_service.settings import RatingSettings


def create_app(settings: RatingSettings | None = None) -> FastAPI:
    settings = settings or RatingSettings()
    load_catalog()  # validate the catalog at start-up: a broken catalog must stop the service, not a request
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit rating",
            description="The Dalian notice as a catalog; classification, credit records, lists and credit reports.",
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            routers=[catalog_router, subjects_router, reports_router, lists_router, objections_router,
                     department_credentials_router(), admin_credentials_router()],
            consumers=[ConsumerSpec(name="rating-classifier", topics=["reports", "repairs"], handlers=handlers),
                       calendar_consumer("rating")],
            calendar_overrides=calendar_overrides_mirror,
            topics=["ratings"],
            background=[expire_records_loop],
        )
    )
