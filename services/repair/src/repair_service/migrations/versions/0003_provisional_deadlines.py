"""repair: whether an application's deadline rests on a provisional calendar day (recomputed when the official
schedule of its year ships); city overrides keep when they changed and a tombstone when cleared, so they can be
announced again (``calendar.override_changed.v1``) to a service whose mirror is new

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calendar_overrides",
                  sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
    op.alter_column("calendar_overrides", "working", nullable=True)  # NULL: cleared (tombstone)
    op.alter_column("calendar_overrides", "reason", nullable=True)
    op.add_column("repair_applications",
                  sa.Column("due_provisional", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("repair_applications_provisional", "repair_applications", ["id"],
                    postgresql_where=sa.text("due_provisional"))


def downgrade() -> None:
    op.execute("DELETE FROM calendar_overrides WHERE working IS NULL")
    op.alter_column("calendar_overrides", "reason", nullable=False)
    op.alter_column("calendar_overrides", "working", nullable=False)
    op.drop_column("calendar_overrides", "changed_at")
    op.drop_index("repair_applications_provisional", table_name="repair_applications")
    op.drop_column("repair_applications", "due_provisional")
