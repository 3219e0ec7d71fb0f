"""Releases with several model versions (an embedder and a generator): one row per model version, sealed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_idx", sa.BigInteger),
        sa.Column("release_id", sa.Integer, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("role", sa.String(60)),
        sa.Column("position", sa.Integer, nullable=False),
        sa.UniqueConstraint("release_id", "version_id", name="uq_release_model"),
    )
    op.create_index("ix_release_models_release_id", "release_models", ["release_id"])
    op.create_index("ix_release_models_version_id", "release_models", ["version_id"])


def downgrade() -> None:
    op.drop_table("release_models")
