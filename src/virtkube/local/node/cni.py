"""Calling Debian's CNI plugins per the CNI spec (v1.0): bridge + host-local IPAM, loopback.

Each plugin is an executable that reads its network config on stdin and takes the
operation from the environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
CNI_PATH). The configs are pure functions of the cluster's layout; the pod's sandbox id is
its uid, so a DEL after a node restart releases exactly what the ADD took.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtkube.local.node.layout import CNI_BIN_DIR, ClusterNet

CNI_VERSION = "1.0.0"


class CNIError(Exception):
    """A plugin failed; carries the plugin, the command and its error (code, msg, details)."""


def bridge_config(net: ClusterNet, *, index: int, ipam_dir: Path, service_cidr: str
                  ) -> dict[str, Any]:
    first, last = net.pod_range(index)
    return {
        "cniVersion": CNI_VERSION,
        "name": net.cni_network,
        "type": "bridge",
        "bridge": net.bridge,
        # The host address exists already (hostnet); no masquerade, ever.
        "isGateway": False,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(net.network), "rangeStart": first, "rangeEnd": last,
                         "gateway": net.gateway}]],
            # Only the Service range leaves the pod's subnet: to the Service router
            # (kube-proxy's netns on the bridge), and the `kubernetes` Service IP straight
            # to the host (DNAT to the API server) so it works without kube-proxy too.
            # There is deliberately no default route: pod traffic never leaves the machine.
            "routes": [{"dst": service_cidr, "gw": net.service_router},
                       {"dst": f"{_first_host(service_cidr)}/32", "gw": net.gateway}],
            "dataDir": str(ipam_dir),
        },
    }


def _first_host(cidr: str) -> str:
    """The `kubernetes` Service's IP: the API server always takes the range's first address."""
    return str(ipaddress.IPv4Network(cidr).network_address + 1)


def loopback_config(net: ClusterNet) -> dict[str, Any]:
    return {"cniVersion": CNI_VERSION, "name": f"{net.cni_network}-lo", "type": "loopback"}


@dataclass(frozen=True)
class Attachment:
    ip: str
    prefixlen: int


async def invoke(config: dict[str, Any], *, command: str, container_id: str, netns: Path,
                 ifname: str, args: str = "") -> dict[str, Any]:
    plugin = CNI_BIN_DIR / str(config["type"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": str(netns),
        "CNI_IFNAME": ifname, "CNI_PATH": str(CNI_BIN_DIR), "CNI_ARGS": args,
    }
    proc = await asyncio.create_subprocess_exec(
        str(plugin), env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(json.dumps(config).encode())
    if proc.returncode != 0:
        detail = out.decode(errors="replace").strip() or err.decode(errors="replace").strip()
        raise CNIError(f"CNI {config['type']} {command} for {container_id} exited "
                       f"{proc.returncode}: {detail}")
    result: dict[str, Any] = json.loads(out) if out.strip() else {}
    return result


def k8s_args(namespace: str, name: str, uid: str) -> str:
    """CNI_ARGS as the kubelet passes them (plugins ignore what they do not know)."""
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};"
            f"K8S_POD_INFRA_CONTAINER_ID={uid};K8S_POD_UID={uid}")


#: Labels KubeVirt puts on a launcher pod (virt-controller's launcherpod.py).
LAUNCHER_LABELS = ("kubevirt.io", "virt-launcher")
VM_NAME_LABEL = "vm.kubevirt.io/name"


def preferred_ip(net: ClusterNet, index: int, pod_meta: dict[str, Any]) -> str | None:
    """The address a VM's launcher pod asks host-local for on node `index`: derived from
    the VM's namespace and name, so the same VM gets the same pod IP on that node after a
    restart while the address is free (host-local grants a requested IP only if unused).
    None for other pods, which take the next free address."""
    labels = pod_meta.get("labels") or {}
    vm = labels.get(VM_NAME_LABEL)
    if labels.get(LAUNCHER_LABELS[0]) != LAUNCHER_LABELS[1] or not vm:
        return None
    first, last = (ipaddress.IPv4Address(a) for a in net.pod_range(index))
    span = int(last) - int(first) + 1
    digest = hashlib.sha256(f"{pod_meta.get('namespace')}/{vm}".encode()).digest()
    return str(first + int.from_bytes(digest[:4], "big") % span)


async def add(net: ClusterNet, *, index: int, ipam_dir: Path, service_cidr: str,
              container_id: str, netns: Path, args: str = "") -> Attachment:
    await invoke(loopback_config(net), command="ADD", container_id=container_id, netns=netns,
                 ifname="lo", args=args)
    result = await invoke(bridge_config(net, index=index, ipam_dir=ipam_dir,
                                        service_cidr=service_cidr),
                          command="ADD", container_id=container_id, netns=netns,
                          ifname="eth0", args=args)
    ips = result.get("ips") or []
    if not ips:
        raise CNIError(f"CNI bridge ADD for {container_id} returned no address: {result}")
    address, _, prefix = str(ips[0]["address"]).partition("/")
    return Attachment(address, int(prefix or 32))


async def delete(net: ClusterNet, *, index: int, ipam_dir: Path, service_cidr: str,
                 container_id: str, netns: Path, args: str = "") -> None:
    """DEL is idempotent per the spec: a missing netns or allocation is not an error."""
    await invoke(bridge_config(net, index=index, ipam_dir=ipam_dir, service_cidr=service_cidr),
                 command="DEL", container_id=container_id,
                 netns=_existing(netns), ifname="eth0", args=args)


def _existing(netns: Path) -> Path:
    return netns if netns.exists() else Path("")
