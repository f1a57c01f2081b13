"""sanctions: a mirror of the city's calendar overrides (repair owns them; learned from calendar.override_changed.v1)

Revision ID: 0003
"""

from alembic import op

from jointcredit_common.calendar.overrides import create_override_mirror

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_override_mirror(op)


def downgrade() -> None:
    op.drop_table("calendar_overrides")
