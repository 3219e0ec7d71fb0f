"""Release-gate policies: loading (with FILE:LINE errors), the shipped defaults, evaluation, waivers, fuzzing."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.errors import AssayError
from assay.release.policy import (
    EVIDENCE_SCHEMA_DOC,
    GateResult,
    PolicyError,
    PolicyLimits,
    Waiver,
    evaluate,
    evidence_problems,
    example_evidence,
    load_default_policy,
    load_policy,
    load_rollback_policy,
    parse_policy,
    policy_digest,
    render_text,
)

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
DEFAULT = load_default_policy()
ROLLBACK = load_rollback_policy()


def gate(evidence: dict[str, Any], environment: str = "production", risk_tier: str = "medium",
         **kwargs: Any) -> GateResult:
    return evaluate(DEFAULT, evidence, environment=environment, risk_tier=risk_tier, now=NOW, **kwargs)


def failed(result: GateResult) -> set[str]:
    return {r.id for r in result.failures}


def evidence_with(**changes: Any) -> dict[str, Any]:
    """The good example with dotted-path changes: evidence_with(**{"scan.verdict": "findings"})."""
    ev = example_evidence()
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = ev
        for part in parents:
            target = target[part]
        target[last] = value
    return ev


# --- the shipped policies ------------------------------------------------------------------------------

def test_default_policies_load_with_documented_rules() -> None:
    assert 12 <= len(DEFAULT.rules) <= 20
    assert all(rule.description and rule.program is not None for rule in DEFAULT.rules)
    ids = {r.id for r in DEFAULT.rules}
    assert {"scan-clean", "signature-trusted", "approvals-production", "rollback-target"} <= ids
    assert {r.id for r in ROLLBACK.rules} == {"target-files-match", "target-signature-valid", "target-scan-clean",
                                              "target-not-revoked"}


def test_policy_digest_is_sha256_of_source_and_ignores_line_endings() -> None:
    text = resources.files("assay.release.policy").joinpath("default.yaml").read_text()
    raw = resources.files("assay.release.policy").joinpath("default.yaml").read_bytes()
    expected = "sha256:" + hashlib.sha256(raw.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")).hexdigest()
    assert policy_digest(DEFAULT) == DEFAULT.digest == expected and DEFAULT.digest.startswith("sha256:")
    assert parse_policy(text.replace("\n", "\r\n")).digest == DEFAULT.digest
    assert parse_policy(text + "# changed\n").digest != DEFAULT.digest


@pytest.mark.parametrize("environment", ["dev", "staging", "production"])
@pytest.mark.parametrize("risk_tier", ["low", "medium", "high", "critical"])
def test_good_evidence_passes_every_default_rule(environment: str, risk_tier: str) -> None:
    result = gate(example_evidence(), environment, risk_tier)
    assert result.passed and not result.failures, render_text(result)
    assert len(result.results) + len(result.skipped) == len(DEFAULT.rules)
    assert evaluate(ROLLBACK, example_evidence(), environment=environment, risk_tier=risk_tier).passed


BAD_CASES = [
    ("unsigned", {"signature.status": "unsigned", "signature.signer": None, "signature.trusted": False},
     "production", {"signature-trusted"}, False),
    ("unsigned is fine in dev", {"signature.status": "unsigned", "signature.trusted": False}, "dev", set(), True),
    ("untrusted signer", {"signature.trusted": False}, "staging", {"signature-trusted"}, False),
    ("tampered", {"signature.status": "failed"}, "dev", {"signature-not-failed"}, False),
    ("dirty scan", {"scan.verdict": "findings", "scan.max_severity": "high",
                    "scan.counts": {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}},
     "dev", {"scan-clean", "no-critical-high-findings"}, False),
    ("scan error", {"scan.verdict": "error"}, "dev", {"scan-clean"}, False),
    ("AGPL in production", {"license.expression": "AGPL-3.0-only", "license.class": "network-copyleft"},
     "production", {"license-allowed-production"}, False),
    ("AGPL in staging", {"license.expression": "AGPL-3.0-only", "license.class": "network-copyleft"},
     "staging", set(), True),
    ("non-commercial", {"license.class": "non-commercial"}, "production", {"license-allowed-production"}, False),
    ("unknown license", {"license.class": "unknown", "license.expression": None}, "production",
     {"license-allowed-production", "license-identified"}, False),
    ("restricted-use only warns", {"license.class": "restricted-use"}, "production", {"license-restricted-use"}, True),
    ("one approval", {"approvals.distinct": 1, "approvals.count": 1}, "production", {"approvals-production"}, False),
    ("one approval is enough in staging", {"approvals.distinct": 1}, "staging", set(), True),
    ("no approval in staging", {"approvals.distinct": 0}, "staging", {"approvals-staging"}, False),
    ("submitter approved", {"approvals.by_submitter": True}, "production", {"no-self-approval"}, False),
    ("no rollback target", {"deployment.rollback_target": None}, "production", {"rollback-target"}, False),
    ("first deployment needs none", {"deployment.rollback_target": None, "deployment.previous_release": None},
     "production", set(), True),
    ("no owner", {"model.owner": None}, "dev", {"owner-set"}, False),
    ("blank owner", {"model.owner": "  "}, "dev", {"owner-set"}, False),
    ("failed eval", {"evals": [{"name": "sts", "metric": "spearman", "value": 0.5, "threshold": 0.8,
                                "passed": False}]}, "dev", {"evals-pass"}, False),
    ("no evals, medium risk", {"evals": []}, "production", set(), True),
    ("stale evidence", {"evidence_age_days": 45}, "production", {"evidence-fresh"}, False),
    ("skipped staging", {"deployment.active_in_previous_env": False}, "production", {"promoted-through-previous"},
     False),
    ("no card, incomplete lineage warn", {"card.present": False, "lineage.complete": False,
                                          "lineage.missing": ["datasets"]},
     "production", {"model-card-present", "lineage-complete"}, True),
]


@pytest.mark.parametrize(("changes", "environment", "expected", "passes"),
                         [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_evidence_fails_exactly_the_right_rules(changes: dict[str, Any], environment: str,
                                                    expected: set[str], passes: bool) -> None:
    result = gate(evidence_with(**changes), environment)
    assert failed(result) == expected, render_text(result)
    assert result.passed is passes


def test_high_risk_without_evals_is_blocked_only_for_high_tiers() -> None:
    ev = evidence_with(evals=[])
    assert failed(gate(ev, "production", "high")) == {"evals-present-high-risk"}
    assert gate(ev, "production", "low").passed
    assert "evals-present-high-risk" in {s.id for s in gate(ev, "production", "low").skipped}


def test_failure_messages_show_the_evidence() -> None:
    result = gate(evidence_with(**{"scan.verdict": "findings", "scan.max_severity": "medium"}), "dev")
    (scan,) = [r for r in result.results if r.id == "scan-clean"]
    assert scan.message == "scan verdict is findings (worst finding: medium)" and scan.error is None
    result = gate(evidence_with(**{"approvals.by_submitter": True}))
    assert "alice@example.com approved their own release" in render_text(result)


def test_rollback_policy_refuses_changed_or_revoked_targets() -> None:
    ev = evidence_with(**{"integrity.files_match": False, "integrity.mismatched": ["model.safetensors"],
                          "release.revoked": True})
    result = evaluate(ROLLBACK, ev, environment="production", risk_tier="low")
    assert failed(result) == {"target-files-match", "target-not-revoked"} and not result.passed
    assert "model.safetensors" in render_text(result)


# --- filters, errors, waivers --------------------------------------------------------------------------

FILTERED = parse_policy("""\
version: 1
rules:
  - id: prod-only
    description: production only
    severity: deny
    environments: [production]
    expr: "false"
  - id: critical-only
    description: critical tier only
    severity: deny
    risk_tiers: [critical]
    expr: "false"
  - id: warn-error
    description: a warn rule whose expression errors
    severity: warn
    expr: evidence.nope.deeper == 1
