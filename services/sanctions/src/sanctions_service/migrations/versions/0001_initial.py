"""sanctions: platform tables, joint measures

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
        "measures",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),  # pull-API cursor order
        sa.Column("record_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("agency", sa.Text, nullable=False),
        sa.Column("measure", sa.Text, nullable=False),
        sa.Column("list", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),  # in_force | lifted
        sa.Column("payload", JSONB, nullable=False),  # the measure.issued.v1 data as sent
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("planned_end_on", sa.Date),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("lifted_at", sa.DateTime(timezone=True)),
        sa.Column("lift_reason", sa.Text),
        # One measure per (record, measure, agency): a redelivered listing cannot issue it twice.
        sa.UniqueConstraint("record_id", "measure", "agency", name="measures_once"),
    )
    op.create_index("measures_agency_seq", "measures", ["agency", "seq"])
    op.create_index("measures_record", "measures", ["record_id", "state"])


def downgrade() -> None:
    op.drop_table("measures")
