"""rating: platform tables, subjects, classifications, credit records

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from jointcredit_common.tables import create_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op)
    op.create_table(
        "subjects",
        sa.Column("key", sa.Text, primary_key=True),  # enterprise:<USCC> | citizen:<keyed hash>
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("display_id", sa.Text, nullable=False),  # masked for citizens
        sa.Column("display_name", sa.Text),  # masked for citizens
        sa.Column("id_encrypted", sa.Text),
        sa.Column("name_encrypted", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "classifications",
        sa.Column("report_id", UUID(as_uuid=True), primary_key=True),  # exactly one classification per report
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("behavior", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("clause_codes", JSONB, nullable=False),
        sa.Column("reason_zh", sa.Text, nullable=False),
        sa.Column("decision", JSONB, nullable=False),
        sa.Column("record_id", UUID(as_uuid=True)),
        sa.Column("catalog", sa.Text, nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("classifications_subject", "classifications", ["subject_key"])
    op.create_table(
        "credit_records",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("report_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("subject_key", sa.Text, sa.ForeignKey("subjects.key"), nullable=False),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("list", sa.Text, nullable=False),  # key_warning | red | dishonest
        sa.Column("behavior", sa.Text, nullable=False),
        sa.Column("clause_codes", JSONB, nullable=False),
        sa.Column("tier", sa.Text),
        sa.Column("state", sa.Text, nullable=False),  # active | disputed | repaired | withdrawn | expired
        sa.Column("publicity_starts_on", sa.Date),
        sa.Column("publicity_ends_on", sa.Date),
        sa.Column("evidence", JSONB),
        sa.Column("measures", JSONB, nullable=False),
        sa.Column("suppressed_measures", JSONB, nullable=False),
        sa.Column("reason_zh", sa.Text, nullable=False),
        sa.Column("notice", JSONB),
        sa.Column("catalog", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.Text),
    )
    op.create_index("credit_records_subject", "credit_records", ["subject_key", "state"])
    op.create_index("credit_records_list", "credit_records", ["list", "state", "publicity_starts_on"])
    op.create_index("credit_records_expiry", "credit_records", ["publicity_ends_on"],
                    postgresql_where=sa.text("state IN ('active', 'disputed')"))


def downgrade() -> None:
    for table in ("credit_records", "classifications", "subjects"):
        op.drop_table(table)
