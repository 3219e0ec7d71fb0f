"""What the machine does when an allowed callable calls, constructs or imports its arguments.

The contracts themselves (which argument is called, imported, or limited to a few constants) are data in
``contracts.py``; these functions check them on every call, resolve ``getattr``/``attrgetter``/
``methodcaller`` to the attribute they name, and report what cannot be vouched for (AS103).
"""

from __future__ import annotations

from assay.scan._findings import Severity
from assay.scan._pickle.contracts import TEXT_CODECS, Contract
from assay.scan._pickle.values import Bytes, Map, Obj, Opaque, Ref, render
from assay.scan._pickle.verdict import is_importable_name, python3_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from assay.scan._pickle.vm import Machine, Use

_COMPUTED = (Obj, Opaque)


def _built_by_allowed(value: Obj) -> bool:
    """True when ``value`` is what an allowed callable built, and that callable does not hand back other code
    (a resolver or a by-string importer returns whatever it reached, so its result is never vouched for)."""
    callee = value.callee
    if not isinstance(callee, Ref) or callee.verdict.kind != "safe":
        return False
    return callee.contract is None or (callee.contract.resolver is None and callee.contract.imports is None)


_NEWOBJ_HELPERS = frozenset({"copyreg.__newobj__", "copyreg.__newobj_ex__", "copyreg._reconstructor"})


def _instance_class(value: Obj) -> Ref | None:
    """The allowed class ``value`` is an instance of, when the opcode that built it says so: NEWOBJ builds
    ``cls.__new__(cls)``, and so do copyreg's helpers for their first argument. A method looked up on such an
    instance (``getattr(obj, 'm')``, a bound method pickled by protocol 2+) is then the class's ``Class.m``."""
    callee = value.callee
    if not isinstance(callee, Ref) or callee.verdict.kind != "safe":
        return None
    if value.how in ("NEWOBJ", "NEWOBJ_EX"):
        return callee
    if callee.verdict.canonical in _NEWOBJ_HELPERS or python3_name(callee.module, callee.name) in (
            ("copyreg", "__newobj__"), ("copyreg", "_reconstructor")):
        first = value.args[0] if isinstance(value.args, tuple) and value.args else None
        if isinstance(first, Ref) and first.verdict.kind == "safe":
            return first
    return None


def _state_may_set(state: object, attr: str) -> bool:
    """Whether a BUILD state (a dict, or a (dict, slot dict) pair) may give the instance attribute ``attr``."""
    if state is None:
        return False
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    for part in parts:
        if part is None:
            continue
        if not isinstance(part, Map) or part.count != len(part.pairs) or \
                any(not isinstance(key, str) or key == attr for key, _ in part.pairs):
            return True
    return False


def computed_call(m: Machine, message: str) -> None:
    """Report a call of a value the pickle computed (AS103)."""
    m.sink.add("AS103", Severity.HIGH, message, m.op_start, "only a callable built by an earlier call can "
            "be called here; benign pickles call imported names only")


