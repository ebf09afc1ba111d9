"""Kubernetes resource quantities ("500m", "1", "128Mi", "1G") as integers.

The stand-in node's names for virtkube.api.quantity, the one quantity parser.
"""

from __future__ import annotations

from virtkube.api.quantity import to_bytes, to_millicores


def parse_bytes(q: str) -> int:
    return to_bytes(q)


def parse_cpu_millis(q: str) -> int:
    return to_millicores(q)
