"""Symbolic evaluation of a parsed Jinja chat template: every way its expressions can reach Python internals.

The checker walks statements in order with an environment of abstract values (``template_fold``), so a name
built at render time (``'__cla' ~ 'ss__'``, ``'ssalc__'|reverse``, ``{% set x = ... %}``, a namespace
attribute, a loop over literals) is known before it is used. Every attribute or item lookup, every
attribute-taking filter and every call is judged (``template_rules``): a dunder, private or frame-walking name is
reported, and so is any name that cannot be folded to a literal (caller data such as ``messages`` is attacker
data too) unless it can only be a number. Attribute access on template globals (``lipsum``, ``cycler``,
``namespace`` ...) is reported whatever the name, since their ``__globals__`` are one step away.
"""

from __future__ import annotations

import operator
from typing import cast

from jinja2 import nodes

from assay.scan._findings import Severity
from assay.scan._formats.template_fold import (
    BINARY_OPS,
    DATA,
    NUM,
    NUMBER_FILTERS,
    STRING_FILTERS,
    STRING_METHODS,
    KList,
    Val,
    concat,
    elements,
    join,
    known,
    lift,
)
from assay.scan._formats.template_rules import (
    ATTRIBUTE_FILTERS,
    CRITICAL_NAMES,
    DANGEROUS_CALLS,
    DUNDER,
    EXTENSIONS,
    FORMAT_FIELD_ACCESS,
    LOOP_NUMBERS,
    TEMPLATE_GLOBALS,
    called_name,
    classify,
    describe,
    iterated_keys,
    key_tests,
    mutates,
    raises,
    rebinds,
)

__all__ = ["EXTENSIONS", "BudgetExceeded", "TemplateChecker", "classify"]


class BudgetExceeded(Exception):
    """The template needs more evaluation steps than ``max_template_steps`` allows."""


class _Env:
    """Variables in scope, and attributes of the namespaces the template made (those outlive scopes)."""

    __slots__ = ("vars", "ns", "guards")

    def __init__(self, variables: dict[str, Val] | None = None, ns: dict[tuple[str, str], Val] | None = None,
                 guards: frozenset[tuple[str, str]] = frozenset()):
        self.vars = variables or {}
        self.ns = ns or {}
        self.guards = guards
        """(variable, container text) pairs where the variable is known to be a key of that container."""

    def copy(self) -> _Env:
        return _Env(dict(self.vars), dict(self.ns), self.guards)

    def guarded(self, extra: set[tuple[str, str]]) -> _Env:
        """A copy in which ``extra`` keys are also known to be in their containers."""
        inner = self.copy()
        inner.guards = self.guards | extra
        return inner

    def absorb(self, others: list[_Env], scoped: bool) -> None:
        """Merge the states after alternative branches; ``scoped`` keeps only namespace attributes."""
        if not scoped:
            self.guards = frozenset.intersection(*(o.guards for o in others)) if others else self.guards
        for field in (("ns",) if scoped else ("vars", "ns")):
            mine = getattr(self, field)
            keys = set().union(*(getattr(o, field) for o in others))
            for key in keys:
                value = None
                for state in others:
                    v = getattr(state, field).get(key, DATA)
                    value = v if value is None else join(value, v)
                mine[key] = value if value is not None else DATA


