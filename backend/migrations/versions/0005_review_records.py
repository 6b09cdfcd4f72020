"""Review records: questions the assistant could not answer well, masked.

A no-answer, a clarification the citizen rejected, a thumbs-down or an
agent's "suggestion was wrong", with the question already masked, the entries
the search matched, the channel and a keyed hash of the user (never the id).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_records"),
        sa.UniqueConstraint("record_id", name="uq_review_records_record_id"),
    )
    op.create_index("ix_review_records_created_at", "review_records", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_review_records_created_at", "review_records")
    op.drop_table("review_records")
