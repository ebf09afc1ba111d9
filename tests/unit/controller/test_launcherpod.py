"""VMI -> launcher Pod golden files, one per case (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.unit.controller.builders import new_vmi
from virtkube.api import VirtualMachineInstance
from virtkube.controller.launcherpod import launcher_pod
from virtkube.controller.options import LauncherOptions
from virtkube.controller.overhead import MIB, overhead_bytes

GOLDEN = Path(__file__).parent / "golden"
OPTS = LauncherOptions(sockets_host_dir="/var/lib/vk/sockets")

CASES: dict[str, dict[str, Any]] = {
    "minimal": {"domain": {"devices": {}, "memory": {"guest": "128Mi"}}},
    "resources-and-scheduling": {
        "domain": {"devices": {}, "cpu": {"cores": 2, "sockets": 1, "threads": 1},
                   "resources": {"requests": {"memory": "1Gi", "cpu": "500m"},
                                 "limits": {"memory": "2Gi", "cpu": "2"}}},
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 0,
        "hostname": "myhost",
    },
    "reserved-overhead": {
        "domain": {"devices": {}, "memory": {"guest": "1Gi", "reservedOverhead": {
            "addedOverhead": "100Mi"}}, "resources": {"requests": {"memory": "1Gi"},
                                                       "limits": {"memory": "1Gi"}}},
    },
    "overcommit-guest-overhead": {
        "domain": {"devices": {}, "resources": {
            "overcommitGuestOverhead": True, "requests": {"memory": "1Gi"},
            "limits": {"memory": "2Gi"}}},
    },
    # KubeVirt copies httpGet/tcpSocket probes and their timing onto the compute container.
    "probes": {
        "domain": {"devices": {}, "memory": {"guest": "128Mi"}},
        "readinessProbe": {"tcpSocket": {"port": 1500}, "initialDelaySeconds": 5,
                           "periodSeconds": 2, "timeoutSeconds": 1, "successThreshold": 1,
                           "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"port": 80, "path": "/healthz"},
                          "initialDelaySeconds": 120, "periodSeconds": 20},
    },
    "volumes": {
        "domain": {"devices": {"disks": [{"name": "host-ro", "disk": {"readonly": True}}]},
                   "memory": {"guest": "64Mi"}},
        "volumes": [
            {"name": "root", "containerDisk": {"image": "virtkube/tiny-guest:latest"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc"}},
            {"name": "host", "hostDisk": {"path": "/var/data/disk.img", "type": "Disk"}},
            {"name": "host-ro", "hostDisk": {"path": "/srv/img/ro.img", "type": "DiskOrCreate",
                                             "capacity": "1Gi"}},
            {"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "userdata"}}},
            {"name": "cm", "configMap": {"name": "settings"}},
            {"name": "sec", "secret": {"secretName": "creds"}},
            {"name": "sa", "serviceAccount": {"serviceAccountName": "default"}},
            {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}},
        ],
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_launcher_pod_matches_golden(case: str) -> None:
    vmi = VirtualMachineInstance.model_validate(
        new_vmi(spec=CASES[case], labels={"app": "demo", "kubevirt.io/nodeName": "old"}))
    text = json.dumps(launcher_pod(vmi, OPTS), indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / f"pod-{case}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} is stale; UPDATE_GOLDEN=1 and review"


def test_memory_request_is_guest_plus_overhead() -> None:
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=CASES["minimal"]))
    requests = launcher_pod(vmi, OPTS)["spec"]["containers"][0]["resources"]["requests"]
    assert int(requests["memory"]) == 128 * MIB + overhead_bytes(128 * MIB, 1)
    assert requests["cpu"] == "100m"


def _memory(spec: dict[str, Any]) -> tuple[int, int | None]:
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=spec))
    resources = launcher_pod(vmi, OPTS)["spec"]["containers"][0]["resources"]
    limit = resources.get("limits", {}).get("memory")
    return int(resources["requests"]["memory"]), None if limit is None else int(limit)


def test_reserved_overhead_is_added_to_request_and_limit() -> None:
    """KubeVirt's GetMemoryOverhead adds memory.reservedOverhead.addedOverhead."""
    extra = overhead_bytes(1024 * MIB, 1) + 100 * MIB
    assert _memory(CASES["reserved-overhead"]) == (1024 * MIB + extra, 1024 * MIB + extra)


