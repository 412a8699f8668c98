"""trading: lot opening keys, custodian shares and custodian certificates; the opening threshold
of each procedure (decision 0275).

Revision ID: opening0001
Revises: events0001
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from tenderhall.db import UTCDateTime

revision: str = "opening0001"
down_revision: str | Sequence[str] | None = "events0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trading_procedure_settings") as batch:
        batch.add_column(sa.Column("opening_threshold", sa.Integer(), server_default="2", nullable=False))
    op.create_table(
        "trading_opening_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("certificate_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("share_salt", sa.LargeBinary(), nullable=False),
        sa.Column("share_commitments", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["trading_lot.id"], name=op.f("fk_trading_opening_key_lot_id_trading_lot")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_opening_key")),
        sa.UniqueConstraint("lot_id", name=op.f("uq_trading_opening_key_lot_id")),
    )
    op.create_index(
        op.f("ix_trading_opening_key_certificate_sha256"), "trading_opening_key", ["certificate_sha256"], unique=False
    )
    op.create_table(
        "trading_key_share",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_key_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("custodian_user_id", sa.Integer(), nullable=False),
        sa.Column("custodian_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("certificate_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["custodian_user_id"], ["core_user.id"], name=op.f("fk_trading_key_share_custodian_user_id_core_user")
        ),
        sa.ForeignKeyConstraint(
            ["opening_key_id"],
            ["trading_opening_key.id"],
            name=op.f("fk_trading_key_share_opening_key_id_trading_opening_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_key_share")),
        sa.UniqueConstraint("opening_key_id", "index", name="uq_trading_key_share_key_index"),
    )
    op.create_index(
        op.f("ix_trading_key_share_custodian_user_id"), "trading_key_share", ["custodian_user_id"], unique=False
    )
    op.create_index(op.f("ix_trading_key_share_opening_key_id"), "trading_key_share", ["opening_key_id"], unique=False)
    op.create_table(
        "trading_custodian_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("credit_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["core_user.id"], name=op.f("fk_trading_custodian_certificate_user_id_core_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_custodian_certificate")),
    )
    op.create_index(
        op.f("ix_trading_custodian_certificate_sha256"), "trading_custodian_certificate", ["sha256"], unique=False
    )
    op.create_index(
        op.f("ix_trading_custodian_certificate_user_id"), "trading_custodian_certificate", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trading_custodian_certificate_user_id"), table_name="trading_custodian_certificate")
    op.drop_index(op.f("ix_trading_custodian_certificate_sha256"), table_name="trading_custodian_certificate")
    op.drop_table("trading_custodian_certificate")
    op.drop_index(op.f("ix_trading_key_share_opening_key_id"), table_name="trading_key_share")
    op.drop_index(op.f("ix_trading_key_share_custodian_user_id"), table_name="trading_key_share")
    op.drop_table("trading_key_share")
    op.drop_index(op.f("ix_trading_opening_key_certificate_sha256"), table_name="trading_opening_key")
    op.drop_table("trading_opening_key")
    with op.batch_alter_table("trading_procedure_settings") as batch:
        batch.drop_column("opening_threshold")
