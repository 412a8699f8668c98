"""kernel: live events — core_event, one row per published event; its id is the SSE event id
(decision 0220).

Revision ID: events0001
Revises: pki0001
Create Date: 2026-12-02 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from tenderhall.db import UTCDateTime

revision: str = "events0001"
down_revision: str | Sequence[str] | None = "pki0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "core_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_event")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_core_event_topic_id", "core_event", ["topic", "id"], unique=False)
    op.create_index(op.f("ix_core_event_created_at"), "core_event", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_core_event_created_at"), table_name="core_event")
    op.drop_index("ix_core_event_topic_id", table_name="core_event")
    op.drop_table("core_event")
