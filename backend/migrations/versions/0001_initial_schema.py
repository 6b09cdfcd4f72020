"""Initial schema: citizens, licences, applications, their items, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id_number", sa.String(18), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("address", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id_number", name="pk_citizens"),
    )
    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id_number", sa.String(18), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id_number"],
            ["citizens.id_number"],
            name="fk_licences_citizen_id_number_citizens",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_licences"),
        sa.UniqueConstraint("kind", "number", name="uq_licences_kind"),
    )
    op.create_index("ix_licences_citizen_id_number", "licences", ["citizen_id_number"])
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_no", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("applicant_id_number", sa.String(18), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
        sa.UniqueConstraint("application_no", name="uq_applications_application_no"),
        sa.UniqueConstraint("idempotency_key", name="uq_applications_idempotency_key"),
    )
    op.create_index(
        "ix_applications_applicant_id_number",
        "applications",
        ["applicant_id_number"],
    )
    op.create_table(
        "application_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("department", sa.String(128), nullable=False),
        sa.Column("route", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name="fk_application_items_application_id_applications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_application_items"),
        sa.UniqueConstraint(
            "application_id",
            "item_id",
            name="uq_application_items_application_id",
        ),
    )
    op.create_index(
        "ix_application_items_application_id",
        "application_items",
        ["application_id"],
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_index("ix_application_items_application_id", "application_items")
    op.drop_table("application_items")
    op.drop_index("ix_applications_applicant_id_number", "applications")
    op.drop_table("applications")
    op.drop_index("ix_licences_citizen_id_number", "licences")
    op.drop_table("licences")
    op.drop_table("citizens")
