"""The agent queue (人工坐席): handoffs and their messages.

At most one open (waiting or active) handoff per conversation, enforced by a
unique partial index so two concurrent requests cannot open two.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN_HANDOFF = sa.text("status IN ('waiting', 'active')")


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_no", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("conversation", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(16), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("collected", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(32), nullable=True),
        sa.Column("closed_by", sa.String(16), nullable=True),
        sa.Column("delivered_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
        sa.UniqueConstraint("handoff_no", name="uq_handoffs_handoff_no"),
        sa.UniqueConstraint("idempotency_key", name="uq_handoffs_idempotency_key"),
    )
    op.create_index("ix_handoffs_conversation", "handoffs", ["conversation"])
    op.create_index(
        "uq_handoffs_open_conversation",
        "handoffs",
        ["conversation"],
        unique=True,
        sqlite_where=OPEN_HANDOFF,
        postgresql_where=OPEN_HANDOFF,
    )
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.String(1000), nullable=True),
        sa.Column("event", sa.String(16), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_handoff_messages"),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name="fk_handoff_messages_handoff_id_handoffs",
        ),
        sa.UniqueConstraint("handoff_id", "seq", name="uq_handoff_messages_seq"),
        sa.UniqueConstraint(
            "handoff_id",
            "idempotency_key",
            name="uq_handoff_messages_idempotency_key",
        ),
    )


def downgrade() -> None:
    op.drop_table("handoff_messages")
    op.drop_index("uq_handoffs_open_conversation", "handoffs")
    op.drop_index("ix_handoffs_conversation", "handoffs")
    op.drop_table("handoffs")
