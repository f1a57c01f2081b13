"""Platform tables every service database holds: outbox, inbox, dead letters, credentials, audit trail.

Created by each service's first migration through :func:`create_platform_tables`, so every service uses
the same shapes. Later changes to these tables need a migration in every service.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

# The largest value a bigint / bigserial column holds: API ids and cursors above it are refused (422) up front,
# since the database driver would fail on them (a 500) rather than find nothing.
MAX_BIGINT = 2**63 - 1

platform_metadata = MetaData()

outbox = Table(
    "outbox",
    platform_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),  # CloudEvents id
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),  # Kafka key = the subject, so one subject's events stay in order
    Column("type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("traceparent", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("lease_token", UUID(as_uuid=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Index("outbox_pending", "seq", postgresql_where=text("published_at IS NULL")),
    Index("outbox_published_at", "published_at", postgresql_where=text("published_at IS NOT NULL")),
)

inbox = Table(
    "inbox",
    platform_metadata,
    Column("consumer", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text),
    Column("topic", Text),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("status", Text, nullable=False, server_default=text("'processed'")),  # processed | dead_lettered
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id"),
    Index("inbox_processed_at", "processed_at"),
)

dead_letters = Table(
    "dead_letters",
    platform_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("consumer", Text, nullable=False),
    Column("event_id", Text),
    Column("event_type", Text),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", LargeBinary),
    Column("value", LargeBinary),
    Column("headers", JSONB, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("redriven_at", DateTime(timezone=True)),
)

credentials = Table(
    "credentials",
    platform_metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("role", Text, nullable=False),  # department | agency | reviewer | admin | service
    Column("principal", Text, nullable=False),  # department code, agency code, reviewer id, admin id
    Column("token_sha256", Text, nullable=False, unique=True),
    Column("scopes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("credentials_principal", "role", "principal"),
)

audit_log = Table(
    "audit_log",
    platform_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor_role", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_type", Text),
    Column("target_id", Text),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("client_addr", Text),
    Column("traceparent", Text),
    Index("audit_log_at", "at"),
    Index("audit_log_target", "target_type", "target_id"),
)


def create_platform_tables(op) -> None:  # noqa: ANN001 - alembic's op module
    """Used by each service's first migration (frozen at platform schema v1)."""
    platform_metadata.create_all(bind=op.get_bind())
    # The relay LISTENs on this channel; NOTIFY is delivered at commit, once per transaction and channel.
    op.execute(
        "CREATE OR REPLACE FUNCTION jointcredit_outbox_notify() RETURNS trigger AS $$ "
        "BEGIN PERFORM pg_notify('jointcredit_outbox', ''); RETURN NULL; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION jointcredit_outbox_notify()"
    )
