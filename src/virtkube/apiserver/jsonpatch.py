"""The smallest RFC 6902 JSON patch turning one JSON document into another.

Admission webhooks answer with a JSON patch. KubeVirt replaces the whole
`/spec`; a minimal patch says instead exactly which defaults were set, which
makes golden files readable and leaves fields virtkube did not touch alone.
"""

from __future__ import annotations

from typing import Any

Patch = list[dict[str, Any]]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def diff(old: Any, new: Any, path: str = "") -> Patch:
    """Operations that make `old` equal `new`. Lists of changed length are replaced whole."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        ops: Patch = []
        for key in old:
            if key not in new:
                ops.append({"op": "remove", "path": f"{path}/{_escape(key)}"})
        for key, value in new.items():
            child = f"{path}/{_escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": child, "value": value})
            else:
                ops.extend(diff(old[key], value, child))
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        ops = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            ops.extend(diff(a, b, f"{path}/{index}"))
        return ops
    return [{"op": "replace", "path": path or "", "value": new}]


def apply(document: Any, patch: Patch) -> Any:
    """Apply a patch made by `diff` (add, remove, replace only); for tests and dry runs."""
    import copy

    doc = copy.deepcopy(document)
    for op in patch:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            doc = copy.deepcopy(op["value"])
            continue
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last: Any = int(parts[-1]) if isinstance(parent, list) else parts[-1]
        if op["op"] == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(op["value"])
    return doc
