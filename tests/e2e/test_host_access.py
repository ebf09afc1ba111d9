"""Issue 20 end to end: a guest reaches only the node files its pod was given.

A hostDisk, with KubeVirt's HostDisk gate on, is the one file the launcher pod
mounted (read-only when its disk is); a PVC whose disk.img is a symlink to a
node file fails with an Event that names the volume, and no QEMU ever starts
with that file.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.guest import Console, qemu_pids
from tests.e2e.test_vm_lifecycle import (
    BOOT_TIMEOUT,
    apply,
    get,
    vm_manifest,
    vmi_uid,
    wait_status,
)
from tests.integration.helpers import host_disk_gate, wait_for
from virtkube.local.cluster import LocalCluster
from virtkube.local.procs import cmdline

pytestmark = pytest.mark.e2e

#: Prints the first bytes of every virtio disk, then a line that ends the listing.
LIST_DISKS = ("#!/bin/sh\nfor d in /sys/block/vd*; do n=${d##*/}; "
              "echo \"disk $n: $(dd if=/dev/$n bs=64 count=1 2>/dev/null | tr -cd 'a-z0-9-')\"; "
              "done\necho disks-listed\n")


@pytest.fixture
def name(cluster: LocalCluster) -> Any:
    vm = f"vm-{uuid.uuid4().hex[:6]}"
    yield vm
    cluster.kubectl("delete", "vm", vm, "-n", "default", "--ignore-not-found", "--wait=true",
                    "--timeout=60s", check=False)


def events(cluster: LocalCluster, uid: str) -> list[tuple[str, str]]:
    """(reason, message) of the Events about the object with this uid."""
    items = json.loads(cluster.kubectl("get", "events", "-A", "-o", "json", "--field-selector",
                                       f"involvedObject.uid={uid}").stdout)["items"]
    return [(e["reason"], e["message"]) for e in items]


def qemu_argvs() -> list[list[str]]:
    """The command line of every QEMU on this machine."""
    out = []
    for entry in Path("/proc").iterdir():
        argv = cmdline(int(entry.name)) if entry.name.isdigit() else None
        if argv and "qemu-system" in argv[0]:
            out.append(argv)
    return out


def test_a_host_disk_guest_sees_the_one_file_its_pod_mounted(
        cluster: LocalCluster, name: str, tmp_path: Path) -> None:
    folder = tmp_path / "hostdisk"
    folder.mkdir()
    marker = f"virtkube-hostdisk-{uuid.uuid4().hex[:12]}"
    image = folder / "data.img"
    image.write_bytes(marker.encode() + b"\n" + b"\0" * ((1 << 20) - len(marker) - 1))
    neighbour = f"virtkube-neighbour-{uuid.uuid4().hex[:12]}"
    (folder / "other.img").write_bytes(neighbour.encode() + b"\0" * 4096)
    before = image.read_bytes()
    vm = vm_manifest(name, user_data=LIST_DISKS)
    tmpl = vm["spec"]["template"]["spec"]
    tmpl["domain"]["devices"]["disks"].append(
        {"name": "host", "disk": {"bus": "virtio", "readonly": True}})
    tmpl["volumes"].append({"name": "host", "hostDisk": {"path": str(image), "type": "Disk"}})
    with host_disk_gate(cluster):  # until the VM's VMI, admitted by the gate too, exists
        apply(cluster, vm)
        uid = vmi_uid(cluster, name)
    try:
        wait_status(cluster, name, "Running")
    except AssertionError as e:
        raise AssertionError(f"{e}; events: {events(cluster, uid)}; vmi: "
                             f"{(get(cluster, 'vmi', name) or {}).get('status')}") from None
    with Console(cluster.home.kubevirt_sockets / uid / "console.sock") as c:
        c.expect(rf"disk vd.: {marker}", BOOT_TIMEOUT)
        c.expect("disks-listed", 30)
        assert neighbour.encode() not in c.output
    (argv,) = [a for a in qemu_argvs() if any(uid in x for x in a)]
    drives = [x for x in argv if "vmi-disks/host/" in x]
    assert drives and all("read-only=on" in x for x in drives), drives
    assert not [x for x in argv if str(folder) in x], "QEMU opened the node's path itself"
    assert image.read_bytes() == before


def test_a_pvc_whose_disk_img_links_to_a_node_file_fails_with_an_event(
        cluster: LocalCluster, name: str, tmp_path: Path) -> None:
    bait = tmp_path / "node-secret.img"
    bait.write_bytes(b"node secret\n" + b"\0" * 4096)
    mtime = bait.stat().st_mtime_ns
    pv_dir = tmp_path / "pv"
    pv_dir.mkdir()
    (pv_dir / "disk.img").symlink_to(bait)
    pv, claim = f"{name}-pv", f"{name}-data"
    apply(cluster, {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                    "spec": {"capacity": {"storage": "64Mi"}, "accessModes": ["ReadWriteOnce"],
                             "storageClassName": "", "hostPath": {"path": str(pv_dir)},
                             "claimRef": {"namespace": "default", "name": claim}}})
    apply(cluster, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim, "namespace": "default"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                             "volumeName": pv, "resources": {"requests": {"storage": "64Mi"}}}})
    try:
        vm = vm_manifest(name, run_strategy="Once")
        tmpl = vm["spec"]["template"]["spec"]
        tmpl["domain"]["devices"]["disks"].append({"name": "data", "disk": {"bus": "virtio"}})
        tmpl["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": claim}})
        apply(cluster, vm)
        uid = vmi_uid(cluster, name)

        def refused() -> str | None:
            found = [message for reason, message in events(cluster, uid)
                     if reason == "SyncFailed"]
            return found[0] if found else None

        message = wait_for("a SyncFailed Event on the VMI", refused, BOOT_TIMEOUT)
        assert "volume 'data'" in message and "is a symbolic link" in message, message
        assert "was not opened" in message, message
        vmi = wait_for("the VMI Failed", lambda: (lambda v: v if (v or {}).get(
            "status", {}).get("phase") == "Failed" else None)(get(cluster, "vmi", name)), 60)
        ready = [c for c in vmi["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and "symbolic link" in ready[0]["message"], ready
        time.sleep(2)  # past any retry of the Sync
        assert not qemu_pids(uid), "a QEMU started for the VMI"
        assert not [a for a in qemu_argvs() if any(str(bait) in x or "vmi-disks/data" in x
                                                   for x in a)]
        assert bait.read_bytes().startswith(b"node secret") and bait.stat().st_mtime_ns == mtime
    finally:
        cluster.kubectl("delete", "vm", name, "-n", "default", "--ignore-not-found",
                        "--wait=true", "--timeout=60s", check=False)
        cluster.kubectl("delete", "pvc", claim, "-n", "default", "--ignore-not-found",
                        "--wait=false", check=False)
        cluster.kubectl("delete", "pv", pv, "--ignore-not-found", "--wait=false", check=False)
