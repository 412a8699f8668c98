"""kernel: RFC 3161 timestamps of tree heads — a nullable token (DER, base64) and its genTime on
core_tree_head, set once after the head is committed (decision 0104).

Revision ID: kernel0005
Revises: kernel0004
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from tenderhall.db import UTCDateTime

revision: str = "kernel0005"
down_revision: str | Sequence[str] | None = "kernel0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_tree_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tsa_token", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("tsa_time", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("core_tree_head", schema=None) as batch_op:
        batch_op.drop_column("tsa_time")
        batch_op.drop_column("tsa_token")
