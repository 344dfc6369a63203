"""Human input: paused runs' resume state and the forms they wait on.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

DATETIME = sa.DateTime()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "workflow_pauses",
        sa.Column("workflow_run_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("end_user_id", sa.String(length=36), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("turn", JSON, nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_workflow_pauses_workflow_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_run_id", name=op.f("pk_workflow_pauses")),
    )
    op.create_table(
        "human_input_forms",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("end_user_id", sa.String(length=36), nullable=True),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("node_title", sa.String(length=255), nullable=False),
        sa.Column("form_token", sa.String(length=64), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expiration_time", DATETIME, nullable=False),
        sa.Column("selected_action_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_data", JSON, nullable=True),
        sa.Column("submitted_at", DATETIME, nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_human_input_forms_workflow_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_human_input_forms")),
        sa.UniqueConstraint("form_token", name=op.f("uq_human_input_forms_form_token")),
    )
    op.create_index(
        op.f("ix_human_input_forms_workflow_run_id"),
        "human_input_forms",
        ["workflow_run_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_human_input_forms_status_expiration_time"),
        "human_input_forms",
        ["status", "expiration_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_human_input_forms_status_expiration_time"), table_name="human_input_forms"
    )
    op.drop_index(op.f("ix_human_input_forms_workflow_run_id"), table_name="human_input_forms")
    op.drop_table("human_input_forms")
    op.drop_table("workflow_pauses")
