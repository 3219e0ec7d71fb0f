"""Releases, environments, approvals, waivers, deployments and the Merkle audit log.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _stamp() -> list[sa.Column]:
    return [sa.Column("created_by", sa.String(200), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("location", sa.Text))
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("deploy_seq", sa.Integer, nullable=False),
        *_stamp())
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("params_digest", sa.String(80)),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("note", sa.Text),
        *_stamp())
    op.create_index("ix_releases_version_id", "releases", ["version_id"])
    op.create_table(
        "release_artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("artifact_id", sa.Integer, sa.ForeignKey("artifacts.id"), nullable=False))
    op.create_index("ix_release_artifacts_release_id", "release_artifacts", ["release_id"])
    op.create_index("ix_release_artifacts_artifact_id", "release_artifacts", ["artifact_id"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("role", sa.String(100)),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("release_id", "environment", "approver", name="uq_approval"))
    op.create_index("ix_approvals_release_id", "approvals", ["release_id"])
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    op.create_index("ix_waivers_release_id", "waivers", ["release_id"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id")),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("traffic_percent", sa.Integer, nullable=False),
        sa.Column("replaces_id", sa.Integer, sa.ForeignKey("deployments.id")),
        sa.Column("gate", sa.JSON, nullable=False),
        sa.Column("policy_digest", sa.String(80), nullable=False),
        sa.Column("evidence_digests", sa.JSON, nullable=False),
        *_stamp(),
        sa.UniqueConstraint("environment_id", "seq", name="uq_deployment_seq"))
    op.create_index("ix_deployments_environment_id", "deployments", ["environment_id"])
    op.create_table(
        "audit_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False))
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False))
    op.create_table(
        "audit_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("peaks", sa.JSON, nullable=False))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False))
    op.create_index("ix_audit_checkpoints_size", "audit_checkpoints", ["size"])


def downgrade() -> None:
    for table in ("audit_checkpoints", "audit_state", "audit_nodes", "audit_entries", "deployments", "waivers", "approvals",
                  "release_artifacts", "releases", "environments"):
        op.drop_table(table)
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("location")
