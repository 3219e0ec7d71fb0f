"""The model registry: models, immutable versions, lineage, datasets, artifacts and evidence.

Public: ``Registry`` (open with ``Registry.open(assay.config.load_settings())``), ``intake`` with
``IntakeRequest``/``IntakeResult``, ``register_dataset``, ``add_artifact``, the queries ``list_models``,
``show``, ``lineage``, ``where``, ``doctor``; the reference resolver (``parse_ref``, ``find_version``,
``find_dataset``, ``find_artifact``, ``find_release``, ``resolve``, answering with ``Row`` rows); the one
read path (``Reader`` on an ``Sql`` connection: ``Sql.connect(url)`` for the read commands, ``Sql.of(session)``
inside a transaction); the audit log in the database (``verify_audit_log``, ``audit_proof``,
``sign_audit_checkpoint``, ``export_audit_bundle``, ``audit_log_verifier``); and, for the release service, the mapped rows (``ModelRow``, ``VersionRow``,
``ReleaseRow`` ...) with ``now`` and ``must_get``.

References (``NAME``, ``NAME@N``, ``NAME@latest``, ``NAME@sha256:PREFIX``) resolve through ``_refs``; every
read goes through ``_reader`` as text SQL on the DB-API (``_sql.py`` says why: import time). The names load on
first use (PEP 562), so importing the package costs nothing until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import lazy_exports

if TYPE_CHECKING:
    from assay.registry._auditlog import checkpoint as sign_audit_checkpoint
    from assay.registry._auditlog import finish_rotation as finish_audit_key_rotation
    from assay.registry._auditlog import rotate_key as rotate_audit_key
    from assay.registry._auditquery import audit_log
    from assay.registry._auditread import export as export_audit_bundle
    from assay.registry._auditread import proof as audit_proof
    from assay.registry._auditread import verify as verify_audit_log
    from assay.registry._catalog import add_artifact, register_dataset, set_model_metadata
    from assay.registry._catalogread import artifact_report, dataset_report, list_artifacts, list_datasets
    from assay.registry._copies import DEFAULT_KEEP_MAX_BYTES, KEPT_FILES, kept_files, restored
    from assay.registry._evalset import read_eval_set
    from assay.registry._faults import DatabaseFault
    from assay.registry._ingest import IntakeRequest, IntakeResult, intake, later_evidence_entries
    from assay.registry._interface import NotFound, check_name
    from assay.registry._logkey import key_path as audit_key_path
    from assay.registry._logkey import log_signer as audit_log_signer
    from assay.registry._logkey import log_verifier as audit_log_verifier
    from assay.registry._queries import doctor, lineage, list_models, pull, show, where
    from assay.registry._reader import Reader
    from assay.registry._refs import find_artifact, find_dataset, find_release, find_version, parse_ref, resolve
    from assay.registry._schema import (
        ApprovalRow,
        ArtifactRow,
        AuditEntryRow,
        DeliveryRow,
        DeploymentRow,
        EnvironmentRow,
        EventCursorRow,
        EvidenceRow,
        JobRow,
        LineageRow,
        ModelRow,
        ReleaseArtifactRow,
        ReleaseModelRow,
        ReleaseRow,
        TokenRow,
        TokenUseRow,
        VersionRow,
        WaiverRow,
        WebhookRow,
    )
    from assay.registry._seal import RecordTampered, touch_unsealed
    from assay.registry._sql import Row, Sql
    from assay.registry._store import Registry, WriteConflict, must_get, now

_WHERE = {"WriteConflict": "_store", "RecordTampered": "_seal", "touch_unsealed": "_seal", "later_evidence_entries": "_ingest", "Registry": "_store", "read_eval_set": "_evalset", "now": "_store", "must_get": "_store", "intake": "_ingest", "IntakeRequest": "_ingest",
          "IntakeResult": "_ingest", "register_dataset": "_catalog", "set_model_metadata": "_catalog", "add_artifact": "_catalog", "list_models": "_queries",
          "show": "_queries", "lineage": "_queries", "where": "_queries", "doctor": "_queries", "NotFound": "_interface",
          "check_name": "_interface", "Sql": "_sql", "Row": "_sql", "Reader": "_reader", "parse_ref": "_refs",
          "find_version": "_refs", "find_dataset": "_refs", "find_artifact": "_refs", "find_release": "_refs",
          "resolve": "_refs", "ApprovalRow": "_schema", "AuditEntryRow": "_schema", "ArtifactRow": "_schema", "DeploymentRow": "_schema",
          "EnvironmentRow": "_schema", "EvidenceRow": "_schema", "LineageRow": "_schema", "ModelRow": "_schema",
          "ReleaseArtifactRow": "_schema", "ReleaseModelRow": "_schema", "TokenRow": "_schema", "TokenUseRow": "_schema", "WebhookRow": "_schema", "JobRow": "_schema", "DeliveryRow": "_schema", "EventCursorRow": "_schema", "ReleaseRow": "_schema", "VersionRow": "_schema", "WaiverRow": "_schema",
          "audit_log_verifier": "_logkey:log_verifier", "audit_log_signer": "_logkey:log_signer", "verify_audit_log": "_auditread:verify",
          "audit_proof": "_auditread:proof", "sign_audit_checkpoint": "_auditlog:checkpoint",
          "export_audit_bundle": "_auditread:export", "rotate_audit_key": "_auditlog:rotate_key",
          "finish_audit_key_rotation": "_auditlog:finish_rotation", "audit_key_path": "_logkey:key_path",
          "audit_log": "_auditquery", "list_artifacts": "_catalogread", "artifact_report": "_catalogread",
          "list_datasets": "_catalogread", "dataset_report": "_catalogread", "DatabaseFault": "_faults",
          "KEPT_FILES": "_copies", "DEFAULT_KEEP_MAX_BYTES": "_copies", "kept_files": "_copies", "restored": "_copies", "pull": "_queries"}
__all__ = ["WriteConflict", "RecordTampered", "touch_unsealed", "later_evidence_entries", "Registry", "read_eval_set", "intake", "IntakeRequest", "IntakeResult", "register_dataset", "set_model_metadata", "add_artifact",
           "list_models", "show", "lineage", "where", "doctor", "NotFound", "check_name", "now", "must_get", "Sql",
           "Row", "Reader", "parse_ref", "find_version", "find_dataset", "find_artifact", "find_release",
           "resolve", "ApprovalRow", "AuditEntryRow", "ArtifactRow", "DeploymentRow", "EnvironmentRow", "EvidenceRow", "LineageRow",
           "ModelRow", "ReleaseArtifactRow", "ReleaseModelRow", "ReleaseRow", "TokenRow", "TokenUseRow", "WebhookRow", "JobRow", "DeliveryRow", "EventCursorRow", "VersionRow", "WaiverRow", "audit_log_signer", "audit_log_verifier",
           "verify_audit_log", "audit_proof", "sign_audit_checkpoint", "export_audit_bundle", "rotate_audit_key",
           "finish_audit_key_rotation", "audit_key_path", "audit_log", "list_artifacts", "artifact_report",
           "list_datasets", "dataset_report", "DatabaseFault", "DEFAULT_KEEP_MAX_BYTES", "KEPT_FILES", "kept_files", "restored", "pull"]


__getattr__ = lazy_exports(__name__, _WHERE)
