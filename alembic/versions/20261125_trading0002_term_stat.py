"""trading: posting counts per search term (the rarest term is chosen by key reads)

Revision ID: trading0002
Revises: trading0001
Create Date: 2026-11-25 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "trading0002"
down_revision: str | Sequence[str] | None = "trading0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trading_term_stat",
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("postings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_trading_term_stat")),
    )
    op.execute(
        "INSERT INTO trading_term_stat (term, postings) "
        "SELECT term, count(*) FROM trading_tender_term GROUP BY term"
    )


def downgrade() -> None:
    op.drop_table("trading_term_stat")
