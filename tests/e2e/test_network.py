"""VM networking end to end on the local cluster (issue 7): masquerade and bridge bindings,
status.interfaces, a ClusterIP Service through kube-proxy, the stable guest address, and
nothing left behind.

All traffic is between pods of the test cluster (its bridge, its netns, its Service
router); no test names an address outside the cluster's own ranges.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.guest import Console
from tests.e2e.test_vm_lifecycle import BOOT_TIMEOUT, apply, get, vm_manifest, wait_status
from tests.integration.helpers import wait_for
from tests.integration.node_helpers import IMAGE
from tests.integration.node_helpers import apply as apply_docs
from virtkube.handler.network.netns import launcher_of
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]

#: Fetches $1 until it answers or 90 tries pass; prints the body (busybox, in a client pod).
FETCH = """
for i in $(seq 90); do
    if body=$(wget -q -O - "$1"); then echo "BODY:$body"; exit 0; fi
    sleep 1
done
echo "FAILED: $1 never answered"; exit 1
"""

#: An HTTP server answering every GET with $1 (a pod the guest calls).
SERVE = """
mkdir -p /www && echo "$1" > /www/index.html && exec httpd -f -p 8080 -h /www
"""


def user_data(token: str) -> str:
    return ("#!/bin/sh\nmkdir -p /www\n"
            f"echo {token} > /www/index.html\nhttpd -p 80 -h /www\n")


def networked_vm(name: str, binding: str, token: str) -> Obj:
    vm = vm_manifest(name, user_data=user_data(token))
    spec = vm["spec"]["template"]["spec"]
    devices = spec["domain"]["devices"]
    devices.pop("autoattachPodInterface", None)
    devices["interfaces"] = [{"name": "default", binding: {}}]
    spec["networks"] = [{"name": "default", "pod": {}}]
    return vm


def kubectl_json(cluster: LocalCluster, *args: str) -> Obj:
    return dict(json.loads(cluster.kubectl(*args, "-o", "json").stdout))


def launcher_pod(cluster: LocalCluster, vmi_uid: str) -> Obj:
    def probe() -> Obj | None:
        items = kubectl_json(cluster, "get", "pods", "-n", "default", "-l",
                             f"kubevirt.io/created-by={vmi_uid}")["items"]
        return items[0] if items and items[0].get("status", {}).get("podIP") else None

    return wait_for(f"launcher pod of {vmi_uid} with an IP", probe, BOOT_TIMEOUT)


def run_pod(cluster: LocalCluster, name: str, script: str, *args: str,
            wait: bool = True) -> str:
    """A pod of the utility image running `sh -c script` with `args`; its log once it ended."""
    apply_docs(cluster, {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "namespace": "default",
                                      "labels": {"app": name}},
                         "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                                  "containers": [{"name": "main", "image": IMAGE,
                                                  "command": ["sh", "-c", script, name,
                                                              *args]}]}})
    if not wait:
        return ""
    seen: list[str] = []

    def ended() -> bool:
        pod = get(cluster, "pod", name) or {}
        seen.append(str(pod.get("status", {}).get("phase")))
        return seen[-1] in ("Succeeded", "Failed")

    wait_for(f"pod {name} to finish", ended, 150)
    logs = cluster.kubectl("logs", "-n", "default", name, check=False).stdout
    assert seen[-1] == "Succeeded", f"pod {name} {seen[-1]}: {logs}"
    return logs


def pod_ip(cluster: LocalCluster, name: str) -> str:
    return str(wait_for(f"pod {name} running with an IP", lambda: (
        (get(cluster, "pod", name) or {}).get("status", {}).get("podIP")
        if (get(cluster, "pod", name) or {}).get("status", {}).get("phase") == "Running"
        else None), 90))


def status_interface(cluster: LocalCluster, name: str) -> Obj:
    return dict(wait_for(f"vmi/{name} status.interfaces[0].ipAddress", lambda: next(
        (i for i in ((get(cluster, "vmi", name) or {}).get("status", {}).get("interfaces")
                     or []) if i.get("ipAddress")), None), BOOT_TIMEOUT))


def login(c: Console) -> None:
    c.expect("login:", BOOT_TIMEOUT)
    c.send("root\n")
    c.expect("# ", 30)


def guest_fetch(c: Console, url: str, expect: str) -> None:
    """wget from the guest's shell; the pattern is not in the command, only in the answer.
    (No `-T`: the tiny guest's busybox 1.35 wget crashes with a timeout set.)"""
    c.send(f"for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - {url} && break; sleep 1; done\n")
    c.expect(expect, 60)


def dnsmasq_children(launcher_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "dnsmasq" and int(stat.rsplit(")", 1)[1].split()[1]) == launcher_pid:
            found.append(int(entry.name))
    return found


def in_pod_netns(launcher_pid: int, *argv: str) -> str:
    """A command in the launcher pod's network namespace, as virt-handler enters it."""
    return subprocess.run(["nsenter", f"--net=/proc/{launcher_pid}/ns/net", *argv],
                          capture_output=True, text=True, check=True).stdout


def netns_links(launcher_pid: int) -> list[str]:
    out = in_pod_netns(launcher_pid, "ip", "-j", "link", "show")
    return [str(link["ifname"]) for link in json.loads(out)]


def netns_tables(launcher_pid: int) -> str:
    return in_pod_netns(launcher_pid, "nft", "list", "tables")


@dataclass
class RunningVM:
    name: str
    token: str
    uid: str
    pod_ip: str
    launcher_pid: int
    console_text: str
    node: str


def start_vm(cluster: LocalCluster, name: str, binding: str) -> RunningVM:
    token = f"guest-{uuid.uuid4().hex[:10]}"
    apply(cluster, networked_vm(name, binding, token))
    return running_vm(cluster, name, token)


def running_vm(cluster: LocalCluster, name: str, token: str) -> RunningVM:
    wait_status(cluster, name, "Running")
    vmi = wait_for(f"vmi/{name}", lambda: get(cluster, "vmi", name))
    uid = str(vmi["metadata"]["uid"])
    pod = launcher_pod(cluster, uid)
    # The launcher's pid as virt-handler finds it: the peer of its command socket.
    launcher = launcher_of(cluster.home.kubevirt_sockets / uid / "launcher.sock").pid
    with Console(cluster.home.kubevirt_sockets / uid / "console.sock") as c:
        # Up to the line's end: a chunk may stop in the middle of the address.
        c.expect(r"virtkube-tiny-guest net: eth0 \S+ router=\S+\r?\n", BOOT_TIMEOUT)
        text = c.output.decode(errors="replace")
    return RunningVM(name, token, uid, str(pod["status"]["podIP"]), launcher, text,
                     str(pod["spec"]["nodeName"]))


def guest_address(vm: RunningVM) -> tuple[str, str]:
    m = re.search(r"virtkube-tiny-guest net: eth0 (\S+)/(\d+) router=(\S+)\r?\n",
                  vm.console_text)
    assert m, vm.console_text[-600:]
    return f"{m.group(1)}/{m.group(2)}", m.group(3)


@pytest.fixture(scope="module")
def peer(cluster: LocalCluster) -> Iterator[tuple[str, str]]:
    """A pod the guests call: (its IP, the text it answers)."""
    # A fresh cluster's controller manager creates the default ServiceAccount a bit later.
    wait_for("serviceaccount default", lambda: get(cluster, "serviceaccount", "default"), 60)
    name, answer = f"peer-{uuid.uuid4().hex[:6]}", f"pod-{uuid.uuid4().hex[:10]}"
    run_pod(cluster, name, SERVE, answer, wait=False)
    yield pod_ip(cluster, name), answer
    cluster.kubectl("delete", "pod", "-n", "default", name, "--wait=false", check=False)


def delete_vm(cluster: LocalCluster, name: str) -> None:
    cluster.kubectl("delete", "vm", "-n", "default", name, "--wait=false", check=False)


def virtctl(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "virtctl"
    if not exe.exists():
        exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "virtctl"
    return subprocess.run([str(exe), "--kubeconfig", str(cluster.home.admin_kubeconfig),
                           "-n", "default", *args], capture_output=True, text=True, check=False)


def test_masquerade_guest_serves_pods_directly_and_through_a_service(
        cluster: LocalCluster, peer: tuple[str, str]) -> None:
    name = f"net-masq-{uuid.uuid4().hex[:6]}"
    vm = start_vm(cluster, name, "masquerade")
    try:
        # The guest sits behind the pod on KubeVirt's private subnet.
        assert guest_address(vm) == ("10.0.2.2/24", "10.0.2.1")
        iface = status_interface(cluster, name)
        assert iface["ipAddress"] == vm.pod_ip and iface["ipAddresses"] == [vm.pod_ip]
        assert iface["name"] == "default" and iface["infoSource"] == "domain"
        assert re.fullmatch(r"02(:[0-9a-f]{2}){5}", iface["mac"])
        row = cluster.kubectl("get", "vmi", "-n", "default", name).stdout
        assert vm.pod_ip in row, row

        # Another pod reaches the guest's httpd through the VMI's pod IP ...
        logs = run_pod(cluster, f"{name}-direct", FETCH, f"http://{iface['ipAddress']}/")
        assert f"BODY:{vm.token}" in logs, logs

        # ... and through a ClusterIP Service made by `virtctl expose` (kube-proxy).
        res = virtctl(cluster, "expose", "vmi", name, "--name", name, "--port", "80")
        assert res.returncode == 0, res.stderr
        svc = kubectl_json(cluster, "get", "service", "-n", "default", name)
        cluster_ip = svc["spec"]["clusterIP"]
        assert ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(
            cluster.config().service_cidr)
        logs = run_pod(cluster, f"{name}-svc", FETCH, f"http://{cluster_ip}/")
        assert f"BODY:{vm.token}" in logs, logs

        # The guest reaches another pod by its IP (masqueraded as the pod IP).
        peer_ip, answer = peer
        with Console(cluster.home.kubevirt_sockets / vm.uid / "console.sock") as c:
            login(c)
            guest_fetch(c, f"http://{peer_ip}:8080/", answer)
    finally:
        cluster.kubectl("delete", "service", "-n", "default", name, check=False)
        for suffix in ("direct", "svc"):
            cluster.kubectl("delete", "pod", "-n", "default", f"{name}-{suffix}",
                            "--wait=false", check=False)
        delete_vm(cluster, name)


def test_bridge_binding_gives_the_guest_the_pod_ip(cluster: LocalCluster,
                                                   peer: tuple[str, str]) -> None:
    name = f"net-bridge-{uuid.uuid4().hex[:6]}"
    vm = start_vm(cluster, name, "bridge")
    try:
        address, _router = guest_address(vm)
        prefix = ipaddress.ip_network(cluster.config().pod_network).prefixlen
        assert address == f"{vm.pod_ip}/{prefix}"
        iface = status_interface(cluster, name)
        assert iface["ipAddress"] == vm.pod_ip
        # The pod interface is a port of the in-pod bridge and has no address of its own.
        links = netns_links(vm.launcher_pid)
        assert {"k6t-eth0", "tap0", "eth0"} <= set(links), links

        logs = run_pod(cluster, f"{name}-direct", FETCH, f"http://{iface['ipAddress']}/")
        assert f"BODY:{vm.token}" in logs, logs

        peer_ip, answer = peer
        with Console(cluster.home.kubevirt_sockets / vm.uid / "console.sock") as c:
            login(c)
            guest_fetch(c, f"http://{peer_ip}:8080/", answer)
    finally:
        cluster.kubectl("delete", "pod", "-n", "default", f"{name}-direct", "--wait=false",
                        check=False)
        delete_vm(cluster, name)


def test_restart_keeps_the_guest_address_and_leaves_nothing_behind(
        cluster: LocalCluster) -> None:
    name = f"net-restart-{uuid.uuid4().hex[:6]}"
    first = start_vm(cluster, name, "masquerade")
    try:
        mac = status_interface(cluster, name)["mac"]
        # What the VMI owns exists while it runs (so the absence below means something).
        assert {"k6t-eth0", "tap0"} <= set(netns_links(first.launcher_pid))
        assert "virtkube_vmi" in netns_tables(first.launcher_pid)
        dhcp = dnsmasq_children(first.launcher_pid)
        assert len(dhcp) == 1, dhcp

        cluster.kubectl("patch", "vm", "-n", "default", name, "--type=merge",
                        "-p", '{"spec":{"runStrategy":"Halted"}}')
        wait_for(f"vmi/{name} gone", lambda: get(cluster, "vmi", name) is None, BOOT_TIMEOUT)
        wait_for(f"launcher {first.launcher_pid} gone",
                 lambda: not Path(f"/proc/{first.launcher_pid}").exists(), 60)
        assert not Path(f"/proc/{dhcp[0]}").exists() or \
            Path(f"/proc/{dhcp[0]}/comm").read_text().strip() != "dnsmasq", \
            f"dnsmasq {dhcp[0]} outlived its VMI"
        assert not dnsmasq_children(first.launcher_pid)

        cluster.kubectl("patch", "vm", "-n", "default", name, "--type=merge",
                        "-p", '{"spec":{"runStrategy":"Always"}}')
        second = running_vm(cluster, name, first.token)
        assert second.uid != first.uid and second.launcher_pid != first.launcher_pid
        # The guest's own address and MAC stay (KubeVirt's masquerade); the pod's IP is
        # whatever the node's IPAM gives the new pod, as on any cluster.
        assert guest_address(second) == guest_address(first) == ("10.0.2.2/24", "10.0.2.1")
        assert status_interface(cluster, name)["mac"] == mac
        assert status_interface(cluster, name)["ipAddress"] == second.pod_ip
    finally:
        delete_vm(cluster, name)
