"""The API cost of one VMI lifecycle, counted from the API server's audit log.

The log is written as requests complete (the log backend's blocking mode), so once a
request made after the lifecycle ended is in it, so is every request of the lifecycle:
the bench makes one such marker request and waits for it instead of sleeping.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any


def mentions(audit_log: Path, needle: str) -> bool:
    try:
        return needle in audit_log.read_text()
    except OSError:
        return False


def api_cost(audit_log: Path, name: str, start: float, end: float) -> dict[str, Any]:
    """Requests touching VMI `name` (and its pod and events) in [start, end] wall seconds."""
    from datetime import datetime

    counts: Counter[str] = Counter()
    by_user: Counter[str] = Counter()
    pod_prefix = f"virt-launcher-{name}-"
    for line in audit_log.read_text().splitlines():
        ev = json.loads(line)
        ts = datetime.fromisoformat(ev["requestReceivedTimestamp"].replace("Z", "+00:00"))
        if not start <= ts.timestamp() <= end:
            continue
        ref = ev.get("objectRef") or {}
        obj = ref.get("name") or ""
        resource = ref.get("resource", "")
        if not (obj == name or obj.startswith(pod_prefix)
                or (resource == "events" and (obj.startswith(f"{name}.")
                                              or obj.startswith(pod_prefix)))):
            continue
        verb = ev["verb"]
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        user = ev["user"]["username"]
        counts[f"{verb} {resource}{sub}"] += 1
        by_user[f"{user} {'write' if verb not in ('get', 'list', 'watch') else 'read'}"] += 1
    writes = {k: v for k, v in counts.items() if k.split()[0] not in ("get", "list", "watch")}
    virtkube_writes = sum(v for k, v in by_user.items()
                          if k.startswith("virtkube:virt-") and k.endswith("write"))
    return {"requests": dict(sorted(counts.items())), "by_user": dict(sorted(by_user.items())),
            "writes": sum(writes.values()), "virtkube_component_writes": virtkube_writes}

