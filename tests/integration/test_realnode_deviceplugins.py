"""virt-handler's device plugins on a real node (issue 12, point 3): the kubelet advertises
KubeVirt's device resources, hands /dev/net/tun to a pod that requests it and not to one that
does not, the plugins register again after kill -9 of the kubelet, and they leave no socket
behind when they stop."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.helpers import wait_for
from tests.integration.node_helpers import get, namespace
from tests.integration.realnode_helpers import (
    NAME,
    node_ready,
    run_pod,
    running_real_node,
    utility_pod,
)
from virtkube.handler.deviceplugin import DevicePluginManager
from virtkube.handler.deviceplugin.devices import KUBEVIRT_DEVICES
from virtkube.local.cluster import LocalCluster
from virtkube.local.procs import cmdline, processes_mentioning
from virtkube.local.realnode.layout import RealNode

pytestmark = pytest.mark.integration

NS = "realnode-devices"


class ManagerThread:
    """DevicePluginManager on an event loop of its own, as in virt-handler, beside the
    test's synchronous code."""

    def __init__(self, manager: DevicePluginManager) -> None:
        self.manager = manager
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),),
                                        name="device plugins", daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        task = asyncio.create_task(self.manager.run())
        self._started.set()
        await self._stop.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def start(self) -> None:
        self._thread.start()
        assert self._started.wait(10), "the device plugins' loop did not start"

    def stop(self) -> None:
        if self._loop and self._stop and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the device plugins did not stop"


@pytest.fixture(scope="module")
def real_node(cluster: LocalCluster) -> Iterator[RealNode]:
    with running_real_node(cluster, NS) as node:
        yield node


@pytest.fixture(scope="module")
def plugins(real_node: RealNode) -> Iterator[ManagerThread]:
    # The kubelet makes its device-plugins dir when it starts.
    wait_for("the kubelet's device-plugins dir", real_node.device_plugins.is_dir, timeout=60)
    thread = ManagerThread(DevicePluginManager(real_node.device_plugins, poll_interval=0.2))
    thread.start()
    try:
        yield thread
    finally:
        thread.stop()


def allocatable(cluster: LocalCluster) -> dict[str, Any]:
    node = get(cluster, "node", NAME) or {}
    return dict((node.get("status") or {}).get("allocatable") or {})


def test_the_node_advertises_kubevirts_devices(cluster: LocalCluster,
                                               plugins: ManagerThread) -> None:
    started = time.monotonic()
    wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    present = {d.resource for d in KUBEVIRT_DEVICES if d.path.is_char_device()}
    assert "devices.kubevirt.io/tun" in present, "this host has no /dev/net/tun"

    def advertised() -> dict[str, Any] | None:
        got = allocatable(cluster)
        return got if all(got.get(r) in ("1k", "1000") for r in present) else None

    got = wait_for(f"allocatable {sorted(present)} = 1k", advertised, timeout=60)
    # A device this host lacks is not advertised at all (the scheduler keeps such VMs away).
    for d in KUBEVIRT_DEVICES:
        if d.resource not in present:
            assert d.resource not in got, (d.resource, got)
    assert [p.registrations for p in plugins.manager.plugins] == [1] * len(present)
    print(f"advertised {sorted(present)} after {time.monotonic() - started:.1f}s")


def test_only_a_pod_that_requests_tun_gets_it(cluster: LocalCluster,
                                              plugins: ManagerThread) -> None:
    wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    wait_for("devices.kubevirt.io/tun allocatable",
             lambda: allocatable(cluster).get("devices.kubevirt.io/tun") in ("1k", "1000"),
             timeout=60)
    namespace(cluster, NS)
    started = time.monotonic()
    tun = {"devices.kubevirt.io/tun": "1"}
    run_pod(cluster, utility_pod("with-tun", NS, "exec sleep 3600",
                                 resources={"limits": tun, "requests": tun}))
    run_pod(cluster, utility_pod("without-tun", NS, "exec sleep 3600"))
    print(f"both pods Running after {time.monotonic() - started:.1f}s")

    def is_char_device(pod: str) -> bool:
        res = cluster.kubectl("exec", "-n", NS, pod, "--", "sh", "-c",
                              "test -c /dev/net/tun", check=False)
        assert res.returncode in (0, 1), res.stderr
        return res.returncode == 0

    assert is_char_device("with-tun")
    assert not is_char_device("without-tun")


def kubelet_pid(node: RealNode) -> int | None:
    pids = [pid for pid in processes_mentioning(str(node.root))
            if cmdline(pid)[1:2] == ["kubelet"]]
    return pids[0] if len(pids) == 1 else None


def test_the_plugins_register_again_when_the_kubelet_restarts(
        cluster: LocalCluster, real_node: RealNode, plugins: ManagerThread) -> None:
    """kill -9 of the kubelet: the node's runner starts a new one, which forgets every plugin
    and removes their sockets; the plugins serve and register anew and the node still
    advertises the devices."""
    before = [p.registrations for p in plugins.manager.plugins]
    pid = wait_for("the kubelet's pid", lambda: kubelet_pid(real_node), timeout=10)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_for("every plugin registered again",
             lambda: all(p.registrations > n for p, n in zip(plugins.manager.plugins, before,
                                                             strict=True)), timeout=90)
    assert kubelet_pid(real_node) not in (None, pid)
    wait_for(f"node {NAME} Ready", lambda: node_ready(cluster), timeout=120)
    wait_for("devices.kubevirt.io/tun allocatable again",
             lambda: allocatable(cluster).get("devices.kubevirt.io/tun") in ("1k", "1000"),
             timeout=60)
    print(f"registered again {time.monotonic() - started:.1f}s after kill -9 of the kubelet")


def test_stopping_the_plugins_removes_their_sockets(real_node: RealNode,
                                                   plugins: ManagerThread) -> None:
    ours = {p.dev.socket_name for p in plugins.manager.plugins}
    assert ours and ours <= {p.name for p in real_node.device_plugins.iterdir()}
    plugins.stop()
    left = {p.name for p in real_node.device_plugins.iterdir()}
    assert not left & ours, left
    assert "kubelet.sock" in left
