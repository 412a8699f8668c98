"""pki: OCSP responder per trusted CA and the bytes of each imported CRL, so that certificate
validation (pyhanko-certvalidator) can check the CRL itself (decisions 0201, 0202).

Revision ID: pki0001
Revises: kernel0005
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "pki0001"
down_revision: str | Sequence[str] | None = "kernel0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("core_trusted_ca", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ocsp_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ocsp_use_aia", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("core_crl_import", schema=None) as batch_op:
        batch_op.add_column(sa.Column("der", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("core_crl_import", schema=None) as batch_op:
        batch_op.drop_column("der")
    with op.batch_alter_table("core_trusted_ca", schema=None) as batch_op:
        batch_op.drop_column("ocsp_use_aia")
        batch_op.drop_column("ocsp_url")
