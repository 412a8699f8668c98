"""kernel: two-phase jobs — an outbox row is claimed (status running, a claim token and a lease)
before its job runs with no transaction open, and completed only by the claim's holder.

Revision ID: kernel0004
Revises: kernel0003
Create Date: 2026-12-01 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "kernel0004"
down_revision: str | Sequence[str] | None = "kernel0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    # a running row goes back to sent: the relay re-sends it after its lease, as before
    op.execute("UPDATE core_outbox SET status = 'sent' WHERE status = 'running'")
    with op.batch_alter_table("core_outbox", schema=None) as batch_op:
        batch_op.drop_column("claim_token")