def test_overcommit_guest_overhead_leaves_it_out_of_the_request_only() -> None:
    """KubeVirt's WithMemoryOverhead: the request is the guest's, the limit keeps the overhead."""
    extra = overhead_bytes(1024 * MIB, 1)
    assert _memory(CASES["overcommit-guest-overhead"]) == (1024 * MIB, 2048 * MIB + extra)


def test_vcpus_of_the_overhead_follow_cpu_resources_without_topology() -> None:
    """GetCPUTopology: no topology, so the CPU limit gives the vCPUs the overhead counts."""
    spec = {"domain": {"devices": {}, "memory": {"guest": "128Mi"},
                       "resources": {"limits": {"cpu": "3"}}}}
    assert _memory(spec)[0] == 128 * MIB + overhead_bytes(128 * MIB, 3)


def test_pod_is_owned_by_its_vmi_and_carries_kubevirt_labels() -> None:
    vmi = VirtualMachineInstance.model_validate(new_vmi(labels={"app": "demo"}))
    meta = launcher_pod(vmi, OPTS)["metadata"]
    assert meta["labels"]["kubevirt.io"] == "virt-launcher"
    assert meta["labels"]["kubevirt.io/created-by"] == vmi.metadata.uid  # type: ignore[union-attr]
    assert meta["labels"]["app"] == "demo", "Services select VMIs by their labels"
    assert meta["ownerReferences"][0]["kind"] == "VirtualMachineInstance"
    assert meta["ownerReferences"][0]["controller"] is True


def _host_disk_vmi(disk: dict[str, Any]) -> VirtualMachineInstance:
    spec = {"domain": {"devices": {"disks": [{"name": "hd", **disk}]}, "memory": {"guest": "64Mi"}},
            "volumes": [{"name": "hd", "hostDisk": {"path": "/etc/shadow", "type": "Disk"}}]}
    return VirtualMachineInstance.model_validate(new_vmi(spec=spec))


@pytest.mark.parametrize(("disk", "read_only"), [
    ({"disk": {"bus": "sata"}}, False),
    ({"disk": {"bus": "virtio", "readonly": True}}, True),
    ({"cdrom": {"bus": "sata"}}, True),
    ({"cdrom": {"bus": "sata", "readonly": False}}, False),
])  # fmt: skip
def test_a_host_disk_mounts_only_its_folder_and_honours_read_only(
        disk: dict[str, Any], read_only: bool) -> None:
    """Issue 20: the pod gets the folder of the file, at KubeVirt's vmi-disks/<volume>/."""
    pod = launcher_pod(_host_disk_vmi(disk), OPTS)["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "vol-hd"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "vol-hd"]
    assert volume["hostPath"] == {"path": "/etc", "type": "Directory"}
    assert mount["mountPath"] == "/var/run/kubevirt-private/vmi-disks/hd"
    assert mount.get("readOnly", False) is read_only


def test_access_credential_secrets_are_mounted_where_the_launcher_reads_them() -> None:
    """KubeVirt's secret/<secretName>-access-cred, read-only; each Secret once; the pod
    volume named by position (a Secret name may hold dots)."""
    creds = [{"sshPublicKey": {"source": {"secret": {"secretName": name}},
                               "propagationMethod": {"noCloud": {}}}}
             for name in ("my.keys", "other", "my.keys")]
    vmi = VirtualMachineInstance.model_validate(
        new_vmi(spec={**CASES["minimal"], "accessCredentials": creds}))
    pod = launcher_pod(vmi, OPTS)["spec"]
    volumes = {v["name"]: v for v in pod["volumes"] if v["name"].startswith("access-cred")}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]
              if m["name"].startswith("access-cred")}
    assert {n: v["secret"]["secretName"] for n, v in volumes.items()} == {
        "access-cred-0": "my.keys", "access-cred-1": "other"}
    assert mounts["access-cred-0"] == {
        "name": "access-cred-0", "readOnly": True,
        "mountPath": "/var/run/kubevirt-private/secret/my.keys-access-cred"}
    assert mounts["access-cred-1"]["mountPath"].endswith("/secret/other-access-cred")


