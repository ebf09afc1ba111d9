"""The client layer against the real API server: informers, conflicts, leases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from virtkube.kube import errors
from virtkube.kube.client import Client
from virtkube.kube.config import load
from virtkube.kube.informer import Informer, wait_synced
from virtkube.kube.leaderelection import LeaderElector, LeaseConfig
from virtkube.kube.resources import CONFIGMAPS
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(cluster: LocalCluster) -> AsyncIterator[Client]:
    conn = await load(cluster.home.admin_kubeconfig, user_agent="virtkube-tests")
    async with Client(conn, field_manager="virtkube-tests") as c:
        yield c


async def _until(what: str, cond: object, timeout: float = 10.0) -> None:
    assert callable(cond)
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)
    assert cond(), what


async def test_informer_follows_create_update_delete(client: Client) -> None:
    name = f"inf-{uuid.uuid4().hex[:6]}"
    informer = Informer(client, CONFIGMAPS, namespace="default")
    seen: list[tuple[str, str]] = []
    informer.add_handler(lambda kind, obj, _old: seen.append((kind, obj["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        async with asyncio.timeout(10):
            await wait_synced(informer)
        await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": name}, "data": {"a": "1"}},
                            "default")
        await _until("ADDED", lambda: ("ADDED", name) in seen)
        await client.patch(CONFIGMAPS, name, {"data": {"a": "2"}}, "default")
        await _until("cache updated",
                     lambda: (informer.get(f"default/{name}") or {}).get("data") == {"a": "2"})
        await client.delete(CONFIGMAPS, name, "default")
        await _until("DELETED", lambda: ("DELETED", name) in seen)
        assert informer.get(f"default/{name}") is None
    finally:
        task.cancel()


async def test_stale_write_is_a_conflict_and_missing_is_not_found(client: Client) -> None:
    name = f"cf-{uuid.uuid4().hex[:6]}"
    obj = await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": name}}, "default")
    await client.patch(CONFIGMAPS, name, {"data": {"x": "y"}}, "default")
    obj["data"] = {"x": "z"}
    with pytest.raises(errors.Conflict):
        await client.replace(CONFIGMAPS, obj)
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, {"metadata": {"name": name}}, "default")
    await client.delete(CONFIGMAPS, name, "default")
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, name, "default")


async def test_only_one_of_two_electors_leads(client: Client) -> None:
    lease = f"lease-{uuid.uuid4().hex[:6]}"
    cfgs = [LeaseConfig(name=lease, namespace="default", identity=f"p{i}", lease_duration=3,
                        renew_deadline=2, retry_period=0.2) for i in range(2)]
    a, b = (LeaderElector(client, c) for c in cfgs)
    stop_a = asyncio.Event()

    async def lead_a() -> None:
        await stop_a.wait()

    async def lead_b() -> None:
        await asyncio.Event().wait()

    ta = asyncio.create_task(a.run(lead_a))
    await _until("a leads", a.leading.is_set)
    tb = asyncio.create_task(b.run(lead_b))
    await asyncio.sleep(0)  # let b try once
    assert not await b.try_acquire_or_renew()
    assert not b.leading.is_set()
    # a stops renewing (its process dies): b takes over once the lease expires.
    ta.cancel()
    await asyncio.gather(ta, return_exceptions=True)
    await _until("b takes over after expiry", b.leading.is_set, timeout=15)
    tb.cancel()
    await asyncio.gather(tb, return_exceptions=True)
