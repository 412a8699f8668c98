"""trading: mandates (委托代理) from tenderees to agencies

Revision ID: trading0003
Revises: credit0002
Create Date: 2026-12-01 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tenderhall.db

revision: str = "trading0003"
down_revision: str | Sequence[str] | None = "credit0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trading_mandate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenderee_org_id", sa.Integer(), nullable=False),
        sa.Column("agency_org_id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("granted_at", tenderhall.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("ended_at", tenderhall.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by_user_id", sa.Integer(), nullable=True),
        sa.Column("ended_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_org_id"],
            ["core_organisation.id"],
            name=op.f("fk_trading_mandate_agency_org_id_core_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_user_id"], ["core_user.id"], name=op.f("fk_trading_mandate_ended_by_user_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_user_id"],
            ["core_user.id"],
            name=op.f("fk_trading_mandate_granted_by_user_id_core_user"),
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["trading_tender.id"], name=op.f("fk_trading_mandate_tender_id_trading_tender")
        ),
        sa.ForeignKeyConstraint(
            ["tenderee_org_id"],
            ["core_organisation.id"],
            name=op.f("fk_trading_mandate_tenderee_org_id_core_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_mandate")),
    )
    with op.batch_alter_table("trading_mandate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trading_mandate_agency_org_id"), ["agency_org_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_trading_mandate_tenderee_org_id"), ["tenderee_org_id"], unique=False
        )
        batch_op.create_index(
            "ix_trading_mandate_pair_live", ["tenderee_org_id", "agency_org_id", "ended_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trading_mandate", schema=None) as batch_op:
        batch_op.drop_index("ix_trading_mandate_pair_live")
        batch_op.drop_index(batch_op.f("ix_trading_mandate_tenderee_org_id"))
        batch_op.drop_index(batch_op.f("ix_trading_mandate_agency_org_id"))
    op.drop_table("trading_mandate")
