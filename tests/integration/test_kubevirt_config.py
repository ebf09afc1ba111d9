"""Issue 13 item 3: virt-api follows the KubeVirt CR's spec.configuration without a restart.

The KubeVirt CR in namespace kubevirt is created (or the one there patched) while
virt-api runs; each change is shown taking effect through the webhooks with
server-side dry runs (nothing stored, no guest started), and whatever existed
before is put back exactly.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.helpers import wait_for
from tests.unit.apiserver.builders import new_vm, new_vmi

if TYPE_CHECKING:
    from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
NAMESPACE = "kubevirt"
BRIDGE_REFUSED = "Bridge on pod network configuration is not enabled under kubevirt-config"
DEFAULT_BRIDGE_REFUSED = "bridge interface is not enabled in kubevirt-config"
TIMEOUT = 30.0


@contextlib.contextmanager
def kubevirt_cr(cluster: LocalCluster) -> Iterator[str]:
    """The name of a KubeVirt CR in namespace kubevirt to patch; at the end the namespace's
    KubeVirt CRs are as they were (the spec put back, or the CR made here deleted)."""
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    before = json.loads(cluster.kubectl("get", "kubevirts", "-n", NAMESPACE, "-o", "json").stdout)
    existing = sorted(before.get("items") or [], key=lambda cr: (
        cr["metadata"].get("creationTimestamp") or "", cr["metadata"]["name"]))
    if existing:
        name, saved = existing[0]["metadata"]["name"], existing[0]["spec"]
    else:
        name, saved = "kubevirt", None
        cluster.kubectl("create", "-f", "-", input=json.dumps({
            "apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"configuration": {}}}))
    try:
        yield name
    finally:
        if saved is None:
            cluster.kubectl("delete", "kubevirt", name, "-n", NAMESPACE, "--ignore-not-found",
                            check=False)
        else:
            cluster.kubectl("patch", "kubevirt", name, "-n", NAMESPACE, "--type=json", "-p",
                            json.dumps([{"op": "replace", "path": "/spec", "value": saved}]))


def set_network(cluster: LocalCluster, name: str, **network: Any) -> None:
    """Merge `network` into spec.configuration.network of the CR."""
    cluster.kubectl("patch", "kubevirt", name, "-n", NAMESPACE, "--type=merge", "-p",
                    json.dumps({"spec": {"configuration": {"network": network}}}))


def dry_run(cluster: LocalCluster, obj: Obj) -> tuple[Obj | None, str]:
    """The object as the API server would store it (None when refused) and the error text."""
    res = cluster.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", check=False,
                          input=json.dumps(obj))
    return (json.loads(res.stdout) if res.returncode == 0 else None), res.stderr


def bridge_vm() -> Obj:
    vm = new_vm("bridge-probe")
    vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"] = [
        {"name": "default", "bridge": {}}]
    return vm


def bare_vmi() -> Obj:
    """A VMI that names no network: admission gives it the pod network and the default binding."""
    vmi = new_vmi("binding-probe")
    vmi["spec"].pop("networks")
    vmi["spec"]["domain"]["devices"].pop("interfaces")
    return vmi


def default_binding(cluster: LocalCluster) -> str | None:
    stored, err = dry_run(cluster, bare_vmi())
    if stored is None:
        return err
    interfaces = stored["spec"]["domain"]["devices"]["interfaces"]
    return next(k for k in interfaces[0] if k != "name")


def test_permit_bridge_on_the_pod_network_is_followed_without_a_restart(
        cluster: LocalCluster) -> None:
    with kubevirt_cr(cluster) as name:
        set_network(cluster, name, permitBridgeInterfaceOnPodNetwork=False)
        err = wait_for("virt-api to refuse bridge on the pod network",
                       lambda: dry_run(cluster, bridge_vm())[1] or None, timeout=TIMEOUT)
        assert BRIDGE_REFUSED in err
        assert "spec.template.spec.domain.devices.interfaces[0].name" in err
        set_network(cluster, name, permitBridgeInterfaceOnPodNetwork=True)
        stored = wait_for("virt-api to admit bridge on the pod network again",
                          lambda: dry_run(cluster, bridge_vm())[0], timeout=TIMEOUT)
        assert stored["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"] == [
            {"name": "default", "bridge": {}}]


def test_the_default_binding_follows_default_network_interface(cluster: LocalCluster) -> None:
    with kubevirt_cr(cluster) as name:
        set_network(cluster, name, defaultNetworkInterface="bridge",
                    permitBridgeInterfaceOnPodNetwork=True)
        wait_for("a bare VMI to get the bridge binding",
                 lambda: default_binding(cluster) == "bridge", timeout=TIMEOUT)
        set_network(cluster, name, permitBridgeInterfaceOnPodNetwork=False)
        refused = wait_for("virt-api to refuse a default bridge binding",
                           lambda: (b := default_binding(cluster)) != "bridge" and b,
                           timeout=TIMEOUT)
        assert DEFAULT_BRIDGE_REFUSED in str(refused)
        set_network(cluster, name, defaultNetworkInterface="masquerade")
        wait_for("a bare VMI to get the masquerade binding",
                 lambda: default_binding(cluster) == "masquerade", timeout=TIMEOUT)
