"""AST helpers for ``python_symbols``: a non-recursive post-order walk with parents, which values escape,
which receivers are the object itself, and which function a node sits in."""

from __future__ import annotations

import ast


def is_self(node: ast.AST) -> bool:
    """True for ``self``/``cls`` and attributes of them (the object's own methods)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def escapes(node: ast.AST, parent: tuple[ast.AST, str] | None) -> bool:
    """True when the value of ``node`` is handed on (an argument, a container element, a decorator, a default)
    rather than called here, dereferenced further, or bound to a plain name (names are followed)."""
    if parent is None or not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        return False
    owner, field = parent
    if (isinstance(owner, ast.Call) and field == "func") or field == "value" and isinstance(
            owner, (ast.Attribute, ast.Subscript, ast.NamedExpr, ast.Expr)):
        return False
    if isinstance(owner, (ast.Assign, ast.AnnAssign)) and field == "value":
        targets = owner.targets if isinstance(owner, ast.Assign) else [owner.target]
        return not all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in targets)
    return True


def post_order(tree: ast.AST) -> tuple[list[ast.AST], dict[int, tuple[ast.AST, str]]]:
    """Every node, children before parents (without recursion: deep expressions would exhaust the Python
    stack), and each node's (parent, field)."""
    out: list[ast.AST] = []
    parents: dict[int, tuple[ast.AST, str]] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        stack.append((node, True))
        children = []
        for field in node._fields:
            value = getattr(node, field, None)
            for child in value if isinstance(value, list) else (value,):
                if isinstance(child, ast.AST):
                    parents[id(child)] = (node, field)
                    children.append(child)
        stack.extend((child, False) for child in reversed(children))
    return out, parents


def enclosing_function(node: ast.AST, parents: dict[int, tuple[ast.AST, str]]) -> str | None:
    """The name of the innermost function that holds ``node`` (None at module or class level)."""
    current = parents.get(id(node))
    while current is not None:
        owner = current[0]
        if isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return owner.name
        current = parents.get(id(owner))
    return None


def names_used(order: list[ast.AST]) -> set[str]:
    """Every name the module reads, every attribute it touches and every string constant it holds: a function
    whose name is none of these is never called by the module itself."""
    used: set[str] = set()
    for node in order:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            used.add(node.value)
    return used
