"""The evidence document: the one plain dict of JSON types a policy judges a release by.

The release service builds it from the registry; rules read it as the CEL variable ``evidence``.
Every field below is always present (use ``null``, ``false``, ``0`` or ``[]`` for "nothing"), so rules
can read fields without ``has()``; a missing field makes the reading rule fail closed with an error.
Extra fields are allowed and ignored by the default policies.

========================================  ===========================================================
Field                                     Meaning
========================================  ===========================================================
release.id / name                         release id (waivers name it) and human name
release.created_by / created_at           submitter (identity string) / RFC 3339 time
release.revoked                           bool: the release was withdrawn (rollback policy)
model.name / version / identity           registry name, version, ``sha256:`` manifest root digest
model.owner                               owner identity, or null
model.risk_tier                           low | medium | high | critical
model.intended_use / data_sensitivity     free strings from intake (e.g. internal, public / pii)
scan.verdict                              clean | findings | error
scan.max_severity                         critical | high | medium | low | info | null
scan.counts.{critical,high,medium,low,info}  ints
scan.rules                                list of scanner rule ids that fired
signature.status                          verified | unsigned | failed
signature.signer / method                 signer identity or key id, signing method (key, certificate,
                                          sigstore), each null when unsigned
signature.trusted                         bool: the signer is in the trust configuration
license.expression / class                SPDX expression (or LicenseRef) or null / license class
                                          (permissive, weak-copyleft, strong-copyleft, network-copyleft,
                                          restricted-use, non-commercial, proprietary, unknown)
license.obligations                       list of obligation tags (attribution, notice, ...)
card.present / license / pipeline_tag     bool / card front-matter license / task, null when absent
card.base_models / datasets               lists of ids from the card
lineage.complete / missing                bool / list of what could not be resolved
lineage.base_models / datasets            lists of registry identities or hub ids
evals[]                                   {name, metric, value, threshold, passed, problem?}; an unreadable eval-set is one failed entry with its problem
approvals.count                           approval records for this release and environment
approvals.distinct                        distinct approvers OTHER than the submitter
approvals.approvers / roles               lists of approver identities / their roles
approvals.by_submitter                    bool: the submitter approved their own release
deployment.environment                    the environment being gated
deployment.previous_environment           the environment before it in the promotion chain, or null
deployment.previous_release               release now active in this environment, or null
deployment.rollback_target                release id to roll back to, or null
deployment.active_in_previous_env         bool: this release is active in previous_environment
deployment.history_count                  deployments so far in this environment
evidence_age_days                         number: age of the oldest scan/verification evidence
artifacts[]                               {kind, name, digest}: prompts, params, tool schemas, ...
integrity (rollback evidence)             {files_match, signature_match: bool, mismatched: [paths]}
========================================  ===========================================================
"""

from __future__ import annotations

from typing import Any

_STR_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
_STRS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required}


