"""A rate-limited work queue with client-go's guarantees.

- an item queued many times before it is processed is processed once;
- an item is never processed by two workers at once (re-adds while it is
  processed wait until it is done);
- failures back off exponentially per item, and `forget` resets that.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T", bound=Hashable)

#: Per-item back-off: 5 ms doubling to 5 minutes, like client-go's default.
BACKOFF_BASE, BACKOFF_MAX = 0.005, 300.0


class ShutDown(Exception):
    pass


class WorkQueue(Generic[T]):
    def __init__(self, *, backoff_base: float = BACKOFF_BASE,
                 backoff_max: float = BACKOFF_MAX) -> None:
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._failures: dict[T, int] = {}
        self._cond = asyncio.Condition()
        self._timers: set[asyncio.TimerHandle] = set()
        self._shutdown = False
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, item: T) -> None:
        if self._shutdown or item in self._dirty:
            return
        self._dirty.add(item)
        if item not in self._processing:
            self._queue.append(item)
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify()

    def add_after(self, item: T, delay: float) -> None:
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self.add(item)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def when(self, item: T) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        return float(min(self.backoff_base * (2 ** n), self.backoff_max))

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.when(item))

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def failures(self, item: T) -> int:
        return self._failures.get(item, 0)

    async def get(self) -> T:
        async with self._cond:
            while not self._queue:
                if self._shutdown:
                    raise ShutDown
                await self._cond.wait()
            item = self._queue.popleft()
            self._processing.add(item)
            self._dirty.discard(item)
            return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            asyncio.get_running_loop().create_task(self._notify())

    async def shutdown(self) -> None:
        self._shutdown = True
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        async with self._cond:
            self._cond.notify_all()
