"""The work queue's client-go guarantees: dedup, one worker per key, back-off."""

from __future__ import annotations

import asyncio

from virtkube.kube.workqueue import WorkQueue


async def test_items_added_twice_before_processing_are_processed_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert [await q.get(), await q.get()] == ["a", "b"]
    assert len(q) == 0


async def test_readd_while_processing_waits_until_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    item = await q.get()
    q.add("a")
    assert len(q) == 0, "a key being processed must not be handed to a second worker"
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_backoff_doubles_per_item_and_forget_resets_it() -> None:
    q: WorkQueue[str] = WorkQueue(backoff_base=1.0, backoff_max=5.0)
    assert [q.when("a") for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert q.when("b") == 1.0
    q.forget("a")
    assert q.when("a") == 1.0


async def test_add_after_delivers_later() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 0.05)
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 2.0) == "a"
