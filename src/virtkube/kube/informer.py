"""List-then-watch caches, the way client-go's shared informers keep them.

A reconciler reads desired and observed state from these caches, never from
the API server directly: one LIST and one long WATCH per kind per process,
however many objects. Cached objects are shared; never mutate one (copy it
with `copy.deepcopy` first).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Callable
from typing import Literal

from virtkube.kube import errors
from virtkube.kube.client import Client, Obj
from virtkube.kube.resources import Resource

log = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, Obj, Obj | None], None]

#: Back-off after a failed list or watch (the server restarted, say).
RETRY_INITIAL, RETRY_MAX = 0.2, 10.0


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


class Informer:
    def __init__(self, client: Client, resource: Resource, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self._store: dict[str, Obj] = {}
        self._handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self.resource_version = ""

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        return self._store.get(key)

    def list(self) -> builtins.list[Obj]:
        return list(self._store.values())

    def keys(self) -> builtins.list[str]:
        return list(self._store)

    def _emit(self, kind: EventType, obj: Obj, old: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj, old)
            except Exception:  # a handler bug must not stop the cache
                log.exception("%s handler failed on %s %s", self.resource.plural, kind,
                              key_of(obj))

    async def _relist(self) -> None:
        reply = await self.client.list(self.resource, self.namespace,
                                       label_selector=self.label_selector,
                                       field_selector=self.field_selector)
        items = {key_of(o): o for o in reply.get("items") or []}
        # Items of a list carry no kind; add it so handlers see whole objects.
        for o in items.values():
            o.setdefault("kind", self.resource.kind)
            o.setdefault("apiVersion", self.resource.api_version)
        old = self._store
        self._store = items
        for key, obj in items.items():
            prev = old.get(key)
            if prev is None:
                self._emit("ADDED", obj, None)
            elif prev["metadata"].get("resourceVersion") != obj["metadata"].get(
                    "resourceVersion"):
                self._emit("MODIFIED", obj, prev)
        for key, prev in old.items():
            if key not in items:
                self._emit("DELETED", prev, prev)
        self.resource_version = str(reply["metadata"].get("resourceVersion") or "")
        self.synced.set()

    def _apply(self, event: Obj) -> None:
        kind = event["type"]
        obj = event["object"]
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv:
            self.resource_version = str(rv)
        if kind == "BOOKMARK":
            return
        key = key_of(obj)
        prev = self._store.get(key)
        if kind == "DELETED":
            self._store.pop(key, None)
            self._emit("DELETED", obj, prev)
        else:
            self._store[key] = obj
            self._emit("ADDED" if prev is None else "MODIFIED", obj, prev)

    async def run(self) -> None:
        """Keep the cache true until cancelled."""
        delay = RETRY_INITIAL
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                async for event in self.client.watch(
                        self.resource, self.namespace, resource_version=self.resource_version,
                        label_selector=self.label_selector,
                        field_selector=self.field_selector):
                    self._apply(event)
                    delay = RETRY_INITIAL
            except errors.Gone:
                need_list = True
            except errors.KubeError as e:
                log.warning("watch %s: %s; retrying in %.1fs", self.resource.plural, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                need_list = need_list or isinstance(e, errors.Unavailable)


async def wait_synced(*informers: Informer) -> None:
    """Wait until every informer has listed once (use asyncio.timeout to bound it)."""
    await asyncio.gather(*(i.synced.wait() for i in informers))
