"""Policy as code for release gates: YAML rules with CEL expressions over an evidence document.

    policy = load_default_policy()                      # or load_policy("gates.yaml")
    result = evaluate(policy, evidence, environment="production", risk_tier="high", waivers=waivers)
    result.passed, result.to_json(), render_text(result), policy_digest(policy)

The evidence document's fields are described in :mod:`assay.release.policy.schema`
(``EVIDENCE_SCHEMA_DOC`` is the same as a Markdown table).
"""

from __future__ import annotations

from .evaluate import evaluate, render_text
from .interface import (
    GateResult,
    Policy,
    PolicyError,
    PolicyLimits,
    Rule,
    RuleResult,
    SkippedRule,
    Waiver,
    policy_digest,
)
from .loader import VARIABLES, load_default_policy, load_policy, load_rollback_policy, parse_policy
from .schema import EVIDENCE_JSON_SCHEMA, EVIDENCE_SCHEMA_DOC, evidence_problems, example_evidence

__all__ = [
    "EVIDENCE_JSON_SCHEMA", "EVIDENCE_SCHEMA_DOC", "VARIABLES", "GateResult", "Policy", "PolicyError", "PolicyLimits",
    "Rule", "RuleResult", "SkippedRule", "Waiver", "evaluate", "evidence_problems", "example_evidence",
    "load_default_policy", "load_policy", "load_rollback_policy", "parse_policy", "policy_digest", "render_text",
]
