"""Tool files: files tools and nodes make, served at signed `/files/tools/...` URLs.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

DATETIME = sa.DateTime()

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "tool_files",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_files")),
    )
    op.create_index(op.f("ix_tool_files_app_id"), "tool_files", ["app_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tool_files_app_id"), table_name="tool_files")
    op.drop_table("tool_files")
