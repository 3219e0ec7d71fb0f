"""Symbolic reading of shipped Python code: what each call reaches, by dotted name, without running it.

Import aliases (``import os as o``, ``from os import system as s``, star imports of dangerous modules),
assignments of callables to names (``e = eval``), ``getattr``/``vars()``/``__dict__``/``globals()``/
``sys.modules`` lookups, ``__import__``/``importlib`` with names folded by ``python_fold``, and
``operator.attrgetter``/``methodcaller`` are followed. The analysis is flow-insensitive: a name holds every
value the module ever assigns to it, so reordering statements cannot hide a call. Every call in the module is
judged (function bodies, class bodies, decorators, lambdas, the top level): importing the module runs the top
level, and the loader then calls into the rest.
"""

from __future__ import annotations

import ast

from assay.scan._findings import Severity
from assay.scan._formats import python_calls as table
from assay.scan._formats.python_ast import enclosing_function, escapes, is_self, names_used, post_order
from assay.scan._formats.python_fold import UNKNOWN, Folder
from assay.scan._formats.python_values import Getter, Ns, NsGet, Sym, attribute, interesting, normalise
from assay.scan._limits import LimitExceeded
from assay.scan._record import Record, replace


class PyCall(Record):
    """One dangerous call (or a dangerous callable passed on) found in the source."""

    line: int
    target: str
    shown: str
    severity: Severity
    what: str
    function: str | None = None
    """The function the call sits in (None at module or class level)."""


_BUILTINS = ("eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "vars", "globals", "locals",
             "open")
_OPENERS = {"builtins.open", "io.open", "codecs.open", "io.FileIO", "os.fdopen", "gzip.open", "bz2.open", "lzma.open"}
_RECEIVER_WRITES = ("write_text", "write_bytes", "unlink", "touch", "symlink_to", "hardlink_to")
_INTERNALS = ("__globals__", "__builtins__")
_MAX_BINDINGS = 8
_BINDERS = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign, ast.For,
            ast.comprehension)
_JUDGED = (ast.Call, ast.Subscript, ast.Attribute, ast.Name)
_DANGEROUS_MEMBERS = table.dangerous_member_names()


def _display(path: str) -> str:
    return path[len("builtins."):] if path.startswith("builtins.") else path


