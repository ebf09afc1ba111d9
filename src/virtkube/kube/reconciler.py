"""Runs a reconcile function over a work queue, with the house rules for errors.

Reconcilers are level-triggered: they get a key, read everything from caches
and converge. What they raise decides what happens next:
- nothing: the item's back-off is forgotten;
- `Conflict` (409): someone wrote first; requeue quietly with back-off;
- `TemporaryError(delay)`: requeue after `delay` (or the back-off);
- `PermanentError`: log once and drop until the object changes again;
- anything else: log with traceback and requeue with back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from virtkube.kube import errors
from virtkube.kube.workqueue import ShutDown, WorkQueue

Reconcile = Callable[[str], Awaitable[None]]


async def _worker(name: str, queue: WorkQueue[str], reconcile: Reconcile,
                  log: logging.Logger) -> None:
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await reconcile(key)
            queue.forget(key)
        except errors.Conflict as e:
            log.debug("%s %s: conflict, requeued: %s", name, key, e)
            queue.add_rate_limited(key)
        except errors.TemporaryError as e:
            log.info("%s %s: %s", name, key, e)
            if e.delay is None:
                queue.add_rate_limited(key)
            else:
                queue.add_after(key, e.delay)
        except errors.PermanentError as e:
            log.warning("%s %s: %s (not retried)", name, key, e)
            queue.forget(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s: reconcile failed (retry %d)", name, key,
                          queue.failures(key) + 1)
            queue.add_rate_limited(key)
        finally:
            queue.done(key)


async def run(name: str, queue: WorkQueue[str], reconcile: Reconcile, *, workers: int = 1,
              log: logging.Logger | None = None) -> None:
    """Process keys until cancelled; several workers never share a key."""
    logger = log or logging.getLogger(f"virtkube.{name}")
    await asyncio.gather(*(_worker(name, queue, reconcile, logger) for _ in range(workers)))
