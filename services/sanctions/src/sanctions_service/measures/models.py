"""Tables of the sanctions database (mirrors migrations 0001 and 0002)."""

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# One joint measure per (record, measure, agency) — constraint measures_once.
measures = Table(
    "measures", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("seq", BigInteger), Column("record_id", UUID(as_uuid=True)),
    Column("subject_key", Text), Column("agency", Text), Column("measure", Text), Column("list", Text), Column("state", Text),
    Column("payload", JSONB), Column("starts_on", Date), Column("planned_end_on", Date),
    Column("issued_at", DateTime(timezone=True)), Column("lifted_at", DateTime(timezone=True)), Column("lift_reason", Text),
    Column("subject_type", Text), Column("kind", Text), Column("feedback_due_at", DateTime(timezone=True)),
    Column("feedback_result", Text), Column("feedback_at", DateTime(timezone=True)), Column("suspended_at", DateTime(timezone=True)),
)

credit_records = Table(
    "credit_records", metadata,
    Column("record_id", UUID(as_uuid=True), primary_key=True), Column("subject_key", Text), Column("list", Text),
    Column("state", Text), Column("listed", JSONB), Column("listed_at", DateTime(timezone=True)), Column("end_kind", Text),
    Column("end_reason", Text), Column("ended_at", DateTime(timezone=True)),
)

measure_events = Table(
    "measure_events", metadata,
    Column("seq", BigInteger, primary_key=True), Column("event_id", UUID(as_uuid=True)), Column("measure_id", UUID(as_uuid=True)),
    Column("agency", Text), Column("subject_key", Text), Column("type", Text), Column("source", Text),
    Column("time", DateTime(timezone=True)), Column("data", JSONB),
)

measure_feedback = Table(
    "measure_feedback", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("measure_id", UUID(as_uuid=True)), Column("agency", Text),
    Column("result", Text), Column("at", DateTime(timezone=True)), Column("matter", Text), Column("note", Text),
    Column("reported_by", Text), Column("received_at", DateTime(timezone=True)),
)

webhook_subscriptions = Table(
    "webhook_subscriptions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("agency", Text), Column("url", Text),
    Column("secret_encrypted", Text), Column("description", Text), Column("created_by", Text),
    Column("created_at", DateTime(timezone=True)), Column("deleted_at", DateTime(timezone=True)),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", BigInteger, primary_key=True), Column("subscription_id", UUID(as_uuid=True)), Column("feed_seq", BigInteger),
    Column("event_id", UUID(as_uuid=True)), Column("subject_key", Text), Column("state", Text), Column("attempts", Integer),
    Column("next_attempt_at", DateTime(timezone=True)), Column("window_started_at", DateTime(timezone=True)),
    Column("lease_token", UUID(as_uuid=True)), Column("last_status", Integer), Column("last_error", Text),
    Column("created_at", DateTime(timezone=True)), Column("delivered_at", DateTime(timezone=True)),
    Column("dead_at", DateTime(timezone=True)),
)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", BigInteger, primary_key=True), Column("delivery_id", BigInteger), Column("attempt", Integer),
    Column("at", DateTime(timezone=True)), Column("duration_ms", Integer), Column("status_code", Integer), Column("error", Text),
)
