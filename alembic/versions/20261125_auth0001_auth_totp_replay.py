"""auth: TOTP replay protection

core_user.totp_last_step: the last TOTP time step accepted for the user, so that a one-time code
observed once (shoulder-surfing, a proxy log) cannot be used again.

Revision ID: auth0001
Revises: kernel0002
Create Date: 2026-11-25 21:15:17.519480
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'auth0001'
down_revision: str | Sequence[str] | None = 'kernel0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
