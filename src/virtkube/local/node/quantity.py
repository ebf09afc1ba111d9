"""Kubernetes resource quantities ("500m", "1", "128Mi", "1G") as integers."""

from __future__ import annotations

from decimal import Decimal

_SUFFIXES = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}


def _parse(q: str) -> Decimal:
    q = q.strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if q.endswith(suffix):
            return Decimal(q[: -len(suffix)]) * _SUFFIXES[suffix]
    if q.endswith("m"):
        return Decimal(q[:-1]) / 1000
    return Decimal(q)


def parse_bytes(q: str) -> int:
    return int(-(-_parse(q) // 1))


def parse_cpu_millis(q: str) -> int:
    return int(-(-(_parse(q) * 1000) // 1))
