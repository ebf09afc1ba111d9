"""The informer survives every way a watch can end, through the real aiohttp client.

Each test scripts one ending on a loopback stand-in of the API server, changes the
cluster while the informer is deaf, and asserts that the cache catches up, that the
handlers get every object again after the re-list, and that the failure was counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.unit.kube.fakeapi import Ending, FakeAPI
from virtkube.kube.client import Client
from virtkube.kube.config import Connection
from virtkube.kube.informer import EventType, Informer, WatchPolicy
from virtkube.kube.resources import PODS

FAST = WatchPolicy(min_watch_seconds=60, idle_seconds=0.5, retry_initial=0.01,
                   retry_max=0.05, jitter=0.5, short_watch_seconds=0.2)
DEADLINE = 10.0


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("virtkube_informer_watch_failures_total",
                                     {"resource": "pods", "reason": reason}) or 0.0


def recoveries() -> float:
    return REGISTRY.get_sample_value("virtkube_informer_recoveries_total",
                                     {"resource": "pods"}) or 0.0


async def until(what: str, check: Callable[[], bool]) -> None:
    """Wait for `check` with a deadline; fail saying what was awaited."""
    async with asyncio.timeout(DEADLINE):
        while not check():
            await asyncio.sleep(0.01)
    assert check(), what


class Seen:
    """Every (type, name, resourceVersion) the informer's handler was given."""

    def __init__(self) -> None:
        self.events: list[tuple[EventType, str, str]] = []

    def __call__(self, kind: EventType, obj: dict[str, Any], _old: dict[str, Any] | None
                 ) -> None:
        meta = obj["metadata"]
        self.events.append((kind, meta["name"], meta["resourceVersion"]))

    def count(self, kind: EventType, name: str) -> int:
        return sum(1 for k, n, _ in self.events if (k, n) == (kind, name))


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[tuple[FakeAPI, Informer, Seen]]:
    """A fake API server with one pod, and a synced informer on it.

    (Not fixtures: async fixtures run on the session's event loop, the tests on their own.)
    """
    api = FakeAPI()
    api.put("a", spec={"n": 1})
    await api.start()
    conn = Connection(server=api.url, ssl_context=ssl.create_default_context())
    try:
        async with Client(conn) as client:
            inf = Informer(client, PODS, namespace="ns", policy=FAST)
            seen = Seen()
            inf.add_handler(seen)
            task = asyncio.create_task(inf.run())
            await asyncio.wait_for(inf.synced.wait(), DEADLINE)
            try:
                yield api, inf, seen
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                assert task.cancelled(), "the informer's task ended by itself"
    finally:
        await api.stop()


async def test_the_servers_timeout_rewatches_from_the_last_version_without_listing() -> None:
    async with running() as (api, inf, _):
        await until("the first watch", lambda: api.watches == 1)
        api.put("b")
        await until("b in the cache", lambda: inf.get("ns/b") is not None)
        api.end_streams()
        await until("a second watch", lambda: api.watches == 2)
        api.put("c")
        await until("c in the cache", lambda: inf.get("ns/c") is not None)
        assert api.lists == 1


@pytest.mark.parametrize(("ending", "reason"), [
    ("cut", "unavailable"),            # connection closed mid-line (kill -9 of the server)
    ("garbage", "unavailable"),        # a line that is not JSON
    ("throttled", "throttled"),        # 429 with Retry-After
    ("starting", "unavailable"),       # 503 while the server starts
    ("silent", "unavailable"),         # nothing, not even a bookmark, past idle_seconds
    ("close_at_once", "closed"),       # a clean end with nothing in it (a server shutting down)
])
async def test_every_failed_ending_is_recovered_by_a_relist_that_resyncs_everything(
        ending: Ending, reason: str) -> None:
    async with running() as (api, inf, seen):
        before, recovered_before = failures(reason), recoveries()
        await until("the first watch", lambda: api.watches == 1)
        api.put("x")  # the first watch carries an event, so its end is the server's timeout
        await until("x in the cache", lambda: inf.get("ns/x") is not None)
        api.script.extend([ending, ending])  # twice in a row: one outage, one recovery
        api.end_streams()
        # While the informer is deaf: a change it must catch up with.
        api.put("b")
        await until("b in the cache", lambda: inf.get("ns/b") is not None)
        await until("a re-list", lambda: api.lists >= 2)
        await until(f"two {reason} failures", lambda: failures(reason) - before >= 2)
        api.put("c")
        await until("watching again after the recovery", lambda: inf.get("ns/c") is not None)
        assert recoveries() - recovered_before >= 1
        # The resync: "a" did not change, yet its handler ran again after the re-list.
        assert seen.count("ADDED", "a") == 1 and seen.count("MODIFIED", "a") >= 1


async def test_gone_relists_at_once_and_sees_deletions_made_meanwhile() -> None:
    async with running() as (api, inf, seen):
        before = failures("gone")
        await until("the first watch", lambda: api.watches == 1)
        api.put("x")
        await until("x in the cache", lambda: inf.get("ns/x") is not None)
        api.script.append("gone")
        api.end_streams()
        api.remove("a")
        await until("a gone from the cache", lambda: inf.get("ns/a") is None)
        assert failures("gone") == before + 1
        assert seen.count("DELETED", "a") == 1


async def test_a_server_down_for_a_while_is_logged_once_and_recovered(
        caplog: pytest.LogCaptureFixture) -> None:
    async with running() as (api, inf, _):
        caplog.set_level(logging.DEBUG, logger="virtkube.kube.informer")
        before = failures("unavailable")
        await api.stop()
        # Connection refused over and over: many failures, one warning.
        await until("several refused attempts", lambda: failures("unavailable") >= before + 5)
        api.put("b")
        await api.start(api.port)
        await until("b in the cache", lambda: inf.get("ns/b") is not None)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert any("recovered after" in r.getMessage() for r in caplog.records)


async def test_a_handler_that_raises_does_not_stop_the_cache() -> None:
    async with running() as (api, inf, _):

        def broken(_kind: EventType, _obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
            raise RuntimeError("a bug in a handler")

        inf.add_handler(broken)
        await until("the first watch", lambda: api.watches == 1)
        api.put("b")
        api.put("c")
        await until("b and c in the cache",
                    lambda: inf.get("ns/b") is not None and inf.get("ns/c") is not None)
