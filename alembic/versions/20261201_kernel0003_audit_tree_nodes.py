"""audit tree nodes

core_audit_node: every complete RFC 6962 subtree (level >= 1) of the audit log, so that proofs and
tree heads need O(log n) lookups instead of every leaf. Append-only like core_audit_event (the
same kind of triggers). Back-filled here for the events already recorded (their contiguous prefix).

Revision ID: kernel0003
Revises: trading0003
Create Date: 2026-12-01 21:45:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "kernel0003"
down_revision: str | Sequence[str] | None = "trading0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "core_audit_node is append-only (审计日志只能追加): {op} refused"


def _backfill() -> None:
    """The same streaming build as tenderhall.audit.service.extend_nodes, frozen here."""
    bind = op.get_bind()
    node = sa.table("core_audit_node", sa.column("level"), sa.column("idx"), sa.column("hash"))
    rows = bind.execute(sa.text("SELECT seq, hash FROM core_audit_event ORDER BY seq"))
    stack: list[tuple[int, bytes]] = []
    count, batch = 0, []
    for seq, event_hash in rows:
        if seq != count:
            break  # a gap (a tampered log): build over the intact prefix, `audit verify` names the rest
        level, h = 0, hashlib.sha256(b"\x00" + bytes.fromhex(event_hash)).digest()
        count += 1
        while stack and stack[-1][0] == level:
            h = hashlib.sha256(b"\x01" + stack.pop()[1] + h).digest()
            level += 1
            batch.append({"level": level, "idx": (count >> level) - 1, "hash": h.hex()})
        stack.append((level, h))
        if len(batch) >= 10_000:
            bind.execute(sa.insert(node), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(node), batch)


def upgrade() -> None:
    op.create_table(
        "core_audit_node",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_core_audit_node")),
    )
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION core_audit_node_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'core_audit_node is append-only (审计日志只能追加): % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER core_audit_node_no_update_delete BEFORE UPDATE OR DELETE ON core_audit_node "
            "FOR EACH ROW EXECUTE FUNCTION core_audit_node_append_only()"
        )
        op.execute(
            "CREATE TRIGGER core_audit_node_no_truncate BEFORE TRUNCATE ON core_audit_node "
            "FOR EACH STATEMENT EXECUTE FUNCTION core_audit_node_append_only()"
        )
    else:
        for name, verb in (("no_update", "UPDATE"), ("no_delete", "DELETE")):
            message = _MESSAGE.format(op=verb)
            op.execute(
                f"CREATE TRIGGER core_audit_node_{name} BEFORE {verb} ON core_audit_node "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS core_audit_node_no_truncate ON core_audit_node")
        op.execute("DROP TRIGGER IF EXISTS core_audit_node_no_update_delete ON core_audit_node")
        op.execute("DROP FUNCTION IF EXISTS core_audit_node_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS core_audit_node_no_update")
        op.execute("DROP TRIGGER IF EXISTS core_audit_node_no_delete")
    op.drop_table("core_audit_node")
