"""Fixture builders for network tests: plain data, no logic (like KubeVirt's libvmi)."""

from __future__ import annotations

from typing import Any

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.handler.network.podfacts import PodInterface, Route

POD = PodInterface(name="eth0", mac="0a:58:0a:c8:01:05", mtu=1500, address="10.200.1.5/16",
                   routes=(Route("10.96.0.0/16", "10.200.0.250"),
                           Route("10.96.0.1/32", "10.200.0.1")),
                   dns=("10.200.0.10",), search=("default.svc.cluster.local",))


def new_vmi(*interfaces: dict[str, Any], networks: list[dict[str, Any]] | None = None,
            name: str = "web", hostname: str | None = None) -> VirtualMachineInstance:
    spec: dict[str, Any] = {
        "domain": {"devices": {"interfaces": list(interfaces)}, "memory": {"guest": "64Mi"}},
        "networks": networks if networks is not None else [{"name": "default", "pod": {}}],
    }
    if hostname:
        spec["hostname"] = hostname
    return VirtualMachineInstance.model_validate({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": "prod", "uid": "u-1"}, "spec": spec})
