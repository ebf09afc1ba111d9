"""Rendering QEMU's `key=value,key=value` option strings.

QEMU splits options on commas; a comma inside a value is written twice
(QemuOpts syntax, docs/system/invocation). Every value that can come from a
user or a path goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

Value = str | int | bool | Path | None


def escape(value: str) -> str:
    return value.replace(",", ",,")


def render(value: Value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return escape(str(value))


def opts(head: str | None = None, /, **pairs: Value) -> str:
    """`head,k1=v1,k2=v2`; None values are left out; `_` in keys becomes `-`."""
    parts = [escape(head)] if head else []
    parts += [f"{k.replace('_', '-')}={render(v)}" for k, v in pairs.items() if v is not None]
    return ",".join(parts)


def opts_map(head: str | None, pairs: Mapping[str, Value]) -> str:
    """Like opts() with keys kept as written (QEMU keys with dots: `cache.direct`)."""
    parts = [escape(head)] if head else []
    parts += [f"{k}={render(v)}" for k, v in pairs.items() if v is not None]
    return ",".join(parts)
