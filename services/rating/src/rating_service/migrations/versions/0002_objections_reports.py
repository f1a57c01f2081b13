"""rating: objections (异议), issued credit reports (verification ids), occurred_on on records, list paging index

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
    # The report's occurred_on, shown in the credit report (行为日期).
    op.add_column("credit_records", sa.Column("occurred_on", sa.Date))
    # Keyset paging of the public lists: newest publicity first, id as the tie-breaker.
    op.create_index(
        "credit_records_public_page", "credit_records", ["list", sa.text("publicity_starts_on DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("state IN ('active', 'disputed')"),
    )
    op.create_table(
        "objections",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("record_id", UUID(as_uuid=True), sa.ForeignKey("credit_records.id"), nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("filed_by_role", sa.Text, nullable=False),
        sa.Column("filed_by", sa.Text, nullable=False),
        sa.Column("grounds", sa.Text, nullable=False),
        sa.Column("materials", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("state", sa.Text, nullable=False),  # pending | upheld | rejected
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text),
        sa.Column("decision_reason", sa.Text),
    )
    # At most one undecided objection per record: the record is disputed until it is decided.
    op.create_index("objections_one_pending", "objections", ["record_id"], unique=True,
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index("objections_due", "objections", ["due_on"], postgresql_where=sa.text("state = 'pending'"))
    op.create_table(
        "credit_reports",
        sa.Column("verification_id", sa.Text, primary_key=True),
        sa.Column("subject_key", sa.Text, sa.ForeignKey("subjects.key"), nullable=False),
        sa.Column("format", sa.Text, nullable=False),  # json | pdf
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_sha256", sa.Text, nullable=False),  # of the report's canonical JSON
        sa.Column("summary", JSONB, nullable=False),
    )
    op.create_index("credit_reports_subject", "credit_reports", ["subject_key", "generated_at"])


def downgrade() -> None:
    op.drop_table("credit_reports")
    op.drop_table("objections")
    op.drop_index("credit_records_public_page", table_name="credit_records")
    op.drop_column("credit_records", "occurred_on")
