"""repair: listed records (eligibility), applications, their records, review steps, SLA timers

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
    # Rating's credit records as far as repair needs them (from subject.listed.v1 / record.*.v1 on ratings).
    op.create_table(
        "listed_records",
        sa.Column("record_id", sa.Text, primary_key=True),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("display_id", sa.Text, nullable=False),  # USCC or masked resident id
        sa.Column("display_name", sa.Text),  # enterprise name or masked citizen name
        sa.Column("list", sa.Text, nullable=False),
        sa.Column("behavior", sa.Text, nullable=False),
        sa.Column("clause_codes", JSONB, nullable=False),
        sa.Column("tier", sa.Text),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("catalog", sa.Text, nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_state", sa.Text),  # repaired | withdrawn | expired
        sa.Column("end_reason", sa.Text),
    )
    op.create_index("listed_records_subject", "listed_records", ["subject_key"])

    op.create_table(
        "repair_applications",
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("display_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text),
        sa.Column("applicant_role", sa.Text, nullable=False),
        sa.Column("applicant", sa.Text, nullable=False),  # department (or admin) principal
        sa.Column("correction", JSONB, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),  # green | standard
        sa.Column("channel_reason", sa.Text, nullable=False),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),  # accepted | in_review | approved | rejected
        sa.Column("next_stage", sa.Text),  # initial | re_review | final | NULL once decided
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("backdated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_reason", sa.Text),
        sa.Column("decided_event_id", UUID(as_uuid=True)),  # outbox id of repair.decided.v1 (cascade progress)
        sa.Column("breached_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("repair_applications_subject", "repair_applications", ["subject_key"])
    op.create_index(
        "repair_applications_open_due", "repair_applications", ["due_at"],
        postgresql_where=sa.text("status IN ('accepted', 'in_review')"),
    )

    # The records an application names; one open application per record (partial unique index).
    op.create_table(
        "repair_application_records",
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("repair_applications.id"), nullable=False),
        sa.Column("record_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("open", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("rating_confirmed_at", sa.DateTime(timezone=True)),  # record.repaired.v1 seen
        sa.PrimaryKeyConstraint("application_id", "record_id"),
    )
    op.create_index(
        "repair_application_records_one_open", "repair_application_records", ["record_id"],
        unique=True, postgresql_where=sa.text("open"),
    )
    op.create_index("repair_application_records_record", "repair_application_records", ["record_id"])

    op.create_table(
        "review_steps",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("repair_applications.id"), nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("decision", sa.Text, nullable=False),  # approve | reject
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("credential_id", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("application_id", "stage", name="review_steps_one_per_stage"),
        # 三(一) separates 初审/复核/终审: nobody decides two stages of the same application.
        sa.UniqueConstraint("application_id", "reviewer", name="review_steps_one_per_reviewer"),
    )

    op.create_table(
        "sla_timers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("repair_applications.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),  # decision
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True)),
        sa.Column("fired_by", sa.Text),  # which replica fired it (diagnostics)
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("application_id", "kind", name="sla_timers_one_per_kind"),
    )
    op.create_index(
        "sla_timers_pending", "sla_timers", ["due_at"],
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("sla_timers")
    op.drop_table("review_steps")
    op.drop_table("repair_application_records")
    op.drop_table("repair_applications")
    op.drop_table("listed_records")
