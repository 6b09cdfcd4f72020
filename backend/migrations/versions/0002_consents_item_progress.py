"""Consents, item progress (reason, updated_at), the consent of an audited read.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("citizen_id_number", sa.String(18), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("form_instance", sa.String(128), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.UniqueConstraint("consent_id", name="uq_consents_consent_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_consents_idempotency_key"),
    )
    op.create_index("ix_consents_citizen_id_number", "consents", ["citizen_id_number"])
    # Nullable, so existing rows need no default: NULL reason (not returned),
    # NULL updated_at (unchanged since submission).
    with op.batch_alter_table("application_items") as batch:
        batch.add_column(sa.Column("reason", sa.String(256), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("consent_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("consent_id")
    with op.batch_alter_table("application_items") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("reason")
    op.drop_index("ix_consents_citizen_id_number", "consents")
    op.drop_table("consents")