def apply_contract(m: Machine, contract: Contract, use: Use, args: object, how: str) -> Ref | Bytes | None:
    """Check what an allowed callable does with its arguments; return what the call stands for when the scan can
    know it: the Ref a getattr names, the bytes codecs.encode makes. None: the call's result is an Obj."""
    items = args if isinstance(args, tuple) else ()
    if contract.resolver == "getattr":
        ref = getattr_target(m, items[0], items[1]) if len(items) in (2, 3) else None
        if ref is None:
            use.unresolved += 1
        else:
            use.resolved += 1
        return ref
    if contract.resolver is not None:  # attrgetter/methodcaller: judged when the object they build is called
        return None
    if not isinstance(args, tuple):
        # The argument tuple itself was computed (builtins.tuple([...]) ...): what the callable is given to call
        # or import cannot be checked, so it is not vouched for.
        computed_call(m, f"{contract.name} is called with arguments computed while loading ({render(args)}); "
                      f"it calls or imports what it is given")
        return None
    for position in contract.calls:
        if position < len(items):
            check_callable(m, contract, position, items[position])
            _check_forwarded(m, contract, position, items)
    for position, allowed in contract.choices.items():
        value = items[position] if position < len(items) else None
        if isinstance(value, str) and value not in allowed:
            m.sink.add("AS103", Severity.HIGH, f"{contract.name} is given {value!r} as argument {position}, "
                       f"which selects code outside the few values real files use ({', '.join(sorted(allowed))})",
                       m.op_start)
    if contract.name.endswith("codecs.encode") and items and isinstance(items[0], str):
        # Protocol 2 writes bytes as codecs.encode(text, 'latin1'): the result is those bytes, and a deserializer
        # given them (torch.storage._load_from_bytes) has its payload scanned like any bytes argument.
        codec = items[1] if len(items) > 1 else "utf-8"
        try:
            data = items[0].encode(codec if isinstance(codec, str) and codec in TEXT_CODECS else "latin-1")
        except (UnicodeError, LookupError):
            return None
        if len(data) <= m.limits.max_inline_bytes:
            return Bytes(data, len(data), m.op_start)
        return None
    if contract.imports is not None:
        module_at, name_at = contract.imports
        if max(module_at, name_at) < len(items):
            module, name = items[module_at], items[name_at]
            if isinstance(module, str) and isinstance(name, str) and not is_importable_name(module, name):
                return None  # the loader's import fails here
            if isinstance(module, (str, Obj, Ref, Opaque)) and isinstance(name, (str, Obj, Ref, Opaque)):
                m.resolve(module, name, f"{contract.name}()")
    return None


def _check_forwarded(m: Machine, contract: Contract, position: int, items: tuple[object, ...]) -> None:
    """An allowed callable handed to another one that calls it: its own contract applies to the arguments the
    outer one passes on (``partial(f, *args)`` calls ``f(*args)``); where those cannot be known, it blocks."""
    inner = items[position]
    if not isinstance(inner, Ref) or inner.contract is None or inner.contract.resolver is not None:
        return  # resolvers are counted unresolved by check_callable, and blocked there
    forward = contract.forwards.get(position)
    passed = forward(items) if forward is not None else None
    if passed is None:
        computed_call(m, f"{contract.name} calls {inner.canonical} with arguments the scan cannot see; "
                      f"{inner.canonical} calls or imports what it is given")
        return
    needed = max((*inner.contract.calls, *(inner.contract.imports or ()), *inner.contract.choices), default=-1)
    if contract.prefix and needed >= len(passed):
        # partial(f, a) is called later with more arguments: the ones f calls or imports are not known here
        computed_call(m, f"{contract.name} binds {inner.canonical} without the arguments it calls or imports "
                      f"(argument {needed}); they are supplied later, where the scan cannot see them")
        return
    use = m.state.uses.get(inner.verdict.canonical)
    if use is not None:
        apply_contract(m, inner.contract, use, passed, f"{contract.name}()")


def check_callable(m: Machine, contract: Contract, position: int, value: object) -> None:
    """An argument the callable calls or constructs must be an allowed imported name (or a plain constant)."""
    if isinstance(value, Ref):
        use = m.state.uses.get(value.verdict.canonical)
        if value.contract is not None and value.contract.resolver is not None and use is not None:
            use.unresolved += 1  # a resolver handed to code that calls it: no longer a known attribute
        if value.verdict.kind == "safe":
            return
        what = f"{value.canonical}, which is not on the allow-list"
    elif isinstance(value, Obj) and _built_by_allowed(value):
        return  # an instance of an allowed class (or a partial of an allowed function): not a way to new code
    elif isinstance(value, _COMPUTED):
        what = f"a value computed while loading ({render(value)})"
    else:
        return  # a constant: calling it fails in the loader, or it is one of the contract's choices
    m.sink.add("AS103", Severity.HIGH, f"{contract.name} calls or constructs its argument {position}: {what}",
               m.op_start, "an allowed reconstructor is only as safe as what it is given to call")


