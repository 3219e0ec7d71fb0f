"""Policy + evidence document -> gate decision. Pure: no I/O, never raises for any evidence.

Each rule's compiled CEL program runs against the variables ``evidence`` (the document),
``environment`` (string), ``risk_tier`` (string) and ``now`` (a CEL timestamp). The evidence is
converted to CEL values once per evaluation (a ``cel.Context`` built once and shared by every rule),
not once per rule. A rule that raises, or returns anything but a bool, fails closed: it counts as a
failure with the error in its message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import cel

from .interface import GateResult, Policy, Rule, RuleResult, SkippedRule, Waiver
from .template import render_template

_NON_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)
MAX_ERROR_CHARS = 300
"""An evaluation error is cut to this many characters in a result."""


def evaluate(policy: Policy, evidence: Any, *, environment: str, risk_tier: str,
             waivers: Iterable[Waiver] = (), now: datetime | None = None) -> GateResult:
    """Decide whether the release described by ``evidence`` may enter ``environment``.

    ``waivers`` may hold waivers for any rule, release and environment; only those matching the rule,
    ``evidence.release.id`` and ``environment`` and not expired at ``now`` (default: the current UTC
    time; a naive value is taken as UTC) excuse a failure.
    """
    started = time.perf_counter()
    now = datetime.now(UTC) if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))
    problem = evidence_problem(evidence, policy.limits.max_evidence_depth, policy.limits.max_evidence_nodes)
    variables = {"evidence": evidence, "environment": str(environment), "risk_tier": str(risk_tier), "now": now}
    context = None
    if problem is None:
        try:
            context = cel.Context(variables=variables)
        except _NON_FATAL:
            raise
        except BaseException as exc:  # noqa: BLE001 - a value CEL cannot hold; the native side may panic
            problem = f"evidence cannot be converted for CEL: {_short(exc)}"
    release_id = _release_id(evidence) if problem is None else None
    waiver_list = tuple(waivers)
    results: list[RuleResult] = []
    skipped: list[SkippedRule] = []
    for rule in policy.rules:
        if rule.environments is not None and environment not in rule.environments:
            skipped.append(SkippedRule(rule.id, f"applies only to environments {', '.join(rule.environments)}"))
            continue
        if rule.risk_tiers is not None and risk_tier not in rule.risk_tiers:
            skipped.append(SkippedRule(rule.id, f"applies only to risk tiers {', '.join(rule.risk_tiers)}"))
            continue
        error = problem
        passed = False
        if context is not None:
            passed, error = _run(rule.program, context)
        if passed:
            message = "passed"
        elif error is not None:
            message = f"{rule.description}: could not evaluate ({error})"
        else:
            message = render_template(rule.message, variables) if rule.message else rule.description
        results.append(_waive(rule, passed, message, error,
                              waiver_list, release_id, environment, now))
    return GateResult(policy=policy.name, policy_digest=policy.digest, environment=str(environment),
                      risk_tier=str(risk_tier), evaluated_at=now, results=tuple(results), skipped=tuple(skipped),
                      seconds=time.perf_counter() - started)


def _run(program: Any, context: Any) -> tuple[bool, str | None]:
    try:
        value = program.execute(context)
    except _NON_FATAL:
        raise
    except BaseException as exc:  # noqa: BLE001 - fail closed on anything the expression or binding raises
        return False, _short(exc)
    if not isinstance(value, bool):
        return False, f"expression returned {type(value).__name__}, not bool"
    return value, None


def _waive(rule: Rule, passed: bool, message: str, error: str | None, waivers: tuple[Waiver, ...],
           release_id: str | None, environment: str, now: datetime) -> RuleResult:
    rule_id, description, severity = rule.id, rule.description, rule.severity
    if passed:
        return RuleResult(rule_id, description, severity, True, message=message)
    notes: list[str] = []
    for waiver in waivers:
        if waiver.rule_id != rule_id:
            continue
        if not rule.waivable:
            notes.append(f"waiver by {waiver.approver} ignored: the rule cannot be waived")
            continue
        if waiver.environment != environment or release_id is None or waiver.release != release_id:
            continue  # a waiver for another release or environment says nothing about this one
        if waiver.expired(now):
            notes.append(f"waiver by {waiver.approver} expired at {waiver.expires_at.isoformat()} and was ignored")
            continue
        note = f"waived by {waiver.approver} until {waiver.expires_at.isoformat()}: {waiver.reason}"
        return RuleResult(rule_id, description, severity, False, waived=True, waiver=waiver,
                          message=f"{message} [{note}]", error=error)
    if notes:
        message = f"{message} [{'; '.join(notes)}]"
    return RuleResult(rule_id, description, severity, False, message=message, error=error)


def _release_id(evidence: Any) -> str | None:
    release = evidence.get("release") if isinstance(evidence, dict) else None
    value = release.get("id") if isinstance(release, dict) else None
    return value if isinstance(value, str) else None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def evidence_problem(evidence: Any, max_depth: int, max_nodes: int) -> str | None:
    """Why ``evidence`` cannot be evaluated (not a mapping, too deep, too large), or None."""
    if not isinstance(evidence, dict):
        return f"evidence must be a mapping, not {type(evidence).__name__}"
    nodes = 0
    stack: list[tuple[Any, int]] = [(evidence, 1)]
    while stack:  # iterative, so a deep document cannot exhaust Python's stack either
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return f"evidence has more than {max_nodes} values"
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= max_depth:
            return f"evidence is nested deeper than {max_depth} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def render_text(result: GateResult, *, verbose: bool = False) -> str:
    """A plain-text report of a decision: a verdict line, then one line per rule that did not simply pass.

    ``verbose`` lists passed and skipped rules as well.
    """
    verdict = "PASSED" if result.passed else "BLOCKED"
    lines = [f"gate {verdict}: {result.environment} (risk tier {result.risk_tier}) by policy {result.policy} "
             f"[{result.policy_digest[:19]}]"]
    for r in result.results:
        if r.passed:
            if verbose:
                lines.append(f"  ok    {r.id}")
            continue
        mark = "WAIVED" if r.waived else ("DENY" if r.severity == "deny" else "WARN")
        lines.append(f"  {mark:<6} {r.id}: {r.message}")
    if verbose:
        lines.extend(f"  skip  {s.id}: {s.reason}" for s in result.skipped)
    s = result.to_json()["summary"]
    lines.append(f"{s['rules']} rules: {s['passed']} passed, {s['denied']} denied, {s['warned']} warned, "
                 f"{s['waived']} waived, {s['skipped']} skipped")
    return "\n".join(lines)
