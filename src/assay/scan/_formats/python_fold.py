"""Constant folding of string expressions in shipped Python code, never by running it.

``'sys' + 'tem'``, ``f"{a}{b}"``, ``'%s' % x``, ``'{}'.format(x)``, ``''.join([...])``, ``s[::-1]``,
``bytes([...]).decode()``, ``chr(115) + ...``, base64 and rot13 are evaluated over constants, so that
``getattr(os, <folded>)`` names what it reaches. Every operation is bounded (results stay small; codecs are
an allow-list), so folding hostile input cannot hang or exhaust memory. A value that cannot be folded is
``None``: the caller treats it as computed.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import itertools
import re
from collections.abc import Callable

MAX_TEXT = 10_000  # longest folded string or bytes; longer ones are "computed"
MAX_CHOICES = 16  # possible values of one expression (a name assigned several constants)
_CODECS = {"utf-8", "utf8", "ascii", "latin-1", "latin1", "utf-16", "utf-16-le", "utf-16-be", "utf-7", "cp1252",
           "rot13", "rot_13", "hex", "hex_codec", "base64", "base64_codec", "unicode_escape", "raw_unicode_escape"}
_STR_METHODS = {"lower", "upper", "strip", "lstrip", "rstrip", "swapcase", "title", "capitalize", "casefold"}
_B64: dict[str, Callable[[str | bytes], bytes]] = {
    "b64decode": base64.b64decode, "b32decode": base64.b32decode, "b16decode": base64.b16decode,
    "urlsafe_b64decode": base64.urlsafe_b64decode, "b85decode": base64.b85decode, "a85decode": base64.a85decode}
_WIDE_FORMAT = re.compile(r"\d{5,}|\*")  # widths that would build huge strings
_ERRORS = (ValueError, TypeError, OverflowError, LookupError, ArithmeticError, AttributeError, binascii.Error,
           MemoryError, RecursionError)

UNKNOWN = object()  # a name also holds a value that does not fold: it is computed


def _small(value: object) -> bool:
    if isinstance(value, (str, bytes)):
        return len(value) <= MAX_TEXT
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() <= 256
    if isinstance(value, (tuple, list)):
        return len(value) <= MAX_TEXT and all(_small(v) for v in value)
    return value is None or isinstance(value, (bool, float, slice))


def _choices(values: list[object]) -> list[object] | None:
    out: list[object] = []
    for value in values:
        if not _small(value):
            return None
        if value not in out:
            out.append(value)
    return out[:MAX_CHOICES] if out else None


class Folder:
    """Folds expressions against the constants the module assigns (``consts``: name -> possible values)."""

    def __init__(self, consts: dict[str, list[object]], resolve_name: object = None):
        self.consts = consts
        self.resolve_name = resolve_name  # callable(node) -> dotted names, to recognise base64.b64decode etc.

    def fold(self, node: ast.AST | None, local: dict[str, object] | None = None) -> list[object] | None:
        """Possible constant values of ``node``, or None when it cannot be folded."""
        if node is None:
            return None
        try:
            return self._fold(node, local or {})
        except _ERRORS:
            return None

    def fold_one(self, node: ast.AST | None) -> object | None:
        """The value of ``node`` when it folds to exactly one constant."""
        values = self.fold(node)
        return values[0] if values and len(values) == 1 else None

    def _fold(self, node: ast.AST, local: dict[str, object]) -> list[object] | None:
        if isinstance(node, ast.Constant):
            return _choices([node.value])
        if isinstance(node, ast.Name):
            if node.id in local:
                return [local[node.id]]
            return _choices(list(self.consts.get(node.id, [])))
        if isinstance(node, (ast.Tuple, ast.List)):
            return self._product([self._fold(e, local) for e in node.elts], lambda *xs: list(xs))
        if isinstance(node, ast.BinOp):
            return self._product([self._fold(node.left, local), self._fold(node.right, local)],
                                 lambda a, b: _binop(node.op, a, b))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
            return self._product([self._fold(node.operand, local)], lambda v: _unary(node.op, v))
        if isinstance(node, ast.JoinedStr):
            return self._product([self._fold(v, local) for v in node.values], lambda *xs: "".join(map(str, xs)))
        if isinstance(node, ast.FormattedValue):
            if node.format_spec is not None:
                return None
            return self._product([self._fold(node.value, local)], lambda v: _convert(v, node.conversion))
        if isinstance(node, ast.Subscript):
            return self._product([self._fold(node.value, local), self._slice(node.slice, local)],
                                 lambda v, k: v[k])
        if isinstance(node, ast.IfExp):
            body, orelse = self._fold(node.body, local), self._fold(node.orelse, local)
            return _choices((body or []) + (orelse or [])) if body or orelse else None
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self._comprehension(node, local)
        if isinstance(node, ast.Call):
            return self._call(node, local)
        return None

    def _slice(self, node: ast.AST, local: dict[str, object]) -> list[object] | None:
        if isinstance(node, ast.Slice):
            parts: list[list[object] | None] = [[None] if p is None else self._fold(p, local)
                                                for p in (node.lower, node.upper, node.step)]
            return self._product(parts, lambda a, b, c: slice(a, b, c))
        return self._fold(node, local)

    def _product(self, parts: list[list[object] | None], combine: Callable[..., object]) -> list[object] | None:
        if any(p is None for p in parts):
            return None
        out = []
        for combo in itertools.islice(itertools.product(*parts), MAX_CHOICES * 4):  # type: ignore[arg-type]
            out.append(combine(*combo))
        return _choices(out)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp, local: dict[str, object]) -> list[object] | None:
        if len(node.generators) != 1:
            return None
        gen = node.generators[0]
        if gen.ifs or not isinstance(gen.target, ast.Name):
            return None
        name = gen.target.id
        source = self._fold(gen.iter, local)
        if source is None or len(source) != 1 or not isinstance(source[0], (str, bytes, list, tuple)):
            return None
        items = []
        for item in source[0]:
            value = self._fold(node.elt, {**local, name: item})
            if value is None or len(value) != 1:
                return None
            items.append(value[0])
        return _choices([items])

    def _call(self, node: ast.Call, local: dict[str, object]) -> list[object] | None:
        if node.keywords:
            return self._call_with_keywords(node, local)
        args = [self._fold(a, local) for a in node.args]
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("chr", "str", "bytes", "bytearray", "reversed", "list",
                                                      "tuple", "ord", "int"):
            return self._product(args, lambda *xs: _builtin(func.id, xs))
        if isinstance(func, ast.Name) and func.id == "map" and len(node.args) == 2:
            fn = node.args[0]
            if isinstance(fn, ast.Name) and fn.id in ("chr", "str"):
                return self._product(args[1:], lambda xs: [_builtin(fn.id, (x,)) for x in xs])
            return None
        if not isinstance(func, ast.Attribute):
            return None
        dotted = self._dotted(func)
        if dotted in {f"base64.{n}" for n in _B64} and len(args) == 1:
            return self._product(args, lambda x: _B64[dotted.rsplit(".", 1)[1]](x))
        if dotted in ("codecs.decode", "codecs.encode") and len(args) == 2:
            return self._product(args, lambda x, enc: _codec(dotted, x, enc))
        if dotted == "bytes.fromhex" and len(args) == 1:
            return self._product(args, bytes.fromhex)
        receiver = self._fold(func.value, local)
        return self._product([receiver, *args], lambda r, *xs: _method(r, func.attr, xs))

    def _call_with_keywords(self, node: ast.Call, local: dict[str, object]) -> list[object] | None:
        """Only ``str.format(**)`` and ``.decode(encoding=...)`` take keywords here."""
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("format", "decode", "encode"):
            return None
        names = [k.arg for k in node.keywords if k.arg is not None]
        if len(names) != len(node.keywords):  # a **mapping argument
            return None
        parts = [self._fold(func.value, local)] + [self._fold(a, local) for a in node.args]
        parts += [self._fold(k.value, local) for k in node.keywords]
        positional = len(node.args)

        def combine(receiver: object, *values: object) -> object:
            kwargs = dict(zip(names, values[positional:], strict=True))
            return _method(receiver, func.attr, values[:positional], kwargs)

        return self._product(parts, combine)

    def _dotted(self, node: ast.AST) -> str:
        if self.resolve_name is not None:
            names = self.resolve_name(node)  # type: ignore[operator]
            if names:
                return names[0]
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _binop(op: ast.operator, a: object, b: object) -> object:
    if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (str, bytes, int, list, tuple)):
        return a + b  # type: ignore[operator]
    if isinstance(op, ast.Mult):
        if isinstance(a, int) and isinstance(b, (str, bytes, list, tuple)):
            a, b = b, a
        if isinstance(a, (str, bytes, list, tuple)) and isinstance(b, int) and len(a) * max(b, 0) <= MAX_TEXT:
            return a * b
        if isinstance(a, int) and isinstance(b, int):
            return a * b
    if isinstance(op, ast.Mod) and isinstance(a, (str, bytes)) and not _WIDE_FORMAT.search(str(a)):
        return a % (tuple(b) if isinstance(b, list) else b)  # type: ignore[operator]
    if isinstance(op, ast.Sub) and isinstance(a, int) and isinstance(b, int):
        return a - b
    raise TypeError("not folded")


def _unary(op: ast.unaryop, value: object) -> object:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not folded")
    return -value if isinstance(op, ast.USub) else ~value if isinstance(op, ast.Invert) else value


def _convert(value: object, conversion: int) -> str:
    if conversion == ord("r"):
        return repr(value)
    if conversion == ord("a"):
        return ascii(value)
    return str(value)


def _builtin(name: str, args: tuple[object, ...]) -> object:
    if name == "chr" and len(args) == 1 and isinstance(args[0], int):
        return chr(args[0])
    if name == "ord" and len(args) == 1 and isinstance(args[0], str):
        return ord(args[0])
    if name == "int" and len(args) == 1 and isinstance(args[0], str) and len(args[0]) < 40:
        return int(args[0])
    if name == "int" and len(args) == 2 and isinstance(args[0], str) and len(args[0]) < 40 and isinstance(args[1], int):
        return int(args[0], args[1])  # a base of another type raises TypeError there too: not folded either way
    if name == "str" and len(args) == 1 and isinstance(args[0], (str, int)):
        return str(args[0])
    if name == "str" and len(args) == 2 and isinstance(args[0], bytes) and args[1] in _CODECS:
        return str(args[0], args[1])  # type: ignore[arg-type]
    if name in ("bytes", "bytearray") and len(args) == 1 and isinstance(args[0], (list, tuple, bytes)):
        return bytes(args[0])  # an int argument (a size) is refused: bytes(10**12) would allocate it
    if name in ("bytes", "bytearray") and len(args) == 2 and isinstance(args[0], str) and args[1] in _CODECS:
        return args[0].encode(args[1])  # type: ignore[arg-type]
    if name == "reversed" and len(args) == 1 and isinstance(args[0], (str, bytes, list, tuple)):
        return list(reversed(args[0]))
    if name in ("list", "tuple") and len(args) == 1 and isinstance(args[0], (str, bytes, list, tuple)):
        return list(args[0])
    raise TypeError("not folded")


def _codec(dotted: str, value: object, encoding: object) -> object:
    if not isinstance(encoding, str) or encoding.lower() not in _CODECS:
        raise TypeError("codec not allowed")
    # which value types a codec takes depends on the codec, chosen at run time from _CODECS; a value it refuses
    # raises TypeError, and the caller treats that as not folded
    return codecs.decode(value, encoding) if dotted.endswith("decode") else codecs.encode(value, encoding)  # type: ignore[call-overload]


def _method(receiver: object, name: str, args: tuple[object, ...], kwargs: dict[str, object] | None = None) -> object:
    kwargs = kwargs or {}
    if isinstance(receiver, (str, bytes)):
        if name == "join" and len(args) == 1 and isinstance(args[0], (list, tuple)):
            return receiver.join(args[0])  # type: ignore[arg-type]
        if name in _STR_METHODS and not args and not kwargs:
            return getattr(receiver, name)()
        if name == "replace" and len(args) == 2 and len(receiver) * max(1, len(args[1])) <= MAX_TEXT * 10:  # type: ignore[arg-type]
            return receiver.replace(*args)  # type: ignore[arg-type]
        if name == "format" and isinstance(receiver, str) and not _WIDE_FORMAT.search(receiver) and "." not in receiver \
                and "[" not in receiver and all(isinstance(a, (str, int)) for a in (*args, *kwargs.values())):
            return receiver.format(*args, **kwargs)
        if name in ("decode", "encode") and len(args) + len(kwargs) <= 1:
            encoding = args[0] if args else kwargs.get("encoding", "utf-8")
            if isinstance(encoding, str) and encoding.lower() in _CODECS:
                if name == "decode" and isinstance(receiver, bytes):
                    return receiver.decode(encoding)
                if name == "encode" and isinstance(receiver, str):
                    return receiver.encode(encoding)
        if name == "split" and not kwargs and len(args) <= 1:
            return receiver.split(*args)  # type: ignore[arg-type]
    raise TypeError("not folded")
