"""Knowledge bases: datasets, documents, segments, dataset API keys, metadata fields, tags
and the dataset references of imported apps.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

DATETIME = sa.DateTime()
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "dataset_api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("last_used_at", DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_api_keys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dataset_api_keys_token_hash")),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("permission", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("data_source_type", sa.String(length=32), nullable=True),
        sa.Column("indexing_technique", sa.String(length=32), nullable=True),
        sa.Column("embedding_model", sa.String(length=255), nullable=True),
        sa.Column("embedding_model_provider", sa.String(length=255), nullable=True),
        sa.Column("retrieval_model", JSON, nullable=True),
        sa.Column("doc_form", sa.String(length=32), nullable=False),
        sa.Column("built_in_field_enabled", sa.Boolean(), nullable=False),
        sa.Column("process_rule", JSON, nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "knowledge_tags",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_knowledge_tags_name")),
    )
    op.create_table(
        "app_dataset_refs",
        sa.Column("app_id", sa.String(length=36), nullable=False),
        sa.Column("ref", sa.String(length=255), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_app_dataset_refs_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", "ref", name=op.f("pk_app_dataset_refs")),
    )
    with op.batch_alter_table("app_dataset_refs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_dataset_refs_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "dataset_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("data_source_type", sa.String(length=32), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("file_id", sa.String(length=36), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=False),
        sa.Column("mime_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=False),
        sa.Column("process_rule", JSON, nullable=False),
        sa.Column("process_rule_id", sa.String(length=36), nullable=False),
        sa.Column("created_from", sa.String(length=32), nullable=False),
        sa.Column("doc_form", sa.String(length=32), nullable=False),
        sa.Column("doc_language", sa.String(length=64), nullable=False),
        sa.Column("doc_type", sa.String(length=64), nullable=True),
        sa.Column("doc_metadata", JSON, nullable=True),
        sa.Column("indexing_status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", DATETIME, nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("processing_started_at", DATETIME, nullable=True),
        sa.Column("parsing_completed_at", DATETIME, nullable=True),
        sa.Column("cleaning_completed_at", DATETIME, nullable=True),
        sa.Column("splitting_completed_at", DATETIME, nullable=True),
        sa.Column("completed_at", DATETIME, nullable=True),
        sa.Column("indexing_latency", sa.Float(), nullable=True),
        sa.Column("ingest_owner", sa.String(length=64), nullable=True),
        sa.Column("ingest_heartbeat", DATETIME, nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_documents_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_documents")),
    )
    with op.batch_alter_table("dataset_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_documents_dataset_id_batch"),
            ["dataset_id", "batch"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_documents_dataset_id_created_at"),
            ["dataset_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_documents_indexing_status"), ["indexing_status"], unique=False
        )

    op.create_table(
        "dataset_metadata_fields",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_metadata_fields_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_metadata_fields")),
        sa.UniqueConstraint(
            "dataset_id", "name", name=op.f("uq_dataset_metadata_fields_dataset_id_name")
        ),
    )
    op.create_table(
        "knowledge_tag_bindings",
        sa.Column("tag_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_knowledge_tag_bindings_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["knowledge_tags.id"],
            name=op.f("fk_knowledge_tag_bindings_tag_id_knowledge_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tag_id", "dataset_id", name=op.f("pk_knowledge_tag_bindings")),
    )
    with op.batch_alter_table("knowledge_tag_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_tag_bindings_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "dataset_segments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("keywords", JSON, nullable=False),
        sa.Column("index_node_hash", sa.String(length=64), nullable=False),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", DATETIME, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("indexing_at", DATETIME, nullable=True),
        sa.Column("completed_at", DATETIME, nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["dataset_documents.id"],
            name=op.f("fk_dataset_segments_document_id_dataset_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_segments")),
    )
    with op.batch_alter_table("dataset_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_segments_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_segments_document_id_position"),
            ["document_id", "position"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_segments_document_id_position"))
        batch_op.drop_index(batch_op.f("ix_dataset_segments_dataset_id"))

    op.drop_table("dataset_segments")
    with op.batch_alter_table("knowledge_tag_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_tag_bindings_dataset_id"))

    op.drop_table("knowledge_tag_bindings")
    op.drop_table("dataset_metadata_fields")
    with op.batch_alter_table("dataset_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_documents_indexing_status"))
        batch_op.drop_index(batch_op.f("ix_dataset_documents_dataset_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_dataset_documents_dataset_id_batch"))

    op.drop_table("dataset_documents")
    with op.batch_alter_table("app_dataset_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_dataset_refs_dataset_id"))

    op.drop_table("app_dataset_refs")
    op.drop_table("knowledge_tags")
    op.drop_table("datasets")
    op.drop_table("dataset_api_keys")