def test_socket_paths_are_named_by_the_vmi_uid_never_its_name() -> None:
    """Names the user picks never become host paths; the API server assigns the uid."""
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=CASES["minimal"]))
    pod = launcher_pod(vmi, OPTS)["spec"]
    host_paths = [v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v]
    assert f"{OPTS.sockets_host_dir}/{vmi.metadata.uid}" in host_paths  # type: ignore[union-attr]
    assert not [p for p in host_paths if vmi.metadata.name in p]  # type: ignore[operator]


#: The image's own command, containerDisks as containers, device plugins.
KUBELET_OPTS = LauncherOptions(image="registry:5000/virtkube/virt-launcher:dev",
                               sockets_host_dir="/var/lib/vk/sockets",
                               command=("/opt/virtkube/bin/python", "-m", "virtkube.launcher"),
                               device_resources=("devices.kubevirt.io/kvm",
                                                 "devices.kubevirt.io/tun"))
KUBELET_CASE = {
    "domain": {"devices": {}, "memory": {"guest": "64Mi"},
               "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0", "container": {
                   "image": "registry:5000/kubevirt/alpine-ext-kernel-boot-demo:devel",
                   "kernelPath": "/boot/vmlinux", "imagePullSecret": "pull"}}}},
    "volumes": [
        {"name": "root", "containerDisk": {"image": "registry:5000/virtkube/tiny-guest"}},
        {"name": "extra", "containerDisk": {"image": "example.org/disks/extra:v1",
                                            "imagePullSecret": "pull"}},
        {"name": "scratch", "emptyDisk": {"capacity": "1Gi"}},
    ],
}


def test_kubelet_launcher_pod_matches_golden() -> None:
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=KUBELET_CASE))
    text = json.dumps(launcher_pod(vmi, KUBELET_OPTS), indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / "pod-kubelet-containerdisks.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} is stale; UPDATE_GOLDEN=1 and review"


def test_containerdisks_are_containers_of_the_pod_sharing_its_processes() -> None:
    """KubeVirt's way: the disk's image runs as a container (the container-disk program
    copied in by an init container), the launcher reaches it through the shared process
    namespace; no host folder of images."""
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=KUBELET_CASE))
    spec = launcher_pod(vmi, KUBELET_OPTS)["spec"]
    assert spec["shareProcessNamespace"] is True
    by_name = {c["name"]: c for c in spec["containers"]}
    assert set(by_name) == {"compute", "volumeroot", "volumeextra", "kernel-boot"}
    assert by_name["volumeroot"]["imagePullPolicy"] == "Always", "no tag means latest"
    assert by_name["volumeextra"]["imagePullPolicy"] == "IfNotPresent"
    assert by_name["volumeextra"]["args"] == [
        "--copy-path", "/var/run/kubevirt-ephemeral-disks/container-disk-data/extra"]
    assert [c["name"] for c in spec["initContainers"]] == ["container-disk-binary"]
    assert spec["initContainers"][0]["image"] == KUBELET_OPTS.image
    assert spec["imagePullSecrets"] == [{"name": "pull"}]
    assert not any("hostPath" in v and "containerdisks" in v["name"] for v in spec["volumes"])
    compute = by_name["compute"]
    assert compute["resources"]["limits"] == {"devices.kubevirt.io/kvm": "1",
                                              "devices.kubevirt.io/tun": "1"}
    assert compute["command"][-2:] == ["--container-disks-dir",
                                       "/var/run/kubevirt-ephemeral-disks/container-disk-data"]


def test_without_containerdisks_the_pod_has_no_disk_containers() -> None:
    vmi = VirtualMachineInstance.model_validate(new_vmi(spec=CASES["minimal"]))
    spec = launcher_pod(vmi, KUBELET_OPTS)["spec"]
    assert [c["name"] for c in spec["containers"]] == ["compute"]
    assert "initContainers" not in spec and "shareProcessNamespace" not in spec
