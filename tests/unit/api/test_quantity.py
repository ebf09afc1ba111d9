"""Kubernetes quantity parsing, against resource.Quantity's semantics."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtkube.api.quantity import QuantityError, parse_quantity, to_bytes, to_millicores


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (0, 0),
        (2, 2),
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("1024M", 1024 * 10**6),
        ("1k", 1000),
        ("1Ki", 1024),
        ("2Ti", 2 * 2**40),
        ("1E", 10**18),
        ("1Ei", 2**60),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1.5e-3", Fraction(3, 2000)),
        ("100m", Fraction(1, 10)),
        ("500u", Fraction(1, 2000)),
        ("5n", Fraction(5, 10**9)),
        (".5", Fraction(1, 2)),
        ("5.", 5),
        ("+3", 3),
        ("-1Mi", -(2**20)),
    ],
)
def test_parse(quantity: int | str, expected: Fraction | int) -> None:
    assert parse_quantity(quantity) == expected


@pytest.mark.parametrize("bad", ["", "Mi", "1 Gi", "1gi", "1.2.3", "1e", "1KiB", "0x10", "one"])
def test_reject(bad: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(bad)


def test_reject_bool() -> None:
    with pytest.raises(QuantityError):
        parse_quantity(True)


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("128Mi", 134217728), ("1024M", 1024000000), ("1.5", 2), ("100m", 1), (512, 512)],
)
def test_to_bytes_rounds_up(quantity: int | str, expected: int) -> None:
    assert to_bytes(quantity) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [("100m", 100), (1, 1000), ("2", 2000), ("0.5", 500), ("1500u", 2), ("250m", 250)],
)
def test_to_millicores_rounds_up(quantity: int | str, expected: int) -> None:
    assert to_millicores(quantity) == expected


@given(st.integers(min_value=0, max_value=2**40), st.sampled_from(["", "k", "Ki", "M", "Mi", "Gi"]))
def test_suffix_multiplies(number: int, suffix: str) -> None:
    factor = {"": 1, "k": 1000, "Ki": 1024, "M": 10**6, "Mi": 2**20, "Gi": 2**30}[suffix]
    assert to_bytes(f"{number}{suffix}") == number * factor
    assert to_millicores(f"{number}{suffix}") == number * factor * 1000
