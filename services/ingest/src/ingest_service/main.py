"""Ingest service: member departments report incidents and file commitments (DESIGN §3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from jointcredit_common.app import ConsumerSpec, ServiceSpec, create_service_app
from ingest_service.audit.views import router as audit_router
from ingest_service.commitments.views import router as commitments_router
from ingest_service.departments.service import seed_demo_departments
from ingest_service.departments.views import admins_router
from ingest_service.departments.views import router as departments_router
from ingest_service.departments.views import self_router as my_department_router
from ingest_service.departments.views import tokens_router as department_tokens_router
from ingest_service.events.handlers import handlers
from ingest_service.reports.service import purge_expired_idempotency_keys
from jointcredit_common.periodic import every
from ingest_service.reports.views import router as reports_router
from ingest_service.reports.writer import install_writer, run_writer
from ingest_service.settings import IngestSettings


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    return create_service_app(
        ServiceSpec(
            settings=settings,
            title="jointcredit ingest",
            description=(
                "Member departments report incidents about enterprises and citizens and file enterprises' commitments "
                "(大信办字〔2020〕4号). Limits: a request body is at most max_body_bytes (1 MiB; 413 beyond), a batch at "
                "most max_batch_body_bytes (32 MiB, that route only) and max_batch_items (10,000) items. Idempotency-Key records are "
                "kept idempotency_ttl_hours (24 h)."
            ),
            version="1.0.0",
            migrations=Path(__file__).parent / "migrations",
            body_limits={"/v1/reports:batch": settings.max_batch_body_bytes},
            routers=[reports_router, commitments_router, my_department_router, departments_router,
                     department_tokens_router, admins_router, audit_router],
            consumers=[ConsumerSpec(name="ingest-status", topics=["ratings"], handlers=handlers)],
            topics=["reports", "commitments"],
            on_startup=[seed_demo_departments, install_writer],
            background=[every(lambda r: r.settings.idempotency_purge_interval_seconds, purge_expired_idempotency_keys),
                        run_writer],
            openapi_tags=[
                {"name": "reports", "description": "Incident reports (single, batch), status, withdrawal"},
                {"name": "commitments", "description": "承诺书: filing (departments) and public listing"},
                {"name": "departments", "description": "Admin: member departments, their behaviour codes and tokens"},
                {"name": "credentials", "description": "Admin: named admins and their tokens"},
                {"name": "audit", "description": "Admin: audit-trail export"},
            ],
        )
    )
