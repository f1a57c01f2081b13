"""ingest: platform tables, reports, idempotency keys

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
        "reports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("subject_type", sa.Text, nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("subject_id", sa.Text),  # enterprises: the USCC in clear (public)
        sa.Column("subject_id_encrypted", sa.Text),  # citizens: AES-GCM
        sa.Column("subject_name", sa.Text),  # enterprises
        sa.Column("subject_name_encrypted", sa.Text),  # citizens
        sa.Column("behavior", sa.Text, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("exemption", JSONB),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text),
        sa.Column("clause_codes", JSONB),
        sa.Column("reason_zh", sa.Text),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True)),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True)),
        sa.Column("withdraw_reason", sa.Text),
    )
    op.create_index("reports_department_received", "reports", ["department", "received_at", "id"])
    op.create_index("reports_status_received", "reports", ["status", "received_at", "id"])
    op.create_index("reports_subject", "reports", ["subject_key"])
    op.create_table(
        "idempotency_keys",
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("request_sha256", sa.Text, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("department", "key"),
    )
    op.create_index("idempotency_keys_expires", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("reports")
