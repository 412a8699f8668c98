"""credit: the name-search index of published records (credit_public_name)

Revision ID: credit0002
Revises: trading0002
Create Date: 2026-11-26 02:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tenderhall.db

revision: str = "credit0002"
down_revision: str | Sequence[str] | None = "trading0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_public_name",
        sa.Column("violation_id", sa.Integer(), nullable=False),
        sa.Column("subject_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("decided_at", tenderhall.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("type_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["violation_id"],
            ["credit_violation.id"],
            name=op.f("fk_credit_public_name_violation_id_credit_violation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("violation_id", name=op.f("pk_credit_public_name")),
    )
    op.execute(
        "INSERT INTO credit_public_name (violation_id, subject_name, decided_at, type_code, severity) "
        "SELECT id, subject_name, decided_at, type_code, severity FROM credit_violation "
        "WHERE status = 'published'"
    )
    with op.batch_alter_table("credit_public_name", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_public_name_trgm",
            ["subject_name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
        )
    with op.batch_alter_table("credit_violation", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_credit_violation_pub_name_trgm",
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_violation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_violation_pub_name_trgm",
            ["subject_name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"subject_name": "gin_trgm_ops"},
            postgresql_where=sa.text("status = 'published'"),
            sqlite_where=sa.text("status = 'published'"),
        )
    op.drop_table("credit_public_name")
