"""Kubernetes resource quantities: the `Quantity` field type and its arithmetic.

KubeVirt takes memory and CPU as `resource.Quantity` ("128Mi", "1024M", "100m",
2). A manifest must round-trip unchanged, so the models keep the user's int or
string as given and only check that it parses; the launcher and the controllers
turn it into bytes or millicores with the pure functions here, which follow
`k8s.io/apimachinery/pkg/api/resource` (suffixes, exponents, rounding up).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated

from pydantic import AfterValidator, StrictInt, StrictStr, WithJsonSchema

#: The grammar of resource.Quantity (its `<quantity>` production), as KubeVirt's
#: CRDs publish it for every quantity field.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?$"
)

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


class QuantityError(ValueError):
    """A value is not a Kubernetes quantity."""


def parse_quantity(value: int | str) -> Fraction:
    """The exact value of a quantity ("1.5Gi" -> 1610612736, "100m" -> 1/10)."""
    if isinstance(value, bool):
        raise QuantityError(f"quantity must be an integer or a string, not {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise QuantityError(
            f"quantities must match the regular expression {QUANTITY_PATTERN!r}: {value!r}"
        )
    try:
        number = Fraction(Decimal(match["number"]))
    except InvalidOperation as exc:  # pragma: no cover - the regex already excludes these
        raise QuantityError(f"not a number: {value!r}") from exc
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exponent = int(Decimal(suffix[1:]))  # an "e"/"E" exponent
    return number * Fraction(10) ** exponent


def to_bytes(value: int | str) -> int:
    """A memory or storage quantity in bytes, rounded up like Quantity.Value()."""
    return math.ceil(parse_quantity(value))


def to_millicores(value: int | str) -> int:
    """A CPU quantity in millicores, rounded up like Quantity.MilliValue()."""
    return math.ceil(parse_quantity(value) * 1000)


def _or_none(convert: Callable[[int | str], int], value: object) -> int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return convert(value)
    except QuantityError:
        return None


def value_or_none(value: object) -> int | None:
    """Quantity.Value() (`to_bytes`) of a raw JSON field; None when absent or malformed.

    Admission defaults and validates manifests before the models have accepted
    them, so it reads quantities through this and reports malformed ones itself.
    """
    return _or_none(to_bytes, value)


def millicores_or_none(value: object) -> int | None:
    """Quantity.MilliValue() (`to_millicores`) of a raw JSON field; None if absent or malformed."""
    return _or_none(to_millicores, value)


def _check_quantity(value: int | str) -> int | str:
    parse_quantity(value)
    return value


#: A quantity field: accepts an int or a string that parses, and keeps it as given.
Quantity = Annotated[
    StrictInt | StrictStr,
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
