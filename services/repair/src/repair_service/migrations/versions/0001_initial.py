"""repair: platform tables, the city's calendar overrides

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from jointcredit_common.tables import create_platform_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables(op)
    # A city's extra closures (working=false) or extra working days (working=true); they win over the national schedule.
    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("working", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("calendar_overrides")
