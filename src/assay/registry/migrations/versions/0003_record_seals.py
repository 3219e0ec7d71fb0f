"""Record seals: each row a gate reads names the audit entry that last wrote it; entries are indexed by kind.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEALED_TABLES = ("models", "model_versions", "lineage", "datasets", "artifacts", "evidence", "environments",
                 "releases", "release_artifacts", "approvals", "waivers", "deployments")


def upgrade() -> None:
    for table in SEALED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("entry_idx", sa.BigInteger))
    op.create_index("ix_audit_entries_kind", "audit_entries", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_kind", "audit_entries")
    for table in SEALED_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("entry_idx")
