"""``assay.record.Record``: the scanner's frozen value classes behave like frozen dataclasses."""

from __future__ import annotations

import pytest

from assay.record import Record, fields, replace
from assay.scan.findings import Location


class Point(Record):
    """A test record."""

    x: int
    y: int = 0
    label: str | None = None


def test_construction_defaults_and_keywords() -> None:
    assert Point(1) == Point(x=1, y=0, label=None)
    assert Point(1, 2, "a").label == "a"
    assert repr(Point(1, label="a")) == "Point(x=1, y=0, label='a')"
    match Point(3, 4):
        case Point(x, y, label):
            assert (x, y, label) == (3, 4, None)
        case _:
            raise AssertionError("positional pattern did not match")
    assert fields(Point) == ("x", "y", "label")


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((), {}, "missing required argument 'x'"),
    ((1, 2, "a", 4), {}, "takes 3 positional arguments but 4 were given"),
    ((1,), {"x": 2}, "multiple values for argument 'x'"),
    ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
])
def test_bad_arguments_are_type_errors(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_frozen_equal_and_hashable() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y  # type: ignore[misc]
    assert p == Point(1, 2) and p != Point(2, 1) and p != (1, 2, None)
    assert len({p, Point(1, 2), Point(1, 3)}) == 2
    assert Location("a") != Point(1)  # another class never compares equal


def test_replace_keeps_the_rest() -> None:
    p = Point(1, 2, "a")
    q = replace(p, y=5)
    assert q == Point(1, 5, "a") and p.y == 2


def test_a_required_field_after_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(Record):  # noqa: F841
            a: int = 1
            b: int
