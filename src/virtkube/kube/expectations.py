"""Knowing when a cache has not yet seen this process's own writes.

A reconciler that just updated an object (or deleted one) is often woken
again before the watch delivers that change. Acting on the stale copy costs a
409 Conflict, or a second create/delete that the server refuses: wasted API
calls that also make the log lie. client-go solves this with
"expectations"; this is the same idea, keyed by what the process wrote:

- after an update based on resourceVersion R succeeds, a cached copy still at
  R is stale: skip it, the watch event for the write is on its way;
- after a delete of uid U, a cached copy of U without a deletionTimestamp is
  stale in the same way.
Entries expire, so a lost event can delay a reconcile but never stop it.
"""

from __future__ import annotations

import time
from typing import Any

#: After this long the cache is trusted again even if it never caught up.
EXPIRY_SECONDS = 10.0


class Expectations:
    def __init__(self, expiry: float = EXPIRY_SECONDS) -> None:
        self.expiry = expiry
        self._updated: dict[str, tuple[str, float]] = {}
        self._deleted: dict[str, float] = {}

    def updated(self, key: str, based_on: dict[str, Any]) -> None:
        """`key` was written successfully from `based_on` (the cached copy)."""
        rv = str(based_on.get("metadata", {}).get("resourceVersion") or "")
        if rv:
            self._updated[key] = (rv, time.monotonic() + self.expiry)

    def deleted(self, uid: str) -> None:
        self._deleted[uid] = time.monotonic() + self.expiry

    def stale(self, key: str, cached: dict[str, Any]) -> bool:
        """Whether `cached` predates this process's last write of `key`."""
        entry = self._updated.get(key)
        if entry is None:
            return False
        rv, deadline = entry
        if time.monotonic() > deadline or cached.get("metadata", {}).get(
                "resourceVersion") != rv:
            del self._updated[key]
            return False
        return True

    def delete_pending(self, obj: dict[str, Any]) -> bool:
        """Whether `obj` was deleted by this process and the cache has not shown it yet."""
        meta = obj.get("metadata", {})
        uid = str(meta.get("uid") or "")
        deadline = self._deleted.get(uid)
        if deadline is None:
            return False
        if meta.get("deletionTimestamp") or time.monotonic() > deadline:
            del self._deleted[uid]
            return False
        return True

    def forget(self, key: str) -> None:
        self._updated.pop(key, None)
