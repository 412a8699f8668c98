"""audit append only and tree heads

Append-only audit log: triggers refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on
core_audit_event, for every database user; one signed tree head per tree size.

Revision ID: kernel0002
Revises: kernel0001
Create Date: 2026-11-25 21:14:09.194652
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'kernel0002'
down_revision: str | Sequence[str] | None = 'kernel0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_MESSAGE = "core_audit_event is append-only (审计日志只能追加): {op} refused"


def upgrade() -> None:
    with op.batch_alter_table("core_tree_head", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_tree_head_tree_size"))
        batch_op.create_index(batch_op.f("ix_core_tree_head_tree_size"), ["tree_size"], unique=True)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION core_audit_event_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'core_audit_event is append-only (审计日志只能追加): % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER core_audit_event_no_update_delete BEFORE UPDATE OR DELETE ON core_audit_event "
            "FOR EACH ROW EXECUTE FUNCTION core_audit_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER core_audit_event_no_truncate BEFORE TRUNCATE ON core_audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION core_audit_event_append_only()"
        )
    else:
        for name, verb in (("no_update", "UPDATE"), ("no_delete", "DELETE")):
            message = _MESSAGE.format(op=verb)
            op.execute(
                f"CREATE TRIGGER core_audit_event_{name} BEFORE {verb} ON core_audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS core_audit_event_no_truncate ON core_audit_event")
        op.execute("DROP TRIGGER IF EXISTS core_audit_event_no_update_delete ON core_audit_event")
        op.execute("DROP FUNCTION IF EXISTS core_audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS core_audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS core_audit_event_no_delete")

    with op.batch_alter_table("core_tree_head", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_tree_head_tree_size"))
        batch_op.create_index(batch_op.f("ix_core_tree_head_tree_size"), ["tree_size"], unique=False)
