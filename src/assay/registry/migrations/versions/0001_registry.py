"""The registry: models, versions and their files, lineage, datasets, artifacts, evidence.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _stamp() -> list[sa.Column]:
    return [sa.Column("created_by", sa.String(200), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("owner", sa.String(200)),
        sa.Column("risk_tier", sa.String(20)),
        sa.Column("intended_use", sa.Text),
        sa.Column("data_sensitivity", sa.String(20)),
        *_stamp())
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reasons", sa.JSON, nullable=False),
        sa.Column("source_url", sa.Text),
        sa.Column("publisher", sa.String(200)),
        sa.Column("revision", sa.String(200)),
        sa.Column("formats", sa.JSON, nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("serialization", sa.JSON, nullable=False),
        sa.Column("license_expression", sa.String(400)),
        sa.Column("license_class", sa.String(30), nullable=False),
        sa.Column("license_obligations", sa.JSON, nullable=False),
        sa.Column("signature_status", sa.String(30), nullable=False),
        sa.Column("signer", sa.Text),
        sa.Column("scan_verdict", sa.String(20), nullable=False),
        sa.Column("scan_counts", sa.JSON, nullable=False),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("missing", sa.JSON, nullable=False),
        *_stamp(),
        sa.UniqueConstraint("model_id", "identity", name="uq_version_identity"),
        sa.UniqueConstraint("model_id", "number", name="uq_version_number"))
    op.create_index("ix_versions_identity", "model_versions", ["identity"])
    op.create_table(
        "version_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("digest", sa.String(140), nullable=False))
    op.create_index("ix_version_files_version_id", "version_files", ["version_id"])
    op.create_index("ix_version_files_digest", "version_files", ["digest"])
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("identity", sa.String(80), nullable=False),
        sa.Column("file_count", sa.Integer, nullable=False),
        sa.Column("total_bytes", sa.BigInteger, nullable=False),
        sa.Column("source_url", sa.Text),
        sa.Column("license", sa.String(400)),
        sa.Column("consent", sa.Text),
        sa.Column("retention_days", sa.Integer),
        sa.Column("pii", sa.Boolean),
        sa.Column("manifest_digest", sa.String(80), nullable=False),
        *_stamp(),
        sa.UniqueConstraint("name", "identity", name="uq_dataset_identity"),
        sa.UniqueConstraint("name", "number", name="uq_dataset_number"))
    op.create_index("ix_datasets_identity", "datasets", ["identity"])
    op.create_table(
        "lineage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("child_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("parent_kind", sa.String(20), nullable=False),
        sa.Column("parent_version_id", sa.Integer, sa.ForeignKey("model_versions.id")),
        sa.Column("parent_dataset_id", sa.Integer, sa.ForeignKey("datasets.id")),
        sa.Column("parent_name", sa.String(400), nullable=False),
        sa.Column("relation", sa.String(40), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        *_stamp())
    op.create_index("ix_lineage_child_version_id", "lineage", ["child_version_id"])
    op.create_index("ix_lineage_parent_version", "lineage", ["parent_version_id"])
    op.create_index("ix_lineage_parent_dataset", "lineage", ["parent_dataset_id"])
    op.create_index("ix_lineage_parent_name", "lineage", ["parent_name"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        *_stamp(),
        sa.UniqueConstraint("name", "digest", name="uq_artifact_digest"),
        sa.UniqueConstraint("name", "number", name="uq_artifact_number"))
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"])
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        *_stamp())
    op.create_index("ix_evidence_subject", "evidence", ["subject_kind", "subject_id"])
    op.create_index("ix_evidence_digest", "evidence", ["digest"])


def downgrade() -> None:
    for table in ("evidence", "artifacts", "lineage", "datasets", "version_files", "model_versions", "models"):
        op.drop_table(table)
