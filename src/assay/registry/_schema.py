"""The registry's tables (SQLAlchemy 2). The Alembic migrations in ``migrations/`` create exactly these.

Versions, lineage edges, datasets, artifacts and evidence are written once and never updated: a model
version is identified by its OMS manifest root digest, so the same bytes are the same version.

Every table a gate reads carries ``entry_idx``: the audit entry that last wrote the row, whose payload holds the
row's digest (``_seal.py``). A row edited, inserted or replayed outside assay no longer matches a signed entry.
"""



from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the registry tables."""


class ModelRow(Base):
    """A model: a name with an owner, a risk tier and what it is for. Its versions hang below it."""

    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    name: Mapped[str] = mapped_column(String(200), unique=True)
    owner: Mapped[str | None] = mapped_column(String(200))
    risk_tier: Mapped[str | None] = mapped_column(String(20))
    intended_use: Mapped[str | None] = mapped_column(Text)
    data_sensitivity: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VersionRow(Base):
    """One immutable model version: exact bytes (identity), where they came from, and what intake found."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "identity", name="uq_version_identity"),
                      UniqueConstraint("model_id", "number", name="uq_version_number"),
                      Index("ix_versions_identity", "identity"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    number: Mapped[int] = mapped_column(Integer)
    identity: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20))  # accepted | rejected
    status_reasons: Mapped[list] = mapped_column(JSON)
    source_url: Mapped[str | None] = mapped_column(Text)
    publisher: Mapped[str | None] = mapped_column(String(200))
    revision: Mapped[str | None] = mapped_column(String(200))
    formats: Mapped[list] = mapped_column(JSON)
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    serialization: Mapped[dict] = mapped_column(JSON)
    license_expression: Mapped[str | None] = mapped_column(String(400))
    license_class: Mapped[str] = mapped_column(String(30))
    license_obligations: Mapped[list] = mapped_column(JSON)
    signature_status: Mapped[str] = mapped_column(String(30))  # verified | failed | unsigned | unverified
    signer: Mapped[str | None] = mapped_column(Text)
    scan_verdict: Mapped[str] = mapped_column(String(20))  # clean | findings | error
    scan_counts: Mapped[dict] = mapped_column(JSON)
    card: Mapped[dict] = mapped_column(JSON)
    missing: Mapped[list] = mapped_column(JSON)
    location: Mapped[str | None] = mapped_column(Text)  # where intake read the files (rollback re-hashes them)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VersionFileRow(Base):
    """A file of a version with its digest, so ``where`` finds every version containing a given file."""

    __tablename__ = "version_files"
    __table_args__ = (Index("ix_version_files_digest", "digest"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    path: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(140))  # "<algorithm>:<hex>"


class LineageRow(Base):
    """child version <- parent: a registered version, a dataset, or an outside model known only by name."""

    __tablename__ = "lineage"
    __table_args__ = (Index("ix_lineage_parent_version", "parent_version_id"),
                      Index("ix_lineage_parent_dataset", "parent_dataset_id"),
                      Index("ix_lineage_parent_name", "parent_name"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    child_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    parent_kind: Mapped[str] = mapped_column(String(20))  # model | dataset
    parent_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    parent_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    parent_name: Mapped[str] = mapped_column(String(400))
    relation: Mapped[str] = mapped_column(String(40))  # finetune | adapter | quantized | merge | base | trained-on
    source: Mapped[str] = mapped_column(String(40))    # card | training | flag
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DatasetRow(Base):
    """A registered dataset version: its file manifest digest and its terms of use."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "identity", name="uq_dataset_identity"),
                      UniqueConstraint("name", "number", name="uq_dataset_number"),
                      Index("ix_datasets_identity", "identity"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    identity: Mapped[str] = mapped_column(String(80))
    file_count: Mapped[int] = mapped_column(Integer)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    source_url: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(400))
    consent: Mapped[str | None] = mapped_column(Text)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    pii: Mapped[bool | None] = mapped_column(Boolean)
    manifest_digest: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ArtifactRow(Base):
    """A content-addressed artifact that changes behaviour: prompt, system prompt, tool schema, params..."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("name", "digest", name="uq_artifact_digest"),
                      UniqueConstraint("name", "number", name="uq_artifact_number"),
                      Index("ix_artifacts_digest", "digest"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    digest: Mapped[str] = mapped_column(String(80))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EvidenceRow(Base):
    """A blob in the evidence store cited by a version or a dataset: what it is and its digest."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_subject", "subject_kind", "subject_id"),
                      Index("ix_evidence_digest", "digest"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    subject_kind: Mapped[str] = mapped_column(String(20))  # version | dataset | artifact
    subject_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))  # scan-report | manifest | model-card | license | bom | signature ...
    name: Mapped[str] = mapped_column(String(400))
    digest: Mapped[str] = mapped_column(String(80))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EnvironmentRow(Base):
    """A deployment environment; ``position`` gives the promotion order (dev 0, staging 1, production 2)."""

    __tablename__ = "environments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    name: Mapped[str] = mapped_column(String(100), unique=True)
    position: Mapped[int] = mapped_column(Integer)
    deploy_seq: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every deployment: the race guard
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReleaseRow(Base):
    """An immutable release: its model versions (``release_models``; ``version_id`` is the first) plus the artifacts
    that change its behaviour, by digest."""

    __tablename__ = "releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    name: Mapped[str] = mapped_column(String(200), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    params_digest: Mapped[str | None] = mapped_column(String(80))
    digest: Mapped[str] = mapped_column(String(80))  # over the model identity and every part's digest
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReleaseArtifactRow(Base):
    """A part of a release: an artifact version (prompt, system prompt, tool schema, params ...)."""

    __tablename__ = "release_artifacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"), index=True)


class ReleaseModelRow(Base):
    """A model version of a release, with its role in it (``embedder``, ``generator`` ...), in the order given.
    A release made before releases held several models has none: its one model is ``releases.version_id``."""

    __tablename__ = "release_models"
    __table_args__ = (UniqueConstraint("release_id", "version_id", name="uq_release_model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer)


class ApprovalRow(Base):
    """One person's approval of a release for an environment."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("release_id", "environment", "approver", name="uq_approval"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    environment: Mapped[str] = mapped_column(String(100))
    approver: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str | None] = mapped_column(String(80))  # the signed statement (DSSE) saying so, by digest


class WaiverRow(Base):
    """An exception to one rule for one release in one environment, until it expires."""

    __tablename__ = "waivers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    rule_id: Mapped[str] = mapped_column(String(100))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    environment: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str | None] = mapped_column(String(80))  # the signed statement (DSSE) saying so, by digest


class DeploymentRow(Base):
    """A release made active (or canary) in an environment; never updated, the newest row is the state."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("environment_id", "seq", name="uq_deployment_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    environment_id: Mapped[int] = mapped_column(ForeignKey("environments.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))  # None: canary withdrawn
    action: Mapped[str] = mapped_column(String(20))  # promote | canary | rollback | abort
    traffic_percent: Mapped[int] = mapped_column(Integer)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    gate: Mapped[dict] = mapped_column(JSON)
    policy_digest: Mapped[str] = mapped_column(String(80))
    evidence_digests: Mapped[list] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """An API token of a server: who it speaks for (``name``), a slow hash of its secret (never the secret), when it
    expires and whether it was revoked. Sealed like every row a decision reads: a token row inserted or un-revoked
    outside assay authenticates nobody."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    token_id: Mapped[str] = mapped_column(String(40), unique=True)  # public: the first part of the token
    name: Mapped[str] = mapped_column(String(200), index=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class TokenUseRow(Base):
    """When a token was last used: updated in place at most once a minute, so it is not sealed and no decision
    reads it."""

    __tablename__ = "api_token_uses"
    token_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookRow(Base):
    """A webhook subscription: where to send which events (of one environment, or all), signed with ``secret``
    (Standard Webhooks). Sealed: a URL or secret changed outside assay receives nothing."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_idx: Mapped[int | None] = mapped_column(BigInteger)  # the audit entry that last wrote this row
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list] = mapped_column(JSON)
    environment: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobRow(Base):
    """One piece of background work on the database's queue: taken by one worker at a time (a lease), retried with
    backoff until done or out of attempts. Not sealed: no decision reads it."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliveryRow(Base):
    """One attempt to deliver one event to one webhook: the delivery log."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(Integer, index=True)
    event_id: Mapped[str] = mapped_column(String(80), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    milliseconds: Mapped[int] = mapped_column(Integer)


class EventCursorRow(Base):
    """How far the audit log has been turned into webhook events: one row, advanced under a lock."""

    __tablename__ = "event_cursor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_entry: Mapped[int] = mapped_column(BigInteger)


class AuditEntryRow(Base):
    """One entry of the append-only Merkle log: ``body`` is the canonical JSON that was hashed."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_kind", "kind"),)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditNodeRow(Base):
    """A perfect subtree of the log (level >= 1; leaves are the entries), kept so proofs need O(log n) reads."""

    __tablename__ = "audit_nodes"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class AuditStateRow(Base):
    """The log's head: its size and the right-edge subtree hashes, so appends never re-read the entries."""

    __tablename__ = "audit_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    peaks: Mapped[list] = mapped_column(JSON)


class CheckpointRow(Base):
    """A signed checkpoint (signed note) of the log at some size."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
