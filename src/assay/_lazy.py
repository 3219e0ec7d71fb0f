"""Names a package exports but imports on first use (PEP 562), so importing the package stays cheap."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each exported name to the private module that
    defines it, relative to the package (``"_store"``), or to ``"module:attribute"`` when the attribute has
    another name there. A name is imported when first asked for and then kept in the package's namespace."""

    def __getattr__(name: str) -> object:
        place = where.get(name)
        if place is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = place.partition(":")
        value = getattr(importlib.import_module(f"{package}.{module}"), attribute or name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