def getattr_target(m: Machine, target: object, attr: object) -> Ref | None:
    """``getattr(imported, 'constant')`` as the name it reaches, judged like any import; None if unknown."""
    if isinstance(target, Obj):
        # An attribute its state may have set shadows the class's own (BUILD fills the instance __dict__)
        target = _instance_class(target) if isinstance(attr, str) and not _state_may_set(target.state, attr) else None
    if not isinstance(target, Ref) or not isinstance(attr, str) or not attr.isidentifier():
        return None
    module, name = python3_name(target.module, target.name)
    return m.resolve(module, f"{name}.{attr}", "getattr()")


def call_resolver_object(m: Machine, resolver: Obj, args: object, obj: Obj) -> object | None:
    """Calling ``attrgetter('a')`` or ``methodcaller('m', ...)`` on an imported name."""
    maker = resolver.callee
    assert isinstance(maker, Ref) and maker.contract is not None
    use = m.state.uses[maker.verdict.canonical]
    names = resolver.args if isinstance(resolver.args, tuple) else ()
    target = args[0] if isinstance(args, tuple) and len(args) == 1 else None
    attrs = names[:1] if maker.contract.resolver == "methodcaller" else names
    refs: list[Ref] = []
    if attrs and isinstance(target, Ref) and all(isinstance(a, str) for a in attrs):
        for attr in attrs:
            current: Ref | None = target
            for part in str(attr).split("."):
                current = getattr_target(m, current, part) if current is not None else None
            if current is None:
                break
            refs.append(current)
    if not attrs or len(refs) != len(attrs):
        use.unresolved += 1
        computed_call(m, f"calls {render(resolver)} on {render(target)}, whose attribute cannot be known")
        return None
    use.resolved += 1
    if maker.contract.resolver == "methodcaller":
        return m.call(refs[0], tuple(names[1:]), "methodcaller")
    return refs[0] if len(refs) == 1 else Opaque("attributes")


# Attributes the unpickler itself looks up on an instance and calls: BUILD calls ``inst.__setstate__``, APPEND
# and APPENDS call ``append``/``extend`` on anything that is not a list, ADDITEMS ``add``. An instance dict that
# holds one of them turns the next such opcode into a call of whatever the state put there.
# Only these: special methods are looked up on the type, so other dunder keys (__module__, __wrapped__ that
# functools.wraps copies) are plain data.
_CALLED_BY_THE_LOADER = frozenset({"__setstate__", "append", "extend", "add"})


def check_state(m: Machine, inst: Obj, state: object) -> None:
    """What a BUILD state makes the loader call: functools.partial's function and the arguments it binds, and
    methods the unpickler looks up on the instance (a dict key such as ``__setstate__`` or ``append``)."""
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    for part in parts:
        if isinstance(part, Map):
            for key, value in part.pairs:
                if isinstance(key, str) and key in _CALLED_BY_THE_LOADER and isinstance(value, (Ref, Obj, Opaque)):
                    computed_call(m, f"BUILD sets the instance attribute {key!r}, which the loader looks up and calls "
                                  f"on the next BUILD or APPEND ({render(inst)})")
    callee = inst.callee
    if isinstance(callee, Ref) and callee.contract is not None and callee.contract.state_calls:
        items = state if isinstance(state, tuple) else ()
        for position in callee.contract.state_calls:
            if position < len(items):
                check_callable(m, callee.contract, position, items[position])
                bound = items[position + 1] if position + 1 < len(items) else ()
                if isinstance(bound, tuple):  # partial's state: (func, args, kwds, dict)
                    _check_forwarded(m, callee.contract, 0, (items[position], *bound))
