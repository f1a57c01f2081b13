"""Each service's SQLAlchemy tables agree with what its migrations build, on a real PostgreSQL.

The code reads and writes through the model mirrors (``<domain>/models.py``, the platform tables, the calendar
mirror); the database is what the migrations made. A column added to one and not the other, or with another type
or nullability, fails here instead of at the first INSERT in production. Indexes, constraints and server defaults live in
the migrations only and are not compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import create_async_engine

from jointcredit_common.calendar.overrides import calendar_overrides_mirror
from jointcredit_common.db import migrate
from jointcredit_common.tables import platform_metadata

COMPARED = {"add_table", "remove_table", "add_column", "remove_column", "modify_nullable", "modify_type"}


def _service_tables(service: str) -> tuple[Path, list[Table]]:
    if service == "ingest":
        import ingest_service.main as main
        from ingest_service.reports.models import metadata
        extra: list[Table] = []
    elif service == "rating":
        import rating_service.main as main
        from rating_service.records.models import metadata
        extra = [calendar_overrides_mirror]
    elif service == "sanctions":
        import sanctions_service.main as main
        from sanctions_service.measures.models import metadata
        extra = [calendar_overrides_mirror]
    else:
        import repair_service.calendar.models  # noqa: F401 - registers the override table on repair's metadata
        import repair_service.main as main
        from repair_service.repairs.models import metadata
        extra = []
    return Path(main.__file__).parent / "migrations", [*metadata.tables.values(), *platform_metadata.tables.values(), *extra]


def _tolerated(diff: tuple) -> bool:
    """alembic's own table; and a model that leaves NOT NULL to the migration (the mirrors list columns, the migration
    holds the constraints). A model claiming NOT NULL where the database allows NULL is a real disagreement."""
    if diff[0] == "remove_table":
        return diff[1].name == "alembic_version"
    if diff[0] == "modify_nullable":
        database_nullable, model_nullable = diff[-2], diff[-1]
        return database_nullable is False and model_nullable is True
    return False


def _flatten(diffs: list) -> list:
    out = []
    for diff in diffs:
        out.extend(_flatten(diff) if isinstance(diff, list) else [diff])
    return out


@pytest.mark.parametrize("service", ["ingest", "rating", "sanctions", "repair"])
async def test_the_models_and_the_migrations_build_the_same_tables(jc_database, service):
    migrations, tables = _service_tables(service)
    combined = MetaData()
    for table in tables:
        table.to_metadata(combined)
    engine = create_async_engine(jc_database(f"models_{service}"))
    try:
        await migrate(engine, migrations)
        async with engine.connect() as conn:
            diffs = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), combined))
    finally:
        await engine.dispose()
    relevant = [d for d in _flatten(diffs) if d[0] in COMPARED and not _tolerated(d)]
    assert relevant == [], f"{service}: models and migrations disagree: {relevant}"
