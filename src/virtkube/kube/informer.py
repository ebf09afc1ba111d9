"""List-then-watch caches, the way client-go's shared informers keep them.

A reconciler reads desired and observed state from these caches, never from
the API server directly: one LIST and one long WATCH per kind per process,
however many objects. Cached objects are shared; never mutate one (copy it
with `copy.deepcopy` first).

A cache must outlive its API server: servers restart (upgrades, certificate
rotation, crashes), etcd compacts, load balancers drop idle streams. So `run`
treats every way a watch can end as routine and comes back by itself:
- the server's own timeout ends the stream: watch again from the last
  resourceVersion (bookmarks keep it recent), nothing re-listed;
- 410 Gone (the resourceVersion was compacted away): re-list at once;
- the connection refused, reset or cut mid-stream, 429 and 503 while the
  server starts, a stream silent past `idle_seconds`, a watch closed at once
  with nothing in it: back off (exponential, with jitter, at least the
  server's Retry-After), then re-list.
Every re-list re-delivers every object to the handlers (unchanged ones as
MODIFIED with `old` the same object): what changed while the process was deaf
(a stop issued in the gap, a pod that finished, a VM created meanwhile) is
reconciled whatever the handlers filter on. An outage is logged once when it
starts and once when it ends, and counted in `virtkube.kube.metrics`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from virtkube.kube import errors, metrics
from virtkube.kube.client import Client, Obj
from virtkube.kube.resources import Resource

log = logging.getLogger(__name__)

EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, Obj, Obj | None], None]


@dataclass(frozen=True)
class WatchPolicy:
    """How long watches last and how an informer backs off (client-go's reflector)."""

    #: client-go's minWatchTimeout: each watch asks the server to end it after 5 to 10
    #: minutes, at random, so that a cluster's watches do not all restart at once.
    min_watch_seconds: int = 300
    #: The API server sends a bookmark about every minute to a watch that asks for them,
    #: so a stream silent this long is dead (a frozen server, a half-open connection).
    idle_seconds: float = 150.0
    #: Back-off between failed attempts: doubling from the first to the second value,
    #: each stretched by up to `jitter` of itself so that processes do not retry in step.
    retry_initial: float = 0.2
    retry_max: float = 10.0
    jitter: float = 0.5
    #: A watch the server ends this soon with nothing in it is a failure, not its timeout
    #: (a server shutting down closes its watches cleanly; re-watching at once would spin).
    short_watch_seconds: float = 1.0


DEFAULT_POLICY = WatchPolicy()


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


def split_key(key: str) -> tuple[str | None, str]:
    ns, _, name = key.rpartition("/")
    return (ns or None), name


def failure_reason(error: BaseException) -> str:
    """A short label for how a list or watch ended (the metric's `reason`)."""
    if isinstance(error, errors.Gone):
        return "gone"
    if isinstance(error, errors.TooManyRequests):
        return "throttled"
    if isinstance(error, errors.Unavailable):
        return "unavailable"
    if isinstance(error, _ShortWatch):
        return "closed"
    if isinstance(error, errors.KubeError):
        return f"http_{error.status}"
    return "error"


class _ShortWatch(Exception):
    """The server ended a watch at once with no event in it."""


class _Outage:
    """Back-off, logging and counting for one informer's run of failures."""

    def __init__(self, resource: str, policy: WatchPolicy) -> None:
        self.resource = resource
        self.policy = policy
        self.started: float | None = None
        self.attempts = 0

    def failed(self, error: BaseException, now: float) -> float:
        """Record a failure; the seconds to wait before the next attempt."""
        reason = failure_reason(error)
        metrics.WATCH_FAILURES.labels(self.resource, reason).inc()
        if self.started is None:
            self.started = now
            if reason == "error":
                log.error("watch %s failed; retrying with back-off", self.resource,
                          exc_info=error)
            else:
                log.warning("watch %s: %s; retrying with back-off until it recovers",
                            self.resource, error)
        else:
            log.debug("watch %s, attempt %d: %s", self.resource, self.attempts + 1, error)
        p = self.policy
        delay = min(p.retry_initial * 2.0 ** self.attempts, p.retry_max)
        delay *= 1 + p.jitter * random.random()
        self.attempts += 1
        if isinstance(error, errors.KubeError) and error.retry_after:
            return max(delay, error.retry_after)
        return delay

    def recovered(self, now: float, objects: int) -> None:
        if self.started is None:
            return
        metrics.RECOVERIES.labels(self.resource).inc()
        log.info("watch %s recovered after %.1fs (%d failed attempts); re-listed %d objects",
                 self.resource, now - self.started, self.attempts, objects)
        self.started, self.attempts = None, 0


class Informer:
    def __init__(self, client: Client, resource: Resource, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 policy: WatchPolicy = DEFAULT_POLICY) -> None:
        self.client = client
        self.policy = policy
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self._store: dict[str, Obj] = {}
        self._handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self.resource_version = ""
        #: How many times the cache was (re-)listed: 1 after the first sync.
        self.lists = 0

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
        self.resource_version = str(reply["metadata"].get("resourceVersion") or "")
        self.lists += 1
        # A re-list re-delivers everything, changed or not: this is the resync after a gap.
        for key, obj in items.items():
            prev = old.get(key)
            self._emit("ADDED" if prev is None else "MODIFIED", obj, prev)
        for key, prev in old.items():
            if key not in items:
                self._emit("DELETED", prev, prev)
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

    async def _watch(self) -> int:
        """One watch from the current resourceVersion; the number of events it carried."""
        p = self.policy
        events = 0
        async for event in self.client.watch(
                self.resource, self.namespace, resource_version=self.resource_version,
                label_selector=self.label_selector, field_selector=self.field_selector,
                timeout_seconds=random.randint(p.min_watch_seconds, 2 * p.min_watch_seconds),
                idle_timeout=p.idle_seconds):
            self._apply(event)
            events += 1
        return events

    async def run(self) -> None:
        """Keep the cache true until cancelled, whatever happens to the API server."""
        loop = asyncio.get_running_loop()
        outage = _Outage(self.resource.plural, self.policy)
        listed = False
        while True:
            try:
                if not listed:
                    await self._relist()
                    listed = True
                    outage.recovered(loop.time(), len(self._store))
                started = loop.time()
                if not await self._watch() and (
                        loop.time() - started < self.policy.short_watch_seconds):
                    raise _ShortWatch("the server closed the watch at once")
                continue  # the server's timeout: watch again from the last resourceVersion
            except asyncio.CancelledError:
                raise
            except errors.Gone as e:
                metrics.WATCH_FAILURES.labels(self.resource.plural, "gone").inc()
                log.info("watch %s: resourceVersion %s is too old (%s); re-listing",
                         self.resource.plural, self.resource_version, e.message)
                listed = False
                continue
            except Exception as e:
                delay = outage.failed(e, loop.time())
            listed = False
            await asyncio.sleep(delay)


async def wait_synced(*informers: Informer) -> None:
    """Wait until every informer has listed once (use asyncio.timeout to bound it)."""
    await asyncio.gather(*(i.synced.wait() for i in informers))
