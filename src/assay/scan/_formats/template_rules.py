"""The names, globals and idioms the chat-template checker judges by (``template_check`` walks the template).

Facts about Jinja 3 and Python that the rules rest on: Jinja's ``obj[key]`` falls back to ``getattr(obj, key)``
when the item lookup fails, and ``obj.name`` falls back to ``obj[name]``; the template globals ``lipsum``,
``cycler``, ``joiner`` and ``namespace`` are Python functions and classes whose ``__globals__`` hold ``os``;
a generator (``x|map(...)``) exposes its frame and so its module's globals without any underscore.
"""

from __future__ import annotations

import re

from jinja2 import nodes
from jinja2.ext import Extension

from assay.scan._findings import Severity

# Names whose lookup is one step from running code: module globals, builtins, class graph, frames.
CRITICAL_NAMES = frozenset({
    "__globals__", "__builtins__", "__subclasses__", "__class__", "__mro__", "__base__", "__bases__", "__init__",
    "__import__", "__code__", "__getattribute__", "__dict__", "__self__", "__func__", "__closure__", "__loader__",
    "__spec__", "__reduce__", "__reduce_ex__", "_TemplateReference__context", "mro", "func_globals", "f_globals",
    "f_builtins", "f_locals", "f_back", "gi_frame", "cr_frame", "ag_frame", "tb_frame", "gi_code", "f_code",
})
# Python 2 and introspection names without underscores that still walk into frames, code or classes.
INTERNAL_NAMES = frozenset({"func_code", "func_closure", "tb_next", "co_code", "co_consts", "im_func", "im_self",
                            "im_class", "gi_yieldfrom", "cr_await", "cr_code", "ag_code"})
# Method names a template has no reason to call: process, code, import and file access.
DANGEROUS_CALLS = frozenset({"getattr", "__getattribute__", "__import__", "popen", "system", "eval", "exec",
                             "execfile", "compile", "import_module", "load_module", "subprocess", "check_output",
                             "check_call", "spawnv", "spawnl", "execv", "execl", "open", "read_text", "write_text",
                             "read_bytes", "write_bytes", "unlink", "rmtree", "setattr", "delattr"})
# Names Jinja itself puts in every template's globals, plus the callables transformers adds, plus ``self``.
TEMPLATE_GLOBALS = frozenset({"range", "dict", "lipsum", "cycler", "joiner", "namespace", "self",
                              "raise_exception", "strftime_now"})
LOOP_NUMBERS = frozenset({"index", "index0", "revindex", "revindex0", "length", "first", "last", "depth", "depth0"})
# Filters that look attributes up by a name given as an argument: (filter, positional index or None).
ATTRIBUTE_FILTERS = {"map": None, "selectattr": 0, "rejectattr": 0, "groupby": 0, "sort": 2, "sum": 0,
                      "unique": 1, "min": 1, "max": 1}
MUTATORS = frozenset({"append", "extend", "insert", "update", "pop", "popitem", "setdefault", "clear", "remove",
                       "sort", "reverse", "add", "discard", "__setitem__", "__delitem__", "__iadd__"})
DUNDER = re.compile(r"__\w+__")
PRIVATE = re.compile(r"_[A-Za-z0-9]\w*")
FORMAT_FIELD_ACCESS = re.compile(r"\{[^{}]*[.\[]")


class GenerationTag(Extension):
    """Parses transformers' ``{% generation %}...{% endgeneration %}`` (assistant-mask markers) as its body."""

    tags = {"generation"}

    def parse(self, parser):  # noqa: ANN001, ANN201 - Jinja's extension interface
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


EXTENSIONS = ("jinja2.ext.loopcontrols", "jinja2.ext.do", GenerationTag)
"""What transformers' chat-template environment parses (loop controls, ``do``, ``generation``)."""


def classify(name: str) -> Severity | None:
    """How bad looking ``name`` up on an object is: CRITICAL, HIGH, or None for an ordinary name."""
    if name in CRITICAL_NAMES:
        return Severity.CRITICAL
    if DUNDER.fullmatch(name) or PRIVATE.fullmatch(name) or name in INTERNAL_NAMES:
        return Severity.HIGH
    return None


