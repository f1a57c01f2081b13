"""Alembic environment: migrations run at service start-up on the connection the service hands over."""

from jointcredit_common.db import run_alembic_env

run_alembic_env()
