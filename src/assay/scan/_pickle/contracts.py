"""Argument contracts of allow-listed callables that call, construct or import what they are given.

An allow-listed reconstructor is only as safe as its arguments: ``copyreg._reconstructor(cls, base, state)``
calls ``base.__new__(cls)``, ``torch._tensor._rebuild_from_type_v2(func, ...)`` calls ``func``, dill's
``_create_namedtuple`` imports ``modulename.name`` by string. Each such callable declares here which arguments
must themselves be allowed callables (``calls``), which name a module and attribute it imports (``imports``),
and which must be one of a few constants (``choices``). The machine checks them on every call.

``getattr``, ``operator.attrgetter`` and ``operator.methodcaller`` are *resolvers*: called on an imported name
with a constant attribute, they stand for that attribute (``getattr(str, 'split')`` is ``builtins.str.split``),
which is then judged like any name. Protocol 2+ pickles methods this way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from assay.scan._pickle.verdict import identity


class Contract:
    """What one callable does with its arguments (a plain class: start-up cost)."""

    __slots__ = ("name", "calls", "imports", "choices", "state_calls", "resolver", "forwards", "prefix")

    def __init__(self, name: str, calls: tuple[int, ...] = (), imports: tuple[int, int] | None = None,
                 choices: dict[int, frozenset[str]] | None = None, state_calls: tuple[int, ...] = (),
                 resolver: str | None = None, forwards: dict[int, Forward] | None = None, prefix: bool = False):
        self.name = name
        self.calls = calls
        """Positions of arguments that are called or constructed: each must be an allowed imported name."""
        self.imports = imports
        """(module position, attribute position): the callable imports module.attribute by string."""
        self.choices = choices or {}
        """Position -> the only string constants accepted there (another string picks unvetted code)."""
        self.state_calls = state_calls
        """Positions in a BUILD state tuple that are later called (functools.partial's func)."""
        self.resolver = resolver
        """"getattr", "attrgetter" or "methodcaller" for the attribute resolvers."""
        self.forwards = forwards or {}
        """Position of a called argument -> the arguments it is called with, from this call's arguments (None:
        not known here). An allowed callable with a contract of its own passed there is checked with those."""
        self.prefix = prefix
        """The forwarded arguments are only the first ones (a partial is called later with more)."""


Forward = Callable[[tuple[object, ...]], "tuple[object, ...] | None"]


def _rest(items: tuple[object, ...]) -> tuple[object, ...]:
    return items[1:]


def _first(items: tuple[object, ...]) -> tuple[object, ...]:
    return items[:1]


def _star(position: int) -> Forward:
    def forward(items: tuple[object, ...]) -> tuple[object, ...] | None:
        value = items[position] if position < len(items) else None
        return value if isinstance(value, tuple) else None
    return forward


_BIT_GENERATORS = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})
TEXT_CODECS = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "l1", "utf-8", "utf8",
                          "utf_8", "ascii", "us-ascii"})

_CONTRACTS = [
    Contract("builtins.getattr", resolver="getattr"),
    Contract("operator.attrgetter", resolver="attrgetter"),
    Contract("operator.methodcaller", resolver="methodcaller"),
    Contract("copyreg._reconstructor", calls=(0, 1)),
    Contract("copyreg.__newobj__", calls=(0,)),
    Contract("copyreg.__newobj_ex__", calls=(0,)),
    Contract("functools.partial", calls=(0,), state_calls=(0,), forwards={0: _rest}, prefix=True),
    Contract("codecs.encode", choices={1: TEXT_CODECS}),
    Contract("_codecs.encode", choices={1: TEXT_CODECS}),
    Contract("numpy.random._pickle.__bit_generator_ctor", calls=(0,), choices={0: _BIT_GENERATORS}),
    Contract("numpy.random._pickle.__randomstate_ctor", calls=(0, 1), choices={0: _BIT_GENERATORS},
             forwards={1: _first}),
    Contract("numpy.random._pickle.__generator_ctor", calls=(0, 1), choices={0: _BIT_GENERATORS},
             forwards={1: _first}),
    Contract("numpy.core.multiarray._reconstruct", calls=(0,)),
    Contract("numpy.core._internal._reconstruct", calls=(0,)),
    Contract("numpy.ma.core._mareconstruct", calls=(0, 1)),
    Contract("numpy.core._ufunc_reconstruct", imports=(0, 1)),
    Contract("array._array_reconstructor", calls=(0,)),
    Contract("torch._tensor._rebuild_from_type", calls=(0, 1), forwards={0: _star(2)}),
    Contract("torch._tensor._rebuild_from_type_v2", calls=(0, 1), forwards={0: _star(2)}),
    Contract("torch._utils._rebuild_wrapper_subclass", calls=(0,)),
    Contract("dill._dill._create_array", calls=(0,), forwards={0: _star(1)}),
    Contract("dill._dill._create_dtypemeta", calls=(0,)),
    Contract("dill._dill._create_namedtuple", imports=(2, 0)),
    Contract("torch._dynamo.eval_frame.OptimizedModule", calls=(1,)),
    Contract("collections.defaultdict", calls=(0,)),  # the factory runs on any missing key, also while loading
    Contract("pandas.core.indexes.base._new_Index", calls=(0,)),
    Contract("pandas.core.indexes.interval._new_IntervalIndex", calls=(0,)),
    Contract("pandas._libs.internals._unpickle_block", calls=(0,)),
    Contract("torch._dynamo.eval_frame.OptimizeContext", calls=(0,)),
]
CONTRACTS: dict[str, Contract] = {c.name: c for c in _CONTRACTS}
"""Canonical name -> contract."""


@lru_cache(maxsize=65536)
def contract_for(module: str, name: str) -> Contract | None:
    """The contract of ``module.name`` under any spelling the unpickler resolves to the same object."""
    for spelling in identity(module, name):
        contract = CONTRACTS.get(spelling)
        if contract is not None:
            return contract
    if name.startswith("__pyx_unpickle_"):  # Cython's state restorer: Class.__new__(its first argument)
        return _CYTHON
    return None


_CYTHON = Contract("__pyx_unpickle_*", calls=(0,))
