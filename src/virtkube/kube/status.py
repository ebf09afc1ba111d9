"""Writing status only when it changed, by its owner, the right way per kind.

Kinds with a status subresource (VM, VMIM, Pod, Node) take `PUT .../status`;
KubeVirt's VMI has none, so its status goes with an ordinary update. Both
carry the resourceVersion read from the cache: a stale write is a 409
Conflict, which the reconciler turns into a quiet requeue.
"""

from __future__ import annotations

import copy
from typing import Any

from virtkube.kube.client import Client, Obj
from virtkube.kube.resources import Resource


async def update_status(client: Client, res: Resource, cached: Obj, status: dict[str, Any], *,
                        subresource: bool) -> Obj | None:
    """Write `status` unless it equals the cached one; returns the new object or None."""
    if cached.get("status") == status:
        return None
    obj = copy.deepcopy(cached)
    obj["status"] = status
    return await client.replace(res, obj, subresource="status" if subresource else None)
