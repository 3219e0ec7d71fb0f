"""The symbolic values of ``python_symbols``: modules and members by dotted name, namespace dicts, operator
getters; how an attribute of each resolves; which values matter when a name holds many."""

from __future__ import annotations

from assay.scan._formats import python_calls as table
from assay.scan._record import Record


class Sym(Record):
    """A module, a member or an instance (``()`` marks a call result) by dotted name; ``<tuple>`` marks an
    element of a literal tuple or list."""

    path: str


class Ns(Record):
    """A namespace dict: ``vars(os)``, ``os.__dict__``, ``globals()`` (``<module>``), ``sys.modules``."""

    path: str


class NsGet(Record):
    """The bound ``.get`` of a namespace dict."""

    path: str


class Getter(Record):
    """``operator.attrgetter(names)`` (kind ``attr``) or ``operator.methodcaller(name)`` (``method``)."""

    kind: str
    names: tuple[str, ...]


def normalise(path: str) -> str:
    """``posix.system`` -> ``os.system``: one name per module, whatever alias reached it."""
    head, _, rest = path.partition(".")
    head = table.MODULE_ALIASES.get(head, head)
    return f"{head}.{rest}" if rest else head


def interesting(value: object) -> bool:
    """A value worth keeping when a name holds many: a dangerous callable, a dangerous module, a namespace."""
    if not isinstance(value, Sym):
        return True
    path = value.path.removeprefix("<tuple>")
    return path.startswith("builtins.") or path in table.COMPUTED_IS_DANGEROUS or table.classify(path) is not None \
        or path in table.SAFE_WITH


def attribute(value: object, attr: str) -> list[object]:
    """What ``value.attr`` resolves to (empty when unknown)."""
    if isinstance(value, Sym) and not value.path.startswith("<"):
        if attr == "__dict__":
            return [Ns(value.path)]
        if attr == "__builtins__":
            return [Ns("builtins")]
        if value.path == "sys" and attr == "modules":
            return [Ns("<modules>")]
        return [Sym(normalise(f"{value.path}.{attr}"))]
    if isinstance(value, Ns) and attr in ("get", "__getitem__"):
        return [NsGet(value.path)]
    return []
