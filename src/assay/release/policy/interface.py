"""Value types of the release-gate policy engine: policies, rules, waivers and gate decisions.

A policy is a list of rules, each a CEL expression over the evidence document (see ``schema.py``)
that must be true for a release to pass. ``loader.py`` turns YAML into a :class:`Policy`,
``evaluate.py`` turns a policy and an evidence document into a :class:`GateResult`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from assay.errors import AssayError

Severity = Literal["deny", "warn"]
"""``deny`` rules block a release when they fail (unless waived); ``warn`` rules are only reported."""
SEVERITIES: tuple[str, ...] = ("deny", "warn")

MAX_POLICY_BYTES = 256 * 1024
"""Largest policy file read (``PolicyLimits.max_bytes``)."""
MAX_RULES = 500
"""Most rules one policy may hold (``PolicyLimits.max_rules``)."""
MAX_EXPRESSION_CHARS = 4096
"""Longest CEL expression accepted (``PolicyLimits.max_expression_chars``)."""
MAX_TEXT_CHARS = 2048
"""Longest description or message template accepted (``PolicyLimits.max_text_chars``)."""
MAX_EVIDENCE_DEPTH = 32
"""Deepest nesting of dicts/lists in an evidence document (``PolicyLimits.max_evidence_depth``).

The CEL binding converts values recursively in native code; a very deep document would exhaust its
stack and kill the process instead of raising, so depth is checked in Python first."""
MAX_EVIDENCE_NODES = 200_000
"""Most values (dict entries, list items, scalars) in an evidence document (``PolicyLimits.max_evidence_nodes``)."""


class PolicyError(AssayError):
    """A policy file is malformed; the message is one line, ``FILE:LINE: reason``."""


@dataclass(frozen=True)
class PolicyLimits:
    """Every bound the loader and the evaluator enforce; override any of them per call."""

    max_bytes: int = MAX_POLICY_BYTES
    max_rules: int = MAX_RULES
    max_expression_chars: int = MAX_EXPRESSION_CHARS
    max_text_chars: int = MAX_TEXT_CHARS
    max_evidence_depth: int = MAX_EVIDENCE_DEPTH
    max_evidence_nodes: int = MAX_EVIDENCE_NODES


@dataclass(frozen=True)
class Rule:
    """One rule: a CEL expression that must evaluate to ``true`` for the release to pass.

    ``environments`` / ``risk_tiers`` are ``None`` when the rule applies to every environment / tier.
    ``message`` is a template: ``{{ evidence.scan.verdict }}`` is replaced by the value at that dotted
    path (``environment``, ``risk_tier`` and ``now`` may be used too; a list index is a number segment).
    ``program`` is the compiled expression; it takes no part in equality.
    """

    id: str
    description: str
    severity: Severity
    expr: str
    environments: tuple[str, ...] | None = None
    risk_tiers: tuple[str, ...] | None = None
    message: str | None = None
    waivable: bool = True
    """False for the rules a waiver must never open (approvals, separation of duty, the promotion order): a
    waiver for such a rule is refused when asked for and ignored by the gate if one is found anyway."""
    line: int = 0
    program: Any = field(default=None, compare=False, repr=False, hash=False)

    def applies_to(self, environment: str, risk_tier: str) -> bool:
        """True when the rule's environment and risk-tier filters admit this release."""
        if self.environments is not None and environment not in self.environments:
            return False
        return self.risk_tiers is None or risk_tier in self.risk_tiers


@dataclass(frozen=True)
class Policy:
    """A loaded policy: its rules in file order, where it came from, and its canonical source bytes."""

    name: str
    version: int
    rules: tuple[Rule, ...]
    source: bytes = field(repr=False, default=b"")
    limits: PolicyLimits = field(default_factory=PolicyLimits, repr=False)

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical source bytes (see :func:`policy_digest`)."""
        return policy_digest(self)


def policy_digest(policy: Policy) -> str:
    """The identity of the policy that decided: ``sha256:`` + hex SHA-256 of its canonical source bytes.

    Canonical bytes are the file as UTF-8 with any BOM removed and CRLF/CR line ends turned into LF, so
    the same policy checked out on any platform has the same digest.
    """
    return "sha256:" + hashlib.sha256(policy.source).hexdigest()


@dataclass(frozen=True)
class Waiver:
    """A named person's permission to release despite one failing rule, for one release and one environment.

    It applies only while ``now < expires_at``; a naive ``expires_at`` is taken as UTC.
    """

    rule_id: str
    release: str
    environment: str
    approver: str
    reason: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        """True when the waiver no longer applies at ``now``."""
        return _aware(now) >= _aware(self.expires_at)

    def to_json(self) -> dict[str, Any]:
        """The waiver as JSON types (``expires_at`` in ISO 8601)."""
        return {"rule_id": self.rule_id, "release": self.release, "environment": self.environment,
                "approver": self.approver, "reason": self.reason, "expires_at": _aware(self.expires_at).isoformat()}


def _aware(moment: datetime) -> datetime:
    # Comparing naive and aware datetimes raises; a naive one here is by convention UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule. ``passed`` is the expression's verdict; ``waived`` says a waiver covered a failure.

    ``error`` is set when the expression could not be evaluated or returned a non-bool; such a rule
    counts as failed (fail closed).
    """

    id: str
    description: str
    severity: Severity
    passed: bool
    waived: bool = False
    waiver: Waiver | None = None
    message: str = ""
    error: str | None = None

    @property
    def blocking(self) -> bool:
        """True when this result alone makes the gate fail: a failed, unwaived deny rule."""
        return self.severity == "deny" and not self.passed and not self.waived

    def to_json(self) -> dict[str, Any]:
        """The result as JSON types."""
        return {"id": self.id, "description": self.description, "severity": self.severity, "passed": self.passed,
                "waived": self.waived, "waiver": self.waiver.to_json() if self.waiver else None,
                "message": self.message, "error": self.error}


@dataclass(frozen=True)
class SkippedRule:
    """A rule the environment or risk-tier filters left out, with the reason."""

    id: str
    reason: str


@dataclass(frozen=True)
class GateResult:
    """The decision of one policy for one release in one environment."""

    policy: str
    policy_digest: str
    environment: str
    risk_tier: str
    evaluated_at: datetime
    results: tuple[RuleResult, ...]
    skipped: tuple[SkippedRule, ...] = ()
    seconds: float = field(default=0.0, compare=False)

    @property
    def passed(self) -> bool:
        """False when any deny rule failed and was not waived; warn rules never block."""
        return not any(r.blocking for r in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        """Rules whose expression did not hold, waived or not, deny or warn."""
        return tuple(r for r in self.results if not r.passed)

    def to_json(self) -> dict[str, Any]:
        """The decision as JSON types (schema ``assay.gate/1.0``)."""
        return {
            "schema": "assay.gate/1.0",
            "passed": self.passed,
            "policy": self.policy,
            "policy_digest": self.policy_digest,
            "environment": self.environment,
            "risk_tier": self.risk_tier,
            "evaluated_at": _aware(self.evaluated_at).isoformat(),
            "summary": {
                "rules": len(self.results),
                "passed": sum(r.passed for r in self.results),
                "denied": sum(r.blocking for r in self.results),
                "warned": sum(r.severity == "warn" and not r.passed for r in self.results),
                "waived": sum(r.waived for r in self.results),
                "skipped": len(self.skipped),
            },
            "results": [r.to_json() for r in self.results],
            "skipped": [{"id": s.id, "reason": s.reason} for s in self.skipped],
        }
