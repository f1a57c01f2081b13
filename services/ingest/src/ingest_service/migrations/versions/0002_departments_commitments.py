"""ingest: departments registry, commitments (承诺书)

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
    op.create_table(
        "departments",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("behaviors", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),  # catalog codes, or ["*"]
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "commitments",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False, unique=True),  # keyset order
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("department", sa.Text, nullable=False),
        sa.Column("enterprise_id", sa.Text, nullable=False),
        sa.Column("enterprise_name", sa.Text, nullable=False),
        sa.Column("signatory_encrypted", sa.Text, nullable=False),
        sa.Column("signatory_masked", sa.Text, nullable=False),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("document_sha256", sa.Text),
        sa.Column("content_sha256", sa.Text, nullable=False),  # the document hash, or the SHA-256 of the text
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("enterprise_id", "content_sha256", name="commitments_enterprise_content"),
    )
    op.create_index("commitments_enterprise", "commitments", ["enterprise_id", "seq"])
    op.create_index("commitments_name_lower", "commitments", [sa.text("lower(enterprise_name)")])


def downgrade() -> None:
    op.drop_table("commitments")
    op.drop_table("departments")
