"""Small helpers for tests against a live cluster."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from tests.shared import EXAMPLES
from tests.unit.apiserver.builders import new_vmi

if TYPE_CHECKING:
    from virtkube.local.cluster import LocalCluster

T = TypeVar("T")


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []


def kind_of(path: Path) -> str:
    return str(yaml.safe_load(path.read_text())["kind"])


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0,
             interval: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw {last!r}")


def host_disk_probe(name: str = "gate-probe") -> dict[str, Any]:
    """A VMI with a hostDisk, for server-side dry runs (never stored)."""
    vmi = new_vmi(name, "default")
    vmi["spec"]["domain"]["devices"]["disks"].append({"name": "host", "disk": {}})
    vmi["spec"]["volumes"].append({"name": "host", "hostDisk": {"path": "/var/lib/probe.img",
                                                                "type": "Disk"}})
    return vmi


def host_disk_admitted(cluster: LocalCluster) -> bool:
    res = cluster.kubectl("create", "--dry-run=server", "-f", "-", check=False,
                          input=json.dumps(host_disk_probe()))
    if res.returncode != 0 and "HostDisk feature gate is not enabled" not in res.stderr:
        raise AssertionError(f"the hostDisk probe failed otherwise: {res.stderr}")
    return res.returncode == 0


@contextlib.contextmanager
def host_disk_gate(cluster: LocalCluster) -> Iterator[None]:
    """KubeVirt's HostDisk feature gate on, in a KubeVirt CR in namespace kubevirt, while the
    body runs: virt-api has seen the CR before the body starts, and has seen it go before
    the next test runs (tests share the cluster and do not depend on order)."""
    cr = {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
          "metadata": {"name": "kubevirt", "namespace": "kubevirt"},
          "spec": {"configuration": {"developerConfiguration": {"featureGates": ["HostDisk"]}}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(cr))
    try:
        wait_for("virt-api to admit hostDisk (HostDisk gate on)",
                 lambda: host_disk_admitted(cluster), timeout=30)
        yield
    finally:
        cluster.kubectl("delete", "kubevirt", "kubevirt", "-n", "kubevirt", "--ignore-not-found",
                        check=False)
        wait_for("virt-api to reject hostDisk again (HostDisk gate off)",
                 lambda: not host_disk_admitted(cluster), timeout=30)