def describe(node: nodes.Node, depth: int = 0) -> str:
    """Short Jinja-like text of an expression, for messages."""
    if depth > 6:
        return "..."
    d = depth + 1
    if isinstance(node, nodes.Const):
        return repr(node.value)[:40]
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{describe(node.node, d)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{describe(node.node, d)}[{describe(node.arg, d)}]"
    if isinstance(node, nodes.Slice):
        parts = [describe(p, d) if p is not None else "" for p in (node.start, node.stop, node.step)]
        return ":".join(parts)
    if isinstance(node, nodes.Filter):
        args = ", ".join([describe(a, d) for a in node.args] + [f"{k.key}={describe(k.value, d)}" for k in node.kwargs])
        head = describe(node.node, d) if node.node is not None else ""
        return f"{head}|{node.name}" + (f"({args})" if args else "")
    if isinstance(node, nodes.Call):
        args = ", ".join([describe(a, d) for a in node.args] + [f"{k.key}={describe(k.value, d)}" for k in node.kwargs])
        return f"{describe(node.node, d)}({args})"
    if isinstance(node, nodes.Concat):
        return " ~ ".join(describe(n, d) for n in node.nodes)
    if isinstance(node, nodes.BinExpr):
        return f"{describe(node.left, d)} {node.operator} {describe(node.right, d)}"
    if isinstance(node, nodes.UnaryExpr):
        return f"{node.operator} {describe(node.node, d)}" if node.operator == "not" else f"{node.operator}{describe(node.node, d)}"
    if isinstance(node, nodes.CondExpr):
        other = f" else {describe(node.expr2, d)}" if node.expr2 is not None else ""
        return f"{describe(node.expr1, d)} if {describe(node.test, d)}{other}"
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return "[" + ", ".join(describe(n, d) for n in node.items) + "]"
    return type(node).__name__


def mutates(tree: nodes.Template) -> bool:
    """True when some call could change a list in place (then list literals are not folded)."""
    for call in tree.find_all(nodes.Call):
        callee = call.node
        if isinstance(callee, nodes.Name):
            continue
        if isinstance(callee, nodes.Getattr) and callee.attr not in MUTATORS:
            continue
        return True
    return False


def key_tests(test: nodes.Node, op: str) -> set[tuple[str, str]]:
    """(variable, container) pairs that hold when ``test`` is true: ``k in x`` (op "in") conjuncts, or, with op
    "notin", the pairs that hold when it is false: ``k not in x`` disjuncts."""
    if isinstance(test, nodes.And if op == "in" else nodes.Or):
        return key_tests(test.left, op) | key_tests(test.right, op)
    if isinstance(test, nodes.Not):
        return key_tests(test.node, "notin" if op == "in" else "in")
    if isinstance(test, nodes.Compare) and len(test.ops) == 1 and isinstance(test.expr, nodes.Name):
        if test.ops[0].op == op and is_path(test.ops[0].expr):
            return {(test.expr.name, describe(test.ops[0].expr))}
    return set()


def iterated_keys(node: nodes.For) -> set[tuple[str, str]]:
    """``for k in x``, ``for k, v in x|items``, ``x.items()``, ``x|dictsort``: ``k`` is a key of ``x``."""
    target, source = node.target, node.iter
    if isinstance(target, nodes.Tuple) and target.items:
        target = target.items[0]
        if isinstance(source, nodes.Filter) and source.name in ("items", "dictsort") and source.node is not None:
            source = source.node
        elif isinstance(source, nodes.Call) and isinstance(source.node, nodes.Getattr) and source.node.attr == "items":
            source = source.node.node
        else:
            return set()
    elif isinstance(source, nodes.Call) and isinstance(source.node, nodes.Getattr) and source.node.attr == "keys":
        source = source.node.node
    if not isinstance(target, nodes.Name) or not is_path(source):
        return set()
    return {(target.name, describe(source))}


def is_path(node: nodes.Node) -> bool:
    """A variable or a chain of literal lookups on one (``tool.parameters['x']``): evaluating it twice gives
    the same object, unlike a filter or call that builds a new one (a generator's attributes are its frame)."""
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
            return False
        node = node.node
    return isinstance(node, nodes.Name)


def rebinds(tree: nodes.Template, name: str) -> bool:
    """True when the template itself defines ``name`` (a macro, a set, a loop or import target)."""
    for node in tree.find_all((nodes.Macro, nodes.Name, nodes.FromImport, nodes.Import)):
        if isinstance(node, nodes.Macro) and node.name == name:
            return True
        if isinstance(node, nodes.Name) and node.name == name and node.ctx in ("store", "param"):
            return True
        if isinstance(node, nodes.FromImport) and any((n if isinstance(n, str) else n[-1]) == name for n in node.names):
            return True
        if isinstance(node, nodes.Import) and node.target == name:
            return True
    return False


def raises(body: list[nodes.Node]) -> bool:
    """True when a branch always ends the render with ``raise_exception(...)`` at its top level."""
    for stmt in body:
        if isinstance(stmt, nodes.Output) and any(
                isinstance(n, nodes.Call) and isinstance(n.node, nodes.Name) and n.node.name == "raise_exception"
                for n in stmt.nodes):
            return True
    return False


def called_name(callee: nodes.Node) -> str | None:
    """The method name a call reaches by a literal: ``x.system``, ``x['system']``, ``x|attr('system')``."""
    if isinstance(callee, nodes.Getattr):
        return callee.attr
    if isinstance(callee, nodes.Getitem) and isinstance(callee.arg, nodes.Const) and isinstance(callee.arg.value, str):
        return callee.arg.value
    if isinstance(callee, nodes.Filter) and callee.name == "attr" and callee.args and \
            isinstance(callee.args[0], nodes.Const) and isinstance(callee.args[0].value, str):
        return callee.args[0].value
    return None
