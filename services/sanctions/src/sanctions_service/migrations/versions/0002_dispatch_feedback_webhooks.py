"""sanctions: record lifecycle, per-agency event feed, feedback (发起-响应-反馈), webhooks

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What sanctions knows of each credit record: whether its basis still stands. A record that ended before its
    # listing was seen (replay, re-drive) stays a tombstone, so the late listing issues nothing.
    op.create_table(
        "credit_records",
        sa.Column("record_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("list", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # active | ended
        sa.Column("listed", JSONB),  # the subject.listed.v1 data (null for a tombstone)
        sa.Column("listed_at", sa.DateTime(timezone=True)),
        sa.Column("end_kind", sa.Text),  # repaired | withdrawn | expired
        sa.Column("end_reason", sa.Text),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("credit_records_subject", "credit_records", ["subject_key", "list", "state"])

    # in_force | suspended (incentive paused by a dishonest record) | withheld (never sent yet: suppressed at listing)
    # | lifted | cancelled (withheld and then the basis ended: the agency never saw it).
    op.add_column("measures", sa.Column("subject_type", sa.Text))
    op.add_column("measures", sa.Column("kind", sa.Text))
    op.add_column("measures", sa.Column("feedback_due_at", sa.DateTime(timezone=True)))
    op.add_column("measures", sa.Column("feedback_result", sa.Text))
    op.add_column("measures", sa.Column("feedback_at", sa.DateTime(timezone=True)))
    op.add_column("measures", sa.Column("suspended_at", sa.DateTime(timezone=True)))
    op.create_index("measures_subject_state", "measures", ["subject_key", "state"])
    op.create_index("measures_feedback_due", "measures", ["agency", "feedback_due_at"],
                    postgresql_where=sa.text("feedback_at IS NULL"))

    # Every event sent to an agency, in order: the pull feed (cursor = seq) and the source of webhook deliveries.
    # event_id is the CloudEvents id of the same event on the agency's Kafka topic: one id on all three channels.
    op.create_table(
        "measure_events",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("measure_id", UUID(as_uuid=True), nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
    )
    op.create_index("measure_events_agency_seq", "measure_events", ["agency", "seq"])

    op.create_table(
        "measure_feedback",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("measure_id", UUID(as_uuid=True), sa.ForeignKey("measures.id"), nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),  # applied | not_applicable | failed
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),  # when the agency acted
        sa.Column("matter", sa.Text, nullable=False),  # what it was applied to (a tender, a loan application …)
        sa.Column("note", sa.Text),
        sa.Column("reported_by", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("measure_feedback_measure", "measure_feedback", ["measure_id", "received_at"])

    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret_encrypted", sa.Text),  # AES-GCM (runtime.cipher, context webhook.secret); null = unsigned (dev only)
        sa.Column("description", sa.Text),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("webhook_subscriptions_agency", "webhook_subscriptions", ["agency"],
                    postgresql_where=sa.text("deleted_at IS NULL"))

    # One row per measure event per subscription, written in the same transaction as the event.
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("subscription_id", UUID(as_uuid=True), sa.ForeignKey("webhook_subscriptions.id"), nullable=False),
        sa.Column("feed_seq", sa.BigInteger, sa.ForeignKey("measure_events.seq"), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # pending | delivered | dead | cancelled
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("lease_token", UUID(as_uuid=True)),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("dead_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("subscription_id", "event_id", name="webhook_deliveries_once"),
    )
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index("webhook_deliveries_subject", "webhook_deliveries", ["subscription_id", "subject_key", "feed_seq"])

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "attempt"])


def downgrade() -> None:
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_subscriptions", "measure_feedback", "measure_events"):
        op.drop_table(table)
    op.drop_index("measures_feedback_due", table_name="measures")
    op.drop_index("measures_subject_state", table_name="measures")
    for column in ("suspended_at", "feedback_at", "feedback_result", "feedback_due_at", "kind", "subject_type"):
        op.drop_column("measures", column)
    op.drop_table("credit_records")