EVIDENCE_JSON_SCHEMA: dict[str, Any] = _obj({
    "release": _obj({"id": {"type": "string"}, "name": {"type": "string"}, "created_by": {"type": "string"},
                     "created_at": {"type": "string"}, "revoked": {"type": "boolean"}}),
    "model": _obj({"name": {"type": "string"}, "version": {"type": "string"}, "identity": {"type": "string"},
                   "owner": _STR_OR_NULL, "risk_tier": {"enum": ["low", "medium", "high", "critical"]},
                   "intended_use": _STR_OR_NULL, "data_sensitivity": _STR_OR_NULL}),
    "scan": _obj({"verdict": {"enum": ["clean", "findings", "error"]},
                  "max_severity": {"enum": ["critical", "high", "medium", "low", "info", None]},
                  "counts": _obj({k: _COUNT for k in ("critical", "high", "medium", "low", "info")}),
                  "rules": _STRS}),
    "signature": _obj({"status": {"enum": ["verified", "unsigned", "failed"]}, "signer": _STR_OR_NULL,
                       "method": _STR_OR_NULL, "trusted": {"type": "boolean"}}),
    "license": _obj({"expression": _STR_OR_NULL,
                     "class": {"enum": ["permissive", "weak-copyleft", "strong-copyleft", "network-copyleft",
                                        "restricted-use", "non-commercial", "proprietary", "unknown"]},
                     "obligations": _STRS}),
    "card": _obj({"present": {"type": "boolean"}, "license": _STR_OR_NULL, "pipeline_tag": _STR_OR_NULL,
                  "base_models": _STRS, "datasets": _STRS}),
    "lineage": _obj({"complete": {"type": "boolean"}, "base_models": _STRS, "datasets": _STRS, "missing": _STRS}),
    "evals": {"type": "array", "items": _obj({"name": {"type": "string"}, "metric": {"type": "string"},
                                              "value": {"type": ["number", "null"]},
                                              "threshold": {"type": ["number", "null"]},
                                              "passed": {"type": "boolean"}, "problem": {"type": "string"}},
                                             required=["name", "metric", "value", "threshold", "passed"])},
    "approvals": _obj({"count": _COUNT, "distinct": _COUNT, "approvers": _STRS, "roles": _STRS,
                       "by_submitter": {"type": "boolean"}}),
    "deployment": _obj({"environment": {"type": "string"}, "previous_environment": _STR_OR_NULL,
                        "previous_release": _STR_OR_NULL, "rollback_target": _STR_OR_NULL,
                        "active_in_previous_env": {"type": "boolean"}, "history_count": _COUNT}),
    "evidence_age_days": {"type": "number", "minimum": 0},
    "artifacts": {"type": "array", "items": _obj({"kind": {"type": "string"}, "name": {"type": "string"},
                                                  "digest": {"type": "string"}})},
    "integrity": _obj({"files_match": {"type": "boolean"}, "signature_match": {"type": "boolean"},
                       "mismatched": _STRS}),
}, required=["release", "model", "scan", "signature", "license", "card", "lineage", "evals", "approvals",
             "deployment", "evidence_age_days", "artifacts"])
"""JSON Schema (2020-12) of the evidence document; ``integrity`` is required only in rollback evidence."""

EVIDENCE_SCHEMA_DOC = """\
| Field | Type | Meaning |
|---|---|---|
| `release.id`, `release.name` | string | release id (waivers name it), human name |
| `release.created_by`, `release.created_at` | string | submitter identity, RFC 3339 time |
| `release.revoked` | bool | the release was withdrawn (rollback policy refuses it) |
| `model.name`, `model.version`, `model.identity` | string | registry name and version, `sha256:` manifest root digest |
| `model.owner` | string \\| null | owner identity |
| `model.risk_tier` | string | `low`, `medium`, `high`, `critical` |
| `model.intended_use`, `model.data_sensitivity` | string \\| null | free strings recorded at intake |
| `scan.verdict` | string | `clean`, `findings`, `error` |
| `scan.max_severity` | string \\| null | worst finding: `critical` ... `info` |
| `scan.counts.{critical,high,medium,low,info}` | int | findings per severity |
| `scan.rules` | [string] | scanner rule ids that fired |
| `signature.status` | string | `verified`, `unsigned`, `failed` |
| `signature.signer`, `signature.method` | string \\| null | signer identity or key id; \
`key`, `certificate`, `sigstore` |
| `signature.trusted` | bool | the signer is in the trust configuration |
| `license.expression` | string \\| null | SPDX expression or LicenseRef |
| `license.class` | string | `permissive`, `weak-copyleft`, `strong-copyleft`, `network-copyleft`, `restricted-use`, \
`non-commercial`, `proprietary`, `unknown` |
| `license.obligations` | [string] | obligation tags (`attribution`, `notice`, ...) |
| `card.present` | bool | a model card exists |
| `card.license`, `card.pipeline_tag` | string \\| null | card front matter |
| `card.base_models`, `card.datasets` | [string] | ids named by the card |
| `lineage.complete` | bool | every base model and dataset is known |
| `lineage.base_models`, `lineage.datasets`, `lineage.missing` | [string] | resolved lineage; \
what could not be resolved |
| `evals[]` | [{name, metric, value, threshold, passed, problem?}] | evaluation results; may be empty; an eval-set that is missing, altered or malformed is one failed entry whose `problem` says why |
| `approvals.count` | int | approval records for this release and environment |
| `approvals.distinct` | int | distinct approvers other than the submitter |
| `approvals.approvers`, `approvals.roles` | [string] | approver identities and roles |
| `approvals.by_submitter` | bool | the submitter approved their own release |
| `deployment.environment` | string | the environment being gated |
| `deployment.previous_environment` | string \\| null | the environment before it in the promotion chain |
| `deployment.previous_release` | string \\| null | release active in this environment now |
| `deployment.rollback_target` | string \\| null | release id to roll back to |
| `deployment.active_in_previous_env` | bool | this release is active in `previous_environment` |
| `deployment.history_count` | int | deployments so far in this environment |
| `evidence_age_days` | number | age in days of the oldest scan/verification evidence |
| `artifacts[]` | [{kind, name, digest}] | content-addressed release parts: prompts, params, tool schemas |
| `integrity` (rollback only) | {files_match, signature_match: bool, mismatched: [string]} | the target re-hashed \
and re-verified now |

Rule expressions see `evidence` (this document), `environment` and `risk_tier` (strings) and `now` (timestamp).
"""
"""The evidence schema as a Markdown table, ready for the README."""


