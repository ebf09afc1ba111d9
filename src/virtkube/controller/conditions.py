"""Condition lists on plain status dicts: set one, keep transition times honest."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def get_condition(conditions: list[Obj] | None, ctype: str) -> Obj | None:
    for c in conditions or []:
        if c.get("type") == ctype:
            return c
    return None


def set_condition(conditions: list[Obj] | None, ctype: str, status: str, *, reason: str = "",
                  message: str = "", now: str) -> list[Obj]:
    """A new list with `ctype` set; lastTransitionTime moves only when status changes."""
    out = [dict(c) for c in conditions or [] if c.get("type") != ctype]
    prev = get_condition(conditions, ctype)
    cond: Obj = {"type": ctype, "status": status,
                 "lastProbeTime": None,
                 "lastTransitionTime": (prev or {}).get("lastTransitionTime")
                 if prev and prev.get("status") == status else now}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    if prev == cond:
        return [dict(c) for c in conditions or []]
    out.append(cond)
    out.sort(key=lambda c: str(c.get("type")))
    return out


def drop_condition(conditions: list[Obj] | None, ctype: str) -> list[Obj]:
    return [dict(c) for c in conditions or [] if c.get("type") != ctype]
