"""platform tables + an effects table for the tests

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
    # No unique constraint on purpose: a doubled effect must show up as a second row.
    op.create_table("effects", sa.Column("n", sa.BigInteger, primary_key=True, autoincrement=True),
                    sa.Column("event_id", sa.Text, nullable=False), sa.Column("value", sa.Text))
