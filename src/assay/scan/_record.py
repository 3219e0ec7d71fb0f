"""``Record``: the scanner's frozen value classes, declared like frozen dataclasses without ``dataclasses``.

The one exception to "value types are frozen dataclasses", kept for a measured reason and guarded by
``tests/test_architecture.py``: importing ``dataclasses`` imports inspect (with ast, dis and tokenize), and each
frozen dataclass compiles its methods with ``exec`` when its module loads (372 us per class measured with
``time.perf_counter`` over 200 class creations, 2026-12-03). With them, ``assay scan --help`` took 34 ms
against 21 ms without (farm-bench, 15 runs each, medians, 2026-12-03), and that start-up is most of a
typical ``assay scan``, whose target is to beat picklescan on every row of ``benchmarks/scan_bench.py``.
So nothing under ``assay.scan`` imports ``dataclasses``: its values are ``Record`` subclasses, and the pickle
machine's mutable per-opcode state is plain classes with ``__slots__``.

A subclass is declared like a frozen dataclass: annotated fields in order, optional defaults (immutable:
they are shared), docstrings. Type checkers treat it as one (``dataclass_transform``). Instances are
immutable, compare and hash by their fields in order, and print as ``Name(field=value, ...)``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, TypeVar

    from typing_extensions import dataclass_transform

    R = TypeVar("R", bound="Record")
else:
    def dataclass_transform(**_options):  # noqa: ANN001, ANN202 - a marker for type checkers only
        return lambda cls: cls


@dataclass_transform(frozen_default=True)
class Record:
    """Base of frozen value classes: fields come from the subclass's annotations."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name, kind in cls.__dict__.get("__annotations__", {}).items()
               if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]
        cls._fields = (*cls._fields, *(n for n in own if n not in cls._fields))
        cls._defaults = {**cls._defaults, **{n: cls.__dict__[n] for n in own if n in cls.__dict__}}
        cls.__match_args__ = cls._fields  # type: ignore[misc]  # `case Location(path, member, offset)`
        required_after_default = [n for i, n in enumerate(cls._fields)
                                  if n not in cls._defaults and any(m in cls._defaults for m in cls._fields[:i])]
        if required_after_default:
            raise TypeError(f"{cls.__name__}: field {required_after_default[0]!r} without a default follows one with a default")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields, name = self._fields, type(self).__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} positional arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))  # fewer args than fields: the rest by keyword or default
        for key, value in kwargs.items():
            if key not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            if key in values:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            values[key] = value
        if len(values) < len(fields):
            for key in fields:
                if key not in values:
                    if key not in self._defaults:
                        raise TypeError(f"{name}() missing required argument {key!r}")
                    values[key] = self._defaults[key]
        object.__setattr__(self, "__dict__", values)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {key!r} of a frozen {type(self).__name__}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"cannot delete field {key!r} of a frozen {type(self).__name__}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[key] for key in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{k}={self.__dict__[k]!r}' for k in self._fields)})"


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names of a record (or record class), in order."""
    return record._fields  # noqa: SLF001


def replace(record: R, **changes: Any) -> R:
    """A copy of ``record`` with some fields changed (like ``dataclasses.replace``)."""
    return type(record)(**{**record.__dict__, **changes})
