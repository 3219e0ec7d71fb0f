"""YAML policy files -> :class:`Policy`, with every error reported as ``FILE:LINE: reason``.

The file is composed (not constructed) with PyYAML's safe loader so each node keeps its position,
then checked node by node. Every CEL expression is compiled here, once, so a syntax error or an
unknown variable surfaces when the policy is loaded rather than when a release is gated.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import cel
import yaml

from .interface import SEVERITIES, Policy, PolicyError, PolicyLimits, Rule
from .template import template_problem

VARIABLES: tuple[str, ...] = ("evidence", "environment", "risk_tier", "now")
"""The variables a rule expression may use (see ``schema.py``)."""
RULE_KEYS: tuple[str, ...] = ("id", "description", "severity", "environments", "risk_tiers", "expr", "message",
                             "waivable")
REQUIRED_RULE_KEYS: tuple[str, ...] = ("id", "description", "severity", "expr")
TOP_KEYS: tuple[str, ...] = ("version", "description", "rules")
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
MAX_ID_CHARS = 64
"""Longest rule id accepted."""

_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
# Names a comprehension macro binds (``e`` in ``evidence.evals.all(e, e.passed)``); Program.variables()
# reports them as variables too, so they are allowed in the unknown-variable check.
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,")
_NON_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)
# CEL type names (``type(x) == string``) are identifiers too.
_TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"})


def load_policy(path: str | Path, *, limits: PolicyLimits | None = None) -> Policy:
    """Read and check the policy file at ``path``; raise :class:`PolicyError` (``FILE:LINE: reason``)."""
    limits = limits or PolicyLimits()
    path = Path(path)
    from assay._files import read_prefix
    from assay.errors import InputError

    try:  # one byte more than the limit is read, so parse_policy names the limit
        data = read_prefix(path, limits.max_bytes + 1, "policy file")
    except InputError as exc:
        raise PolicyError(f"{path}:0: cannot read policy file: {exc}") from None
    return parse_policy(data, str(path), limits=limits)


def load_default_policy(*, limits: PolicyLimits | None = None) -> Policy:
    """The release-gate policy shipped with assay (``default.yaml`` beside this module)."""
    return _packaged("default.yaml", limits)


def load_rollback_policy(*, limits: PolicyLimits | None = None) -> Policy:
    """The rollback policy shipped with assay (``rollback.yaml``): is the target still safe to return to?"""
    return _packaged("rollback.yaml", limits)


def _packaged(name: str, limits: PolicyLimits | None) -> Policy:
    data = resources.files(__package__).joinpath(name).read_bytes()
    return parse_policy(data, f"assay:{name}", limits=limits)


def parse_policy(source: bytes | str, name: str = "<policy>", *, limits: PolicyLimits | None = None) -> Policy:
    """Check policy text (``name`` is what errors call the file) and return the :class:`Policy`."""
    limits = limits or PolicyLimits()
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else bytes(source)
    if len(data) > limits.max_bytes:
        raise PolicyError(f"{name}:1: policy file is larger than the limit of {limits.max_bytes} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(f"{name}:{line}: policy file is not valid UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PolicyError(f"{name}:{line}: invalid YAML: {_one_line(exc.problem or exc.context or 'syntax error')}") \
            from None
    except yaml.YAMLError as exc:  # ReaderError (control characters) has a position but no mark
        position = getattr(exc, "position", None)
        line = text[:position].count("\n") + 1 if isinstance(position, int) else 1
        raise PolicyError(f"{name}:{line}: invalid YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise PolicyError(f"{name}:1: invalid YAML: nested too deeply") from None
    return _Checker(name, limits).policy(root, text.encode("utf-8", "surrogatepass"))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


class _Checker:
    """Walks the composed node tree; each check raises PolicyError at the offending node's line."""

    def __init__(self, name: str, limits: PolicyLimits) -> None:
        self.name = name
        self.limits = limits

    def fail(self, node: yaml.Node | None, reason: str) -> PolicyError:
        line = node.start_mark.line + 1 if node is not None and node.start_mark is not None else 1
        return PolicyError(f"{self.name}:{line}: {reason}")

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != _STR:
                raise self.fail(key, f"{what} has a key that is not a string")
            if key.value not in allowed:
                raise self.fail(key, f"unknown key '{_one_line(key.value, 60)}' in {what} "
                                     f"(allowed: {', '.join(allowed)})")
            if key.value in out:
                raise self.fail(key, f"duplicate key '{key.value}' in {what}")
            out[key.value] = (key, value)
        return out

    def string(self, node: yaml.Node, what: str, max_chars: int) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.fail(node, f"{what} must be a string")
        if not node.value.strip():
            raise self.fail(node, f"{what} must not be empty")
        if len(node.value) > max_chars:
            raise self.fail(node, f"{what} is longer than the limit of {max_chars} characters")
        return node.value

    def strings(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list of strings")
        if not node.value:
            raise self.fail(node, f"{what} must list at least one value (leave the key out to mean all)")
        return tuple(self.string(item, f"each of {what}", MAX_ID_CHARS) for item in node.value)

    def policy(self, root: yaml.Node | None, canonical: bytes) -> Policy:
        if root is None:
            raise PolicyError(f"{self.name}:1: policy file is empty")
        top = self.mapping(root, "policy", TOP_KEYS)
        if "version" not in top:
            raise self.fail(root, "policy needs 'version: 1'")
        _, vnode = top["version"]
        if not isinstance(vnode, yaml.ScalarNode) or vnode.tag != _INT or vnode.value not in ("1",):
            raise self.fail(vnode, f"unsupported policy version (supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
        if "description" in top:
            self.string(top["description"][1], "policy description", self.limits.max_text_chars)
        if "rules" not in top:
            raise self.fail(root, "policy has no 'rules'")
        rkey, rnode = top["rules"]
        if not isinstance(rnode, yaml.SequenceNode):
            raise self.fail(rnode if not _is_null(rnode) else rkey, "rules must be a list of rules")
        if not rnode.value:
            raise self.fail(rnode, "policy has no rules")
        if len(rnode.value) > self.limits.max_rules:
            raise self.fail(rnode, f"policy has {len(rnode.value)} rules, "
                                   f"more than the limit of {self.limits.max_rules}")
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for node in rnode.value:
            rule = self.rule(node)
            if rule.id in seen:
                raise self.fail(node, f"duplicate rule id '{rule.id}' (first at line {seen[rule.id]})")
            seen[rule.id] = rule.line
            rules.append(rule)
        return Policy(name=self.name, version=1, rules=tuple(rules), source=canonical, limits=self.limits)

    def rule(self, node: yaml.Node) -> Rule:
        fields = self.mapping(node, "rule", RULE_KEYS)
        for key in REQUIRED_RULE_KEYS:
            if key not in fields:
                raise self.fail(node, f"rule is missing '{key}'")
        id_node = fields["id"][1]
        rule_id = self.string(id_node, "rule id", MAX_ID_CHARS)
        if not _ID.match(rule_id):
            raise self.fail(id_node, f"bad rule id '{_one_line(rule_id, 60)}': use lowercase letters, digits and '-'")
        what = f"rule '{rule_id}'"
        description = self.string(fields["description"][1], f"{what} description", self.limits.max_text_chars)
        sev_node = fields["severity"][1]
        severity = self.string(sev_node, f"{what} severity", 16)
        if severity not in SEVERITIES:
            raise self.fail(sev_node, f"bad severity '{severity}' in {what} (use deny or warn)")
        environments = self.strings(fields["environments"][1], f"{what} environments") \
            if "environments" in fields else None
        risk_tiers = self.strings(fields["risk_tiers"][1], f"{what} risk_tiers") if "risk_tiers" in fields else None
        message = None
        if "message" in fields:
            message = self.string(fields["message"][1], f"{what} message", self.limits.max_text_chars)
            problem = template_problem(message)
            if problem:
                raise self.fail(fields["message"][1], f"{what}: {problem}")
        waivable = True
        if "waivable" in fields:
            flag = fields["waivable"][1]
            if not isinstance(flag, yaml.ScalarNode) or flag.tag != "tag:yaml.org,2002:bool":
                raise self.fail(flag, f"{what} waivable must be true or false")
            waivable = flag.value.lower() in ("true", "yes", "on")
        expr_node = fields["expr"][1]
        expr = self.string(expr_node, f"{what} expr", self.limits.max_expression_chars)
        program = self.compile(expr, expr_node, what)
        return Rule(id=rule_id, description=description, severity=severity,  # type: ignore[arg-type]
                    expr=expr, environments=environments, risk_tiers=risk_tiers, message=message,
                    waivable=waivable, line=node.start_mark.line + 1, program=program)

    def compile(self, expr: str, node: yaml.Node, what: str) -> object:
        try:
            program = cel.compile(expr)
            names = program.variables()
        except _NON_FATAL:
            raise
        except BaseException as exc:  # noqa: BLE001 - the native parser may panic; any failure is a bad expression
            raise self.fail(node, f"{what} expr does not compile: {_cel_reason(exc)}") from None
        unknown = sorted(set(names) - set(VARIABLES) - _TYPE_NAMES - set(_BOUND.findall(expr)))
        if unknown:
            raise self.fail(node, f"{what} expr uses unknown variable '{unknown[0]}' (known: {', '.join(VARIABLES)})")
        return program


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _cel_reason(exc: BaseException) -> str:
    # The binding's message repeats the source and draws a caret under it over several lines;
    # the "ERROR: <input>:L:C: reason" line is the part worth one line.
    for line in str(exc).splitlines():
        if "ERROR:" in line:
            return _one_line(line.split("ERROR:", 1)[1].replace("<input>:", "at "))
    return _one_line(str(exc) or type(exc).__name__)
