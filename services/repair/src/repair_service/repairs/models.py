"""Tables of the repair service (mirrors migrations 0001 and 0002; SQLAlchemy Core)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

listed_records = Table(
    "listed_records",
    metadata,
    Column("record_id", Text, primary_key=True),
    Column("report_id", Text, nullable=False),
    Column("subject_key", Text, nullable=False),
    Column("subject_type", Text, nullable=False),
    Column("display_id", Text, nullable=False),
    Column("display_name", Text),
    Column("list", Text, nullable=False),
    Column("behavior", Text, nullable=False),
    Column("clause_codes", JSONB, nullable=False),
    Column("tier", Text),
    Column("department", Text, nullable=False),
    Column("catalog", Text, nullable=False),
    Column("listed_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_state", Text),
    Column("end_reason", Text),
)

repair_applications = Table(
    "repair_applications",
    metadata,
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("subject_key", Text, nullable=False),
    Column("subject_type", Text, nullable=False),
    Column("display_id", Text, nullable=False),
    Column("display_name", Text),
    Column("applicant_role", Text, nullable=False),
    Column("applicant", Text, nullable=False),
    Column("correction", JSONB, nullable=False),
    Column("channel", Text, nullable=False),
    Column("channel_reason", Text, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("next_stage", Text),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("backdated", Boolean, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("due_provisional", Boolean, nullable=False, server_default="false"),  # due_at rests on a provisional day
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    Column("decided_event_id", UUID(as_uuid=True)),
    Column("breached_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

repair_application_records = Table(
    "repair_application_records",
    metadata,
    Column("application_id", UUID(as_uuid=True), ForeignKey("repair_applications.id"), nullable=False),
    Column("record_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("rating_confirmed_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("application_id", "record_id"),
)

review_steps = Table(
    "review_steps",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("application_id", UUID(as_uuid=True), ForeignKey("repair_applications.id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("decision", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("credential_id", Text),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("application_id", "stage", name="review_steps_one_per_stage"),
    UniqueConstraint("application_id", "reviewer", name="review_steps_one_per_reviewer"),
)

sla_timers = Table(
    "sla_timers",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("application_id", UUID(as_uuid=True), ForeignKey("repair_applications.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("fired_at", DateTime(timezone=True)),
    Column("fired_by", Text),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("application_id", "kind", name="sla_timers_one_per_kind"),
)