class TemplateChecker:
    """Evaluate one parsed template symbolically; ``problems`` maps each reason to its severity."""

    def __init__(self, tree: nodes.Template, max_steps: int):
        self.tree = tree
        self.max_steps = max_steps
        self.steps = 0
        self.problems: dict[str, Severity] = {}
        self.fold_lists = not mutates(tree)
        # A branch calling raise_exception ends the render only if the template did not define the name itself
        # (a no-op macro of that name would let the branch's assignments through).
        self.trust_raise = not rebinds(tree, "raise_exception")

    def run(self) -> dict[str, Severity]:
        """Check the whole template; raise BudgetExceeded past ``max_steps``."""
        self.body(self.tree.body, _Env())
        return self.problems

    def report(self, severity: Severity, reason: str) -> None:
        if severity > self.problems.get(reason, Severity.INFO):
            self.problems[reason] = severity

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise BudgetExceeded(f"more than {self.max_steps} evaluation steps")

    # ---- statements -------------------------------------------------------------------------------------------

    def body(self, stmts: list[nodes.Node], env: _Env) -> None:
        for stmt in stmts:
            self.stmt(stmt, env)

    def stmt(self, node: nodes.Node, env: _Env) -> None:
        self.tick()
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                self.ev(child, env)
        elif isinstance(node, nodes.Assign):
            self.assign(node.target, self.ev(node.node, env), env)
        elif isinstance(node, nodes.AssignBlock):
            inner = env.copy()
            self.body(node.body, inner)
            env.absorb([env, inner], scoped=True)
            value = self.block_text(node.body, env)
            if node.filter is not None:
                value = self.filter(node.filter, env, value)
            self.assign(node.target, value, env)
        elif isinstance(node, nodes.If):
            self.branches(node, env)
        elif isinstance(node, nodes.For):
            self.loop(node, env)
        elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
            self.callable_body(node, env)
        elif isinstance(node, nodes.With):
            inner = env.copy()
            for target, expr in zip(node.targets, node.values, strict=False):
                self.assign(target, self.ev(expr, env), inner)
            self.body(node.body, inner)
            env.absorb([env, inner], scoped=True)
        elif isinstance(node, nodes.FilterBlock):
            inner = env.copy()
            self.body(node.body, inner)
            env.absorb([env, inner], scoped=True)
            self.filter(node.filter, env, DATA)
        elif isinstance(node, nodes.ExprStmt):
            self.ev(node.node, env)
        elif isinstance(node, (nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)):
            self.ev(node.template, env)
            for name in ([node.target] if isinstance(node, nodes.Import) else
                         [n if isinstance(n, str) else n[-1] for n in getattr(node, "names", [])]):
                self.check_variable(name)
                env.vars[name] = DATA
        else:
            self.generic(node, env)

    def generic(self, node: nodes.Node, env: _Env) -> Val:
        """Any other node: check what it contains; its value is opaque."""
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Expr):
                self.ev(child, env)
            else:
                self.stmt(child, env)
        return DATA

    def block_text(self, stmts: list[nodes.Node], env: _Env) -> Val:
        """What ``{% set x %}...{% endset %}`` captures, when it is plain output of known strings."""
        parts: list[Val] = []
        for stmt in stmts:
            if not isinstance(stmt, nodes.Output):
                return DATA
            parts.extend(self.ev(child, env) for child in stmt.nodes)
        return concat(parts)

    def branches(self, node: nodes.If, env: _Env) -> None:
        """``if``/``elif``/``else``: each branch from the state before, merged after; a branch that always
        raises (``raise_exception``) does not continue, and a failed ``key in x`` test guards what follows."""
        outcomes: list[_Env] = []
        current: nodes.If | None = node
        rest = env
        while current is not None:
            self.ev(current.test, rest)
            branch = rest.guarded(key_tests(current.test, "in"))
            self.body(current.body, branch)
            if not (self.trust_raise and raises(current.body)):
                outcomes.append(branch)
            rest = rest.guarded(key_tests(current.test, "notin"))
            elifs = list(current.elif_)
            if elifs:
                current = nodes.If(elifs[0].test, elifs[0].body, elifs[1:], current.else_)
                continue
            rest = rest.copy()
            if current.else_:
                self.body(current.else_, rest)
            if not (current.else_ and self.trust_raise and raises(current.else_)):
                outcomes.append(rest)
            current = None
        if not outcomes:  # every branch raises: nothing after this renders
            outcomes = [env.copy()]
        env.absorb(outcomes, scoped=False)

    def loop(self, node: nodes.For, env: _Env) -> None:
        element = elements(self.ev(node.iter, env))
        for attempt in range(4):
            inner = env.copy()
            self.assign(node.target, element, inner)
            inner.guards = inner.guards | iterated_keys(node)
            inner.vars["loop"] = Val(kind="loop")
            if node.test is not None:
                self.ev(node.test, inner)
            self.body(node.body, inner)
            before = dict(env.ns)
            env.absorb([env, inner], scoped=True)
            if env.ns == before:
                break
            if attempt == 2:  # not settling: whatever still changes may be anything
                env.ns.update({k: DATA for k, v in env.ns.items() if before.get(k) != v})
        if node.else_:
            inner = env.copy()
            self.body(node.else_, inner)
            env.absorb([env, inner], scoped=True)

    def callable_body(self, node: nodes.Macro | nodes.CallBlock, env: _Env) -> None:
        if isinstance(node, nodes.CallBlock):
            self.ev(node.call, env)
        inner = env.copy()
        for default in node.defaults:
            self.ev(default, env)
        for arg in node.args:
            self.assign(arg, DATA, inner)
        inner.vars.update({"caller": DATA, "varargs": DATA, "kwargs": DATA})
        self.body(node.body, inner)
        env.absorb([env, inner], scoped=True)
        if isinstance(node, nodes.Macro):
            self.check_variable(node.name)
            env.vars[node.name] = DATA

    def assign(self, target: nodes.Node, value: Val, env: _Env) -> None:
        if isinstance(target, nodes.Name):
            self.check_variable(target.name)
            env.vars[target.name] = value
            env.guards = frozenset(g for g in env.guards if g[0] != target.name)
        elif isinstance(target, nodes.Tuple):
            for i, item in enumerate(target.items):
                self.assign(item, lift(lambda v, i=i: v[i] if isinstance(v, tuple) else None, value)
                            if value.known else DATA, env)
        elif isinstance(target, nodes.NSRef):
            self.check_variable(target.name)
            self.check_name(known(target.attr), f"{target.name}.{target.attr}", "namespace attribute")
            holder = env.vars.get(target.name, DATA)
            if holder.kind == "ns":
                env.ns[(holder.name, target.attr)] = value
        else:
            self.generic(target, env)

    # ---- expressions ------------------------------------------------------------------------------------------

    def ev(self, node: nodes.Node, env: _Env) -> Val:
        """The abstract value of an expression, judging every lookup in it."""
        self.tick()
        if isinstance(node, nodes.Const):
            return known(node.value) if isinstance(node.value, (str, int, float, bool, type(None))) else DATA
        if isinstance(node, nodes.TemplateData):
            return known(node.data)
        if isinstance(node, nodes.Name):
            return self.name(node.name, env)
        if isinstance(node, (nodes.Tuple, nodes.List)):
            items = [self.ev(item, env) for item in node.items]
            if isinstance(node, nodes.List) and not self.fold_lists:
                return DATA
            make = KList if isinstance(node, nodes.List) else tuple
            return lift(lambda *xs: make(xs), *items) if items else known(make())
        if isinstance(node, nodes.Concat):
            return concat([self.ev(n, env) for n in node.nodes])
        if isinstance(node, (nodes.And, nodes.Or)):
            return join(self.ev(node.left, env), self.ev(node.right, env))
        if isinstance(node, nodes.BinExpr):
            return self.binary(node, env)
        if isinstance(node, nodes.UnaryExpr):
            value = self.ev(node.node, env)
            if isinstance(node, nodes.Not):
                return NUM
            folded = lift(operator.neg if isinstance(node, nodes.Neg) else operator.pos, value)
            return folded if folded.known else NUM if value.numeric else DATA
        if isinstance(node, (nodes.Compare, nodes.Test)):
            self.generic(node, env)
            return NUM
        if isinstance(node, nodes.CondExpr):
            self.ev(node.test, env)
            yes, no = env.guarded(key_tests(node.test, "in")), env.guarded(key_tests(node.test, "notin"))
            other = self.ev(node.expr2, no) if node.expr2 is not None else DATA
            return join(self.ev(node.expr1, yes), other)
        if isinstance(node, nodes.Getattr):
            return self.lookup(self.ev(node.node, env), known(node.attr), node.attr, "attribute", env)
        if isinstance(node, nodes.Getitem):
            return self.item(node, env)
        if isinstance(node, nodes.Filter):
            return self.filter(node, env, None)
        if isinstance(node, nodes.Call):
            return self.call(node, env)
        if isinstance(node, (nodes.MarkSafe, nodes.MarkSafeIfAutoescape)):
            return self.ev(node.expr, env)
        return self.generic(node, env)

    def name(self, name: str, env: _Env) -> Val:
        self.check_variable(name)
        if name in env.vars:
            return env.vars[name]
        if name in TEMPLATE_GLOBALS:
            return Val(kind="global", name=name)
        return DATA  # caller data: messages, tools, bos_token ... (attacker-controlled)

    def binary(self, node: nodes.BinExpr, env: _Env) -> Val:
        left, right = self.ev(node.left, env), self.ev(node.right, env)
        result = lift(BINARY_OPS[type(node).__name__], left, right) if type(node).__name__ in BINARY_OPS else DATA
        if not result.known and left.numeric and right.numeric:
            return NUM
        return result

    def item(self, node: nodes.Getitem, env: _Env) -> Val:
        obj = self.ev(node.node, env)
        if isinstance(node.arg, nodes.Slice):
            bounds = [self.ev(p, env) if p is not None else known(None) for p in (node.arg.start, node.arg.stop, node.arg.step)]
            if obj.kind == "global":
                self.report(Severity.HIGH, f"slice of template global {obj.name}")
            return lift(lambda o, a, b, c: o[a:b:c] if isinstance(o, (str, tuple)) else None, obj, *bounds)
        key = self.ev(node.arg, env)
        if isinstance(node.arg, nodes.Name) and (node.arg.name, describe(node.node)) in env.guards:
            # The key was taken from this container or tested to be in it: the container's own __getitem__
            # answers, and Jinja never falls back to getattr.
            return DATA
        return self.lookup(obj, key, describe(node.arg), "item", env)

    def lookup(self, obj: Val, key: Val, text: str, how: str, env: _Env) -> Val:
        """``obj.key`` / ``obj[key]`` / ``obj|attr(key)``: judge the name, then fold what it yields."""
        self.check_name(key, text, how)
        if obj.kind == "global":
            self.report(Severity.HIGH, f"{how} {text} of template global {obj.name} (its __globals__ are one step away)")
        if not (key.known and len(key.choices) == 1):  # type: ignore[arg-type]
            return DATA
        (k,) = key.choices  # type: ignore[misc]
        if obj.kind == "ns" and isinstance(k, str):
            return env.ns.get((obj.name, k), DATA)
        if obj.kind == "loop":
            return NUM if k in LOOP_NUMBERS else DATA
        if obj.known and how != "item" and k in STRING_METHODS and all(isinstance(c, str) for c in obj.choices):  # type: ignore[union-attr]
            return Val(kind="method", name=str(k), receiver=obj)
        if obj.known and how == "item" and isinstance(k, int) and not isinstance(k, bool):
            return lift(lambda o: o[k] if isinstance(o, (str, tuple)) else None, obj)
        return DATA

    def filter(self, node: nodes.Filter, env: _Env, piped: Val | None) -> Val:
        value = self.ev(node.node, env) if node.node is not None else (piped or DATA)
        args = [self.ev(a, env) for a in node.args]
        # jinja2 annotates a filter's kwargs as Pair nodes, but its parser builds Keyword nodes (string keys)
        kwargs = {k.key: self.ev(k.value, env) for k in cast("list[nodes.Keyword]", node.kwargs)}
        unpacked = [self.ev(n, env) for n in (node.dyn_args, node.dyn_kwargs) if n is not None]
        if node.name == "attr":
            if unpacked or not args:
                self.report(Severity.HIGH, f"|attr() with arguments unpacked at render time ({describe(node)})")
                return DATA
            return self.lookup(value, args[0], describe(node.args[0]), "|attr()", env)
        self.attribute_filter(node.name, args, kwargs, bool(unpacked), node)
        if node.name in STRING_FILTERS and not kwargs and not unpacked:
            return lift(STRING_FILTERS[node.name], value, *args)
        if node.name in NUMBER_FILTERS:
            return NUM
        return DATA

    def attribute_filter(self, name: str, args: list[Val], kwargs: dict[str, Val], unpacked: bool,
                         node: nodes.Node) -> None:
        """Filters that look attributes up by name (``map(attribute=)``, ``selectattr``, ``groupby`` ...)."""
        if name not in ATTRIBUTE_FILTERS:
            return
        text = describe(node)
        if unpacked:
            self.report(Severity.HIGH, f"|{name}() with arguments unpacked at render time ({text})")
        position = ATTRIBUTE_FILTERS[name]
        attribute = kwargs.get("attribute")
        if attribute is None and position is not None and len(args) > position:
            attribute = args[position]
        if attribute is not None:
            self.check_dotted(attribute, text, f"|{name}(attribute=...)")
        elif name == "map" and args:
            self.mapped_filter(args, kwargs, text)

    def mapped_filter(self, args: list[Val], kwargs: dict[str, Val], text: str) -> None:
        """``map('filter', ...)`` applies another filter to each item: judge that one."""
        if not args[0].known:
            self.report(Severity.HIGH, f"|map() with a filter name computed at render time ({text})")
            return
        for fname in args[0].choices:  # type: ignore[union-attr]
            if fname == "attr":
                self.check_name(args[1] if len(args) > 1 else DATA, text, "|map('attr')")
            elif isinstance(fname, str) and fname != "map":
                self.attribute_filter(fname, args[1:], kwargs, False, nodes.Const(text))

    def call(self, node: nodes.Call, env: _Env) -> Val:
        callee = self.ev(node.node, env)
        args = [self.ev(a, env) for a in node.args]
        kwargs = {k.key: self.ev(k.value, env) for k in node.kwargs}
        unpacked = [self.ev(n, env) for n in (node.dyn_args, node.dyn_kwargs) if n is not None]
        text = describe(node)
        called = called_name(node.node)
        if called in DANGEROUS_CALLS:
            self.report(Severity.CRITICAL, f"call of .{called}() ({text})")
        if called in ("format", "format_map") and isinstance(node.node, (nodes.Getattr, nodes.Getitem, nodes.Filter)):
            self.format_call(env, node.node, text)  # called_name() names only these
        for arg in [*args, *kwargs.values()]:
            for choice in arg.choices or ():
                if isinstance(choice, str) and (DUNDER.fullmatch(choice) or choice in CRITICAL_NAMES):
                    self.report(classify(choice) or Severity.HIGH, f"call with the name {choice!r} as an argument ({text})")
        if callee.kind == "global" and callee.name == "namespace":
            return self.namespace(node, kwargs, env)
        if callee.kind == "global" and callee.name == "range":
            return Val(kind="range")
        if callee.kind == "method" and callee.receiver is not None and not kwargs and not unpacked:
            return lift(STRING_METHODS[callee.name], callee.receiver, *args)
        return DATA

    def format_call(self, env: _Env, callee: nodes.Getattr | nodes.Getitem | nodes.Filter, text: str) -> None:
        """``'{0.__class__}'.format(x)`` looks attributes up by names inside the format string."""
        # a filter that is called (``x|attr('format')``) always has its operand; only filter blocks have none
        receiver = self.ev(cast(nodes.Expr, callee.node), env)
        if not receiver.known:
            self.report(Severity.HIGH, f"str.format on a string computed at render time ({text})")
        elif any(isinstance(c, str) and FORMAT_FIELD_ACCESS.search(c) for c in receiver.choices):  # type: ignore[union-attr]
            self.report(Severity.HIGH, f"str.format with attribute or item fields ({text})")

    def namespace(self, node: nodes.Call, kwargs: dict[str, Val], env: _Env) -> Val:
        ident = f"ns{id(node)}"
        for key, value in kwargs.items():
            self.check_name(known(key), key, "namespace attribute")
            env.ns[(ident, key)] = value
        return Val(kind="ns", name=ident)

    # ---- judging names ----------------------------------------------------------------------------------------

    def check_variable(self, name: str) -> None:
        """A dunder or name-mangled variable (``__builtins__``, ``_TemplateReference__context``); plain private
        names such as ``_args`` are ordinary Jinja variables (real templates use them)."""
        if DUNDER.fullmatch(name) or "__" in name.strip("_") or name.startswith("__"):
            self.report(classify(name) or Severity.HIGH, f"variable {name}")

    def check_name(self, key: Val, text: str, how: str) -> None:
        """Report a looked-up name that is internal, or that may be anything."""
        if key.numeric:
            return
        if not key.known:
            self.report(Severity.HIGH, f"{how} with a name computed at render time ({text})")
            return
        for choice in key.choices:  # type: ignore[union-attr]
            severity = classify(choice) if isinstance(choice, str) else None
            if severity is not None:
                built = "" if text in (choice, repr(choice)) else f", built by {text}"
                self.report(severity, f"{how} {choice}{built}")

    def check_dotted(self, key: Val, text: str, how: str) -> None:
        """Attribute names of filters may be dotted paths (``a.b.0``): judge every step."""
        if key.known:
            parts = [p for c in key.choices if isinstance(c, str) for p in c.split(".")]  # type: ignore[union-attr]
            self.check_name(known(*parts) if parts else key, text, how)
        else:
            self.check_name(key, text, how)
