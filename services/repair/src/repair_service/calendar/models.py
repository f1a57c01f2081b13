"""The city's overrides of the national schedule (repair owns them; mirrors migrations 0001 and 0003)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Table, Text, func

from repair_service.repairs.models import metadata

calendar_overrides = Table(
    "calendar_overrides",
    metadata,
    Column("day", Date, primary_key=True),
    Column("working", Boolean),  # NULL: the override was cleared (a tombstone, announced again like the others)
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