class Analyser:
    """Resolves the names in one parsed module and lists its dangerous calls (``calls``)."""

    def __init__(self, tree: ast.AST):
        self.tree = tree
        self.bindings: dict[str, list[object]] = {}
        self.consts: dict[str, list[object]] = {}
        self.folder = Folder(self.consts, self._dotted_names)
        self.memo: dict[int, tuple[object, ...]] | None = None
        self.calls: list[PyCall] = []
        self.relative_imports: list[str] = []
        self.parents: dict[int, tuple[ast.AST, str]] = {}
        self.dynamic_lookup = False  # getattr with a computed name somewhere: any method may be reached

    # -- bindings ---------------------------------------------------------------------------------------------

    def run(self, max_nodes: int | None = None) -> list[PyCall]:
        """Bind names (twice, so uses above a definition see it), then judge every node. Raise LimitExceeded
        when the module has more than ``max_nodes`` syntax-tree nodes."""
        order, parents = post_order(self.tree)
        if max_nodes is not None and len(order) > max_nodes:
            raise LimitExceeded("max_python_nodes", f"Python source of {len(order)} syntax-tree nodes is larger than "
                                f"max_python_nodes={max_nodes}")
        binders = [n for n in order if isinstance(n, _BINDERS)]
        for _ in range(2):
            for binder in binders:
                self._bind(binder)
        self.memo = {}
        self.parents = parents
        for node in order:
            if isinstance(node, _JUDGED):
                self.resolve(node)  # children first, so resolving a deep expression never recurses deeply
                self._judge(node, parents.get(id(node)))
        if not self.dynamic_lookup:
            self._demote_save_methods(names_used(order))
        return self.calls

    def _demote_save_methods(self, used: set[str]) -> None:
        """File writes inside ``save_*`` methods the module never calls (tokenizers' ``save_vocabulary``) run when
        the user saves, not at load: low. A module that looks names up at run time keeps them high."""
        for i, call in enumerate(self.calls):
            fn = call.function
            if fn and fn.startswith("save") and fn not in used and call.what.startswith(table.WRITE[1]):
                self.calls[i] = replace(call, severity=Severity.LOW, what=f"{call.what} in {fn}(), which runs when "
                                              "the model is saved, not when it loads (nothing here calls it)")

    def _bind_value(self, name: str, value: object, const: bool = False) -> None:
        """Record a value ``name`` may hold. Past the cap a dangerous value replaces a harmless one, and a constant
        that does not fit makes the name unknown (computed), so decoy assignments cannot push the real one out."""
        store = self.consts if const else self.bindings
        values = store.setdefault(name, [])
        if value in values:
            return
        if len(values) < _MAX_BINDINGS:
            values.append(value)
        elif const:
            values[-1] = UNKNOWN
        elif interesting(value):
            spare = next((i for i, v in enumerate(values) if not interesting(v)), None)
            if spare is not None:
                values[spare] = value

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                full = normalise(alias.name)
                self._bind_value(alias.asname or alias.name.split(".")[0], Sym(full if alias.asname else
                                                                               full.split(".")[0]))
        elif isinstance(node, ast.ImportFrom):
            self._bind_from(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                self._assign(target, node.value)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            folded = self.folder.fold(ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value))
            for value in folded or [UNKNOWN]:
                self._bind_value(node.target.id, value, const=True)
        elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            items = self.folder.fold(node.iter)
            for item in (items[0] if items and isinstance(items[0], (list, tuple)) else [UNKNOWN]):
                self._bind_value(node.target.id, item, const=True)
            for value in self._safe_resolve(node.iter):  # ``for f in (os.system,)`` iterates a tuple of names
                if isinstance(value, Sym) and value.path.startswith("<tuple>"):
                    self._bind_value(node.target.id, Sym(value.path[len("<tuple>"):]))

    def _bind_from(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.relative_imports.extend([node.module.split(".")[0]] if node.module else
                                         [a.name for a in node.names])
            return
        module = normalise(node.module or "")
        for alias in node.names:
            if alias.name == "*":
                for name in table.STAR_EXPORTS.get(module, ()):
                    self._bind_value(name, Sym(f"{module}.{name}"))
            else:
                self._bind_value(alias.asname or alias.name, Sym(f"{module}.{alias.name}"))

    def _assign(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, ast.Name):
            for resolved in self._safe_resolve(value):
                self._bind_value(target.id, resolved)
            for folded in self.folder.fold(value) or [UNKNOWN]:
                self._bind_value(target.id, folded, const=True)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._assign(t, v)
            else:
                for t in target.elts:  # ``a, b = pair``: each name may hold any element
                    for item in self._safe_resolve(value):
                        if isinstance(t, ast.Name) and isinstance(item, Sym) and item.path.startswith("<tuple>"):
                            self._bind_value(t.id, Sym(item.path[len("<tuple>"):]))

    def _safe_resolve(self, node: ast.AST) -> tuple[object, ...]:
        try:
            return self.resolve(node)
        except RecursionError:
            return ()

    # -- resolution -------------------------------------------------------------------------------------------

    def _dotted_names(self, node: ast.AST) -> list[str]:
        return [v.path for v in self._safe_resolve(node) if isinstance(v, Sym)]

    def resolve(self, node: ast.AST) -> tuple[object, ...]:
        """The symbolic values ``node`` may evaluate to (empty when unknown or harmless)."""
        if self.memo is not None and id(node) in self.memo:
            return self.memo[id(node)]
        result = tuple(dict.fromkeys(self._resolve(node)))[:_MAX_BINDINGS * 2]
        if self.memo is not None:
            self.memo[id(node)] = result
        return result

    def _resolve(self, node: ast.AST) -> list[object]:
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return [r for v in self.resolve(node.value) for r in attribute(v, node.attr)]
        if isinstance(node, ast.Subscript):
            keys = self.folder.fold(node.slice) or []
            return [r for v in self.resolve(node.value) for k in keys for r in self._item(v, k)]
        if isinstance(node, ast.Call):
            return [r for f in self.resolve(node.func) for r in self._call_result(f, node)]
        if isinstance(node, (ast.Tuple, ast.List)):
            return [Sym("<tuple>" + v.path) for e in node.elts for v in self.resolve(e) if isinstance(v, Sym)]
        if isinstance(node, ast.IfExp):
            return [*self.resolve(node.body), *self.resolve(node.orelse)]
        if isinstance(node, ast.BoolOp):
            return [v for value in node.values for v in self.resolve(value)]
        if isinstance(node, ast.NamedExpr):
            return list(self.resolve(node.value))
        return []

    def _name(self, name: str) -> list[object]:
        values = list(self.bindings.get(name, []))
        if name in _BUILTINS:
            values.append(Sym(f"builtins.{name}"))  # never shadowed: a later ``def eval`` does not hide an earlier call
        elif name == "__builtins__":
            values.append(Sym("builtins"))
        return values

    def _item(self, container: object, key: object) -> list[object]:
        if isinstance(container, Sym) and container.path.startswith("<tuple>") and isinstance(key, int):
            return [Sym(container.path[len("<tuple>"):])]  # any element: the index is not tracked
        if not isinstance(key, str):
            return []
        if isinstance(container, Ns) and container.path == "<modules>":
            return [Sym(normalise(key))]
        if isinstance(container, Ns) and container.path == "<module>":
            return self._name(key)
        if isinstance(container, Ns) or container == Sym("builtins"):
            return [Sym(normalise(f"{container.path}.{key}"))]  # type: ignore[union-attr,attr-defined]
        return []

    def _call_result(self, func: object, call: ast.Call) -> list[object]:
        args = call.args
        if isinstance(func, NsGet) and args:
            return [r for k in self.folder.fold(args[0]) or [] if isinstance(k, str) for r in self._item(Ns(func.path), k)]
        if isinstance(func, Getter) and func.kind == "attr" and args:
            return [r for obj in self.resolve(args[0]) for n in func.names for r in attribute(obj, n)]
        if not isinstance(func, Sym):
            return []
        path = func.path
        if path == "builtins.getattr" and len(args) >= 2:
            names = self.folder.fold(args[1]) or []
            return [r for obj in self.resolve(args[0]) for n in names if isinstance(n, str) for r in attribute(obj, n)]
        if path == "builtins.vars":
            return [Ns(o.path) for o in self.resolve(args[0]) if isinstance(o, Sym)] if args else [Ns("<module>")]
        if path in ("builtins.globals", "builtins.locals"):
            return [Ns("<module>")]
        if path in table.IMPORTERS:
            return self._imported(path, call)
        if path in ("operator.attrgetter", "operator.methodcaller") and args:
            names = self.folder.fold(args[0]) or []
            kind = "attr" if path == "operator.attrgetter" else "method"
            return [Getter(kind, tuple(n for n in names if isinstance(n, str)))]
        if path.startswith("<tuple>") or path.startswith("builtins."):
            return []
        return [Sym(path + "()")]

    def _imported(self, path: str, call: ast.Call) -> list[object]:
        arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
        out: list[object] = []
        for name in self.folder.fold(arg) or []:
            if isinstance(name, str) and name and not name.startswith("."):
                out.append(Sym(normalise(name)))
                if path != "importlib.import_module":
                    out.append(Sym(normalise(name.split(".")[0])))  # __import__('a.b') returns a
        return out

    # -- judgement --------------------------------------------------------------------------------------------

    def _add(self, node: ast.AST, target: str, severity: Severity, what: str, source: ast.AST | None = None) -> None:
        shown = _display(target)
        try:
            text = ast.unparse(source or node)
        except (RecursionError, ValueError, AttributeError):
            text = shown
        if text != shown:  # say how the name was reached when the source spells it otherwise
            what += f" (reached as {text[:60]}{'...' if len(text) > 60 else ''})"
        self.calls.append(PyCall(getattr(node, "lineno", 0), shown, shown, severity, what,
                                 enclosing_function(node, self.parents)))

    def _judge(self, node: ast.AST, parent: tuple[ast.AST, str] | None) -> None:
        if isinstance(node, ast.Call):
            self._judge_call(node)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            self._judge_lookup(node)
        elif isinstance(node, ast.Attribute) and node.attr in _INTERNALS:
            self._add(node, f"<object>.{node.attr}", Severity.HIGH, "reaches interpreter internals (globals, builtins)",
                      node)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)) and escapes(node, parent):
            for value in self.resolve(node):
                if isinstance(value, Sym) and "()" not in value.path and not value.path.startswith("<"):
                    verdict = None if value.path in _OPENERS else self._verdict(value.path, None)
                    if verdict and not value.path.rsplit(".", 1)[-1].isupper():
                        self._add(node, value.path, verdict[0], verdict[1] + " (passed on as a callable)", node)

    def _judge_call(self, call: ast.Call) -> None:
        for func in self.resolve(call.func):
            if isinstance(func, Sym):
                verdict = self._verdict(func.path, call)
                if verdict:
                    self._add(call, func.path, verdict[0], verdict[1], call.func)
                self._judge_special(func.path, call)
            elif isinstance(func, Getter) and func.kind == "method" and call.args:
                for obj in self.resolve(call.args[0]):
                    for name in func.names:
                        for target in attribute(obj, name):
                            if isinstance(target, Sym) and (verdict := self._verdict(target.path, None)):
                                self._add(call, target.path, verdict[0], verdict[1], call.func)
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _RECEIVER_WRITES and not is_self(func.value):
            if not any(isinstance(f, Sym) and self._verdict(f.path, call) for f in self.resolve(func)):
                self._add(call, f"<object>.{func.attr}", *table.WRITE, func)

    def _judge_special(self, path: str, call: ast.Call) -> None:
        """Calls whose danger depends on a name they compute: getattr, setattr, importers, operator getters."""
        args = call.args
        if path in ("builtins.getattr", "builtins.setattr", "builtins.delattr") and len(args) >= 2:
            names = self.folder.fold(args[1])
            self.dynamic_lookup = self.dynamic_lookup or (names is None and is_self(args[0]))  # reaches methods
            for obj in self.resolve(args[0]):
                if not isinstance(obj, Sym) or obj.path not in table.COMPUTED_IS_DANGEROUS:
                    continue
                if path != "builtins.getattr":
                    self._add(call, f"{obj.path}.<attribute>", Severity.HIGH, f"changes the module {obj.path}")
                elif names is None:
                    self._add(call, f"{obj.path}.<computed>", Severity.HIGH,
                              f"reaches a member of {obj.path} whose name is computed at run time")
        elif path in table.IMPORTERS:
            arg = args[0] if args else next((k.value for k in call.keywords if k.arg == "name"), None)
            if arg is not None and self.folder.fold(arg) is None:
                self._add(call, f"{path}(<computed>)", Severity.HIGH, "imports a module whose name is computed")
        elif path in ("operator.methodcaller", "operator.attrgetter") and args:
            names = self.folder.fold(args[0])
            if names is None and path == "operator.methodcaller":
                self._add(call, f"{path}(<computed>)", Severity.HIGH, "calls a method whose name is computed")
            for name in names or []:
                if isinstance(name, str) and name.split(".")[-1] in _DANGEROUS_MEMBERS:
                    self._add(call, f"{path}({name!r})", Severity.CRITICAL if "method" in path else Severity.HIGH,
                              f"reaches a member named {name!r} on whatever object it is given")

    def _judge_lookup(self, node: ast.Subscript) -> None:
        containers = [c for c in self.resolve(node.value) if isinstance(c, Ns) or c == Sym("builtins")]
        if containers and self.folder.fold(node.slice) is None:
            where = containers[0].path  # type: ignore[union-attr,attr-defined]
            self._add(node, f"{where}[<computed>]", Severity.HIGH,
                      f"looks up a name in {where} that is computed at run time")

    def _verdict(self, path: str, call: ast.Call | None) -> tuple[Severity, str] | None:
        if path in table.SAFE_WITH:
            if call is None:
                return None if path in table.SAFE_BY_DEFAULT else table.DESERIALISE
            return None if self._made_safe(path, call) else table.DESERIALISE
        if path in _OPENERS:
            return self._opener_verdict(path, call) if call is not None else None
        if path == "os.open" and call is not None:
            flags = call.args[1] if len(call.args) > 1 else None
            reads = flags is None or (isinstance(flags, ast.Attribute) and flags.attr == "O_RDONLY")
            return None if reads else table.WRITE
        return table.classify(path)

    def _made_safe(self, path: str, call: ast.Call) -> bool:
        keyword, safe_values = table.SAFE_WITH[path]
        node = next((k.value for k in call.keywords if k.arg == keyword), None)
        if node is None and path == "yaml.load" and len(call.args) > 1:
            node = call.args[1]
        if node is None:
            return path in table.SAFE_BY_DEFAULT
        folded = self.folder.fold(node)
        if folded is not None:
            return all(v in safe_values for v in folded)
        return any(isinstance(v, Sym) and v.path in safe_values for v in self.resolve(node))

    def _opener_verdict(self, path: str, call: ast.Call) -> tuple[Severity, str] | None:
        index = 0 if path == "os.fdopen" else 1
        mode = call.args[index] if len(call.args) > index else next(
            (k.value for k in call.keywords if k.arg == "mode"), None)
        if mode is None:
            return None
        folded = self.folder.fold(mode)
        if folded is None:
            return (Severity.HIGH, "opens a file with a mode computed at run time (it may write)")
        writes = any(not isinstance(m, str) or any(c in m for c in "wax+") for m in folded)
        return table.WRITE if writes else None