""", "filtered.yaml")


def test_environment_and_tier_filters_skip_rules() -> None:
    result = evaluate(FILTERED, {}, environment="dev", risk_tier="low")
    assert {s.id for s in result.skipped} == {"prod-only", "critical-only"}
    assert result.passed  # only a warn rule ran
    result = evaluate(FILTERED, {}, environment="production", risk_tier="critical")
    assert failed(result) == {"prod-only", "critical-only", "warn-error"} and not result.passed


def test_expression_error_fails_closed_with_message() -> None:
    result = gate(evidence_with(scan={}), "dev")
    (scan,) = [r for r in result.results if r.id == "scan-clean"]
    assert not scan.passed and scan.error and "could not evaluate" in scan.message
    assert not result.passed
    (warned,) = evaluate(FILTERED, {}, environment="dev", risk_tier="low").results
    assert warned.error and not warned.passed and not warned.blocking


def test_non_bool_result_fails_closed() -> None:
    policy = parse_policy("version: 1\nrules:\n  - {id: n, description: d, severity: deny, expr: evidence.x}\n")
    for value in (1, "true", None, [True]):
        (r,) = evaluate(policy, {"x": value}, environment="dev", risk_tier="low").results
        assert not r.passed and "not bool" in (r.error or "")
    assert evaluate(policy, {"x": True}, environment="dev", risk_tier="low").passed


def test_unusable_evidence_fails_every_rule_without_crashing() -> None:
    deep: Any = []
    for _ in range(100_000):  # the native converter would overflow its stack on this
        deep = [deep]
    for evidence in ("not a dict", None, {"release": deep}, {"x": {1, 2}}, {"x": "\ud800"}):
        result = gate(evidence)  # type: ignore[arg-type]
        assert not result.passed
        assert all(not r.passed and r.error for r in result.results)
    wide = {"xs": list(range(50))}
    tiny = parse_policy("version: 1\nrules:\n  - {id: a, description: d, severity: deny, expr: 'true'}\n",
                        limits=PolicyLimits(max_evidence_nodes=10))
    result = evaluate(tiny, wide, environment="dev", risk_tier="low")
    assert not result.passed and "more than 10 values" in (result.results[0].error or "")


def waiver(**kwargs: Any) -> Waiver:
    fields: dict[str, Any] = {"rule_id": "license-allowed-production", "release": "rel-0001",
                              "environment": "production", "approver": "ciso@example.com",
                              "reason": "legal cleared this use of the network-copyleft license",
                              "expires_at": NOW + timedelta(days=1)}
    fields.update(kwargs)
    return Waiver(**fields)


def test_waiver_excuses_its_rule_for_its_release_and_environment() -> None:
    ev = evidence_with(**{"license.class": "network-copyleft"})
    result = gate(ev, waivers=[waiver()])
    (r,) = [r for r in result.results if r.id == "license-allowed-production"]
    assert result.passed and r.waived and r.waiver == waiver() and not r.passed
    assert "waived by ciso@example.com" in r.message
    assert result.to_json()["summary"]["waived"] == 1


@pytest.mark.parametrize("kwargs", [{"environment": "staging"}, {"release": "rel-9999"}, {"rule_id": "scan-clean"}],
                         ids=["wrong environment", "wrong release", "wrong rule"])
def test_waiver_for_something_else_is_ignored(kwargs: dict[str, Any]) -> None:
    result = gate(evidence_with(**{"license.class": "network-copyleft"}), waivers=[waiver(**kwargs)])
    assert not result.passed and not any(r.waived for r in result.results)


def test_expired_waiver_is_ignored_and_says_so() -> None:
    result = gate(evidence_with(**{"license.class": "network-copyleft"}),
                  waivers=[waiver(expires_at=datetime(2024, 6, 1, 0, 0))])  # naive = UTC, before NOW
    (r,) = [r for r in result.results if r.id == "license-allowed-production"]
    assert not result.passed and not r.waived and "expired" in r.message and "ignored" in r.message


def test_a_waiver_for_an_unwaivable_rule_is_ignored_and_says_so() -> None:
    result = gate(evidence_with(**{"approvals.distinct": 1}), waivers=[waiver(rule_id="approvals-production")])
    (r,) = [r for r in result.results if r.id == "approvals-production"]
    assert not result.passed and not r.waived and "cannot be waived" in r.message


def test_results_render_as_json_and_text() -> None:
    result = gate(evidence_with(**{"scan.verdict": "findings", "card.present": False}))
    data = json.loads(json.dumps(result.to_json()))
    assert data["passed"] is False and data["policy_digest"] == DEFAULT.digest
    assert data["summary"]["denied"] == 1 and data["summary"]["warned"] == 1
    text = render_text(result)
    assert text.startswith("gate BLOCKED: production") and "DENY   scan-clean" in text and "WARN   model-card" in text
    assert "gate PASSED" in render_text(gate(example_evidence()))


def test_schema_doc_and_validator_cover_the_example() -> None:
    for key in example_evidence():
        assert f"`{key}" in EVIDENCE_SCHEMA_DOC
    assert evidence_problems(example_evidence(), rollback=True) == ()
    problems = evidence_problems(evidence_with(**{"scan.verdict": "dirty", "approvals.distinct": "2"}))
    assert any(p.startswith("scan/verdict") for p in problems) and any(p.startswith("approvals/distinct")
                                                                        for p in problems)


# --- invalid policy files ------------------------------------------------------------------------------

GOOD_RULE = "  - id: ok\n    description: fine\n    severity: deny\n    expr: 'true'\n"
INVALID = [
    ("unknown key", "version: 1\nrules:\n" + GOOD_RULE + "    colour: red\n", 7, "unknown key 'colour'"),
    ("bad id", "version: 1\nrules:\n  - id: Bad_Id\n    description: d\n    severity: deny\n    expr: 'true'\n",
     3, "bad rule id"),
    ("duplicate id", "version: 1\nrules:\n" + GOOD_RULE + GOOD_RULE, 7, "duplicate rule id 'ok' (first at line 3)"),
    ("wrong type", "version: 1\nrules:\n  - id: a\n    description: [x]\n    severity: deny\n    expr: 'true'\n",
     4, "description must be a string"),
    ("bad severity", "version: 1\nrules:\n  - id: a\n    description: d\n    severity: block\n    expr: 'true'\n",
     5, "bad severity 'block'"),
    ("CEL syntax", "version: 1\nrules:\n  - id: a\n    description: d\n    severity: deny\n    expr: evidence.x ==\n",
     6, "does not compile"),
    ("unknown variable", "version: 1\nrules:\n  - id: a\n    description: d\n    severity: deny\n"
     "    expr: evidnce.x == 1\n", 6, "unknown variable 'evidnce'"),
    ("empty rules", "version: 1\nrules: []\n", 2, "policy has no rules"),
    ("rules null", "version: 1\nrules:\n", 2, "rules must be a list"),
    ("missing expr", "version: 1\nrules:\n  - id: a\n    description: d\n    severity: deny\n", 3, "missing 'expr'"),
    ("bad version", "version: 2\nrules:\n" + GOOD_RULE, 1, "unsupported policy version"),
    ("no version", "rules:\n" + GOOD_RULE, 1, "needs 'version: 1'"),
    ("YAML syntax", "version: 1\nrules:\n  - id: [unclosed\n", 4, "invalid YAML"),
    ("duplicate key", "version: 1\nrules:\n" + GOOD_RULE + "    expr: 'false'\n", 7, "duplicate key 'expr'"),
    ("bad template", "version: 1\nrules:\n" + GOOD_RULE + "    message: 'verdict {{ evidence.scan.verdict'\n", 7,
     "malformed placeholder"),
    ("empty environments", "version: 1\nrules:\n" + GOOD_RULE + "    environments: []\n", 7, "at least one"),
    ("empty file", "", 1, "empty"),
    ("not a mapping", "- a\n- b\n", 1, "policy must be a mapping"),
]


@pytest.mark.parametrize(("text", "line", "reason"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_policy_reports_file_and_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "gates.yaml")
    message = str(info.value)
    assert message.startswith(f"gates.yaml:{line}: "), message
    assert reason in message and "\n" not in message


def test_limits_are_enforced_and_overridable(tmp_path: Any) -> None:
    text = "version: 1\nrules:\n" + "".join(GOOD_RULE.replace("id: ok", f"id: r{i}") for i in range(5))
    assert len(parse_policy(text).rules) == 5
    with pytest.raises(PolicyError, match=r"^p:3: policy has 5 rules, more than the limit of 4$"):
        parse_policy(text, "p", limits=PolicyLimits(max_rules=4))
    with pytest.raises(PolicyError, match=r"^p:6: .*longer than the limit of 3 characters"):
        parse_policy(text, "p", limits=PolicyLimits(max_expression_chars=3))
    path = tmp_path / "big.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=r"big.yaml:1: policy file is larger than the limit of 100 bytes"):
        load_policy(path, limits=PolicyLimits(max_bytes=100))
    assert len(load_policy(path).rules) == 5
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.yaml")


# --- fuzzing -------------------------------------------------------------------------------------------

DEFAULT_TEXT = resources.files("assay.release.policy").joinpath("default.yaml").read_text()
YAML_ATOMS = st.sampled_from(["version", "rules", "id", "description", "severity", "deny", "warn", "expr",
                              "environments", "risk_tiers", "message", "- ", ": ", "\n", "  ", "[", "]", "{", "}",
                              "'", '"', "&a ", "*a", "!!str ", "!!python/object ", "evidence.x == 1", "{{ x }}",
                              "1", "true", "null", "#", "---\n", "|\n", "\t", "\x00", "\ufeff"])


def _check_loader(text: str | bytes) -> None:
    try:
        policy = parse_policy(text, "fuzz.yaml", limits=PolicyLimits(max_bytes=20_000))
    except PolicyError as exc:
        assert str(exc).startswith("fuzz.yaml:") and "\n" not in str(exc)
    else:
        assert policy.rules


@given(st.one_of(st.text(max_size=400), st.binary(max_size=400),
                 st.lists(YAML_ATOMS, max_size=60).map("".join)))
def test_fuzz_loader_random_text(text: str | bytes) -> None:
    _check_loader(text)


@given(st.data())
def test_fuzz_loader_mutated_default(data: st.DataObject) -> None:
    text = DEFAULT_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 20))
        text = text[:pos] + data.draw(st.one_of(YAML_ATOMS, st.text(max_size=8))) + text[pos + cut:]
    _check_loader(text)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True), st.text(max_size=10)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=30)


def _mutate(evidence: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    ev = copy.deepcopy(evidence)
    for _ in range(data.draw(st.integers(1, 5))):
        target = ev
        while True:
            keys = list(target)
            key = data.draw(st.sampled_from(keys)) if keys else "x"
            child = target.get(key)
            if isinstance(child, dict) and child and data.draw(st.booleans()):
                target = child
                continue
            if data.draw(st.booleans()):
                target[key] = data.draw(JSON_VALUES)
            else:
                target.pop(key, None)
            break
    return ev


@given(st.data(), st.sampled_from(["dev", "staging", "production", "", "x\ud800"]),
       st.sampled_from(["low", "high", "critical", ""]))
def test_fuzz_evaluate_never_raises(data: st.DataObject, environment: str, risk_tier: str) -> None:
    evidence = data.draw(st.one_of(JSON_VALUES, st.just(example_evidence()).map(lambda ev: _mutate(ev, data))))
    for policy in (DEFAULT, ROLLBACK):
        result = evaluate(policy, evidence, environment=environment, risk_tier=risk_tier,
                          waivers=[waiver(environment=environment)])
        assert len(result.results) + len(result.skipped) == len(policy.rules)
        json.dumps(result.to_json())
        render_text(result, verbose=True)
        assert isinstance(result.passed, bool)


def test_policy_error_is_an_assay_error() -> None:
    assert issubclass(PolicyError, AssayError) and PolicyError.exit_code == 2