def evidence_problems(evidence: Any, *, rollback: bool = False) -> tuple[str, ...]:
    """Where ``evidence`` departs from :data:`EVIDENCE_JSON_SCHEMA`, one line each (empty when it conforms).

    For the release service's own tests: the evaluator does not require a valid document, it fails
    closed on whatever a rule cannot read. ``rollback`` also requires the ``integrity`` section.
    """
    schema = dict(EVIDENCE_JSON_SCHEMA)
    if rollback:
        schema["required"] = [*schema["required"], "integrity"]
    import jsonschema  # only here: the evaluator does not need it, and it is a test dependency

    validator = jsonschema.Draft202012Validator(schema)
    return tuple(f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                 for e in sorted(validator.iter_errors(evidence), key=lambda e: list(map(str, e.absolute_path))))


def example_evidence() -> dict[str, Any]:
    """A complete evidence document for a release every default rule passes in production (a fresh copy)."""
    return {
        "release": {"id": "rel-0001", "name": "minilm-embedder 2024-06", "created_by": "alice@example.com",
                    "created_at": "2024-06-01T10:00:00Z", "revoked": False},
        "model": {"name": "all-MiniLM-L6-v2", "version": "1", "identity": "sha256:" + "ab" * 32,
                  "owner": "ml-platform@example.com", "risk_tier": "medium", "intended_use": "internal search",
                  "data_sensitivity": "internal"},
        "scan": {"verdict": "clean", "max_severity": None,
                 "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0}, "rules": []},
        "signature": {"status": "verified", "signer": "release-key-1", "method": "key", "trusted": True},
        "license": {"expression": "Apache-2.0", "class": "permissive", "obligations": ["attribution", "notice"]},
        "card": {"present": True, "license": "apache-2.0", "pipeline_tag": "sentence-similarity",
                 "base_models": ["nreimers/MiniLM-L6-H384-uncased"], "datasets": ["s2orc"]},
        "lineage": {"complete": True, "base_models": ["nreimers/MiniLM-L6-H384-uncased"], "datasets": ["s2orc"],
                    "missing": []},
        "evals": [{"name": "sts-benchmark", "metric": "spearman", "value": 0.82, "threshold": 0.8, "passed": True}],
        "approvals": {"count": 2, "distinct": 2, "approvers": ["bob@example.com", "carol@example.com"],
                      "roles": ["ml-lead", "security"], "by_submitter": False},
        "deployment": {"environment": "production", "previous_environment": "staging",
                       "previous_release": "rel-0000", "rollback_target": "rel-0000",
                       "active_in_previous_env": True, "history_count": 3},
        "evidence_age_days": 2,
        "artifacts": [{"kind": "model", "name": "all-MiniLM-L6-v2", "digest": "sha256:" + "ab" * 32}],
        "integrity": {"files_match": True, "signature_match": True, "mismatched": []},
    }
