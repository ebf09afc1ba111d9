"""VMI -> virt-launcher Pod, as one pure function.

The pod carries what KubeVirt's does where users and tools look for it
(labels `kubevirt.io=virt-launcher`, `kubevirt.io/created-by=<vmi uid>`, the
VMI's own labels so Services select it, the `compute` container), requests
the guest's memory plus the launcher overhead, and mounts the volumes the
launcher turns into disks. The VMI spec itself does not travel in the pod:
virt-handler sends it to the launcher with Sync.
"""

from __future__ import annotations

from typing import Any

from virtkube.api import VirtualMachineInstance, to_bytes
from virtkube.api.credentials import AccessCredential
from virtkube.api.devices import Disk
from virtkube.api.facts import guest_memory
from virtkube.api.vmi import Probe
from virtkube.api.volumes import Volume
from virtkube.controller.options import LauncherOptions
from virtkube.controller.overhead import memory_overhead

Obj = dict[str, Any]

#: Where the launcher finds pod-provided volumes, by kind (KubeVirt's layout).
PRIVATE_DIR = "/var/run/kubevirt-private"
DISKS_DIR = f"{PRIVATE_DIR}/vmi-disks"
#: The per-VMI host folder is mounted at SOCKETS_DIR/<vmi uid>: the uid then
#: shows in the launcher's and QEMU's command lines, so `ps` on a node tells
#: which VMI a QEMU belongs to (and tests and benchmarks find it the same way).
SOCKETS_DIR = "/var/run/kubevirt/sockets"
#: Where each disk container listens (<volume>.sock) and the launcher connects (KubeVirt's
#: ephemeral container-disk folder); an emptyDir the pod's containers share.
DISK_SOCKETS_DIR = "/var/run/kubevirt-ephemeral-disks/container-disk-data"
#: The container-disk program: in the launcher image, copied by an init container into an
#: emptyDir that every disk container mounts at /usr/bin (its image has nothing to run).
CONTAINER_DISK_BINARY = "/usr/bin/container-disk"
#: KubeVirt's name of the kernelBoot container (the launcher finds kernel-boot.sock).
KERNEL_BOOT_CONTAINER = "kernel-boot"
#: The compute container runs as root (not privileged) with the runtime's default
#: capabilities plus NET_ADMIN, which the guest's DHCP server (dnsmasq) insists on.
#: KubeVirt's launcher runs as the qemu user 107 with NET_BIND_SERVICE only (its DHCP
#: server is its own); here a uid-107 QEMU could not open the devices the plugins give:
#: this machine's /dev/kvm and /dev/net/tun are 0600 root:root, and the local cluster
#: changes nothing on the host outside its home.
COMPUTE_SECURITY_CONTEXT = {"runAsUser": 0, "privileged": False,
                            "capabilities": {"add": ["NET_ADMIN"]}}
#: A disk container runs one sleeping process: KubeVirt's small, fixed resources.
DISK_CONTAINER_RESOURCES = {"requests": {"cpu": "1m", "memory": "1M"},
                            "limits": {"cpu": "10m", "memory": "40M"}}

#: The VMI label KubeVirt sets to the node the VMI runs on.
NODE_NAME_LABEL = "kubevirt.io/nodeName"
CREATED_BY_LABEL = "kubevirt.io/created-by"
APP_LABEL = "kubevirt.io"
SCHEDULABLE_LABEL = "kubevirt.io/schedulable"
DEFAULT_GRACE_SECONDS = 30


def _resources(vmi: VirtualMachineInstance, opts: LauncherOptions) -> Obj:
    """Requests and limits of the compute container (KubeVirt's ResourceRenderer).

    Memory: the guest's request (the guest memory when none is given) plus the
    overhead; with `resources.overcommitGuestOverhead` the request leaves the
    overhead out (WithMemoryOverhead), the limit always has it.
    """
    domain = vmi.spec.domain
    res = domain.resources
    requests = dict((res.requests if res else None) or {})
    limits = dict((res.limits if res else None) or {})
    extra = memory_overhead(domain)
    base = to_bytes(requests["memory"]) if "memory" in requests else guest_memory(domain) or 0
    requested_extra = 0 if res and res.overcommit_guest_overhead else extra
    out_requests: dict[str, str] = {"memory": str(base + requested_extra),
                                    "cpu": str(requests.get("cpu", opts.cpu_request))}
    out: Obj = {"requests": out_requests}
    out_limits: dict[str, str] = {}
    if "memory" in limits:
        out_limits["memory"] = str(to_bytes(limits["memory"]) + extra)
    if "cpu" in limits:
        out_limits["cpu"] = str(limits["cpu"])
    if out_limits:
        out["limits"] = out_limits
    return out


def _host_disk(name: str, volume: Volume, read_only: bool) -> tuple[Obj, Obj]:
    """KubeVirt's hostDisk: the folder of the file as a hostPath volume, mounted at
    vmi-disks/<volume>/, where the launcher opens the file by its name and nothing else
    of the host. Type Directory for Disk (the file must be there), DirectoryOrCreate for
    DiskOrCreate; read-only when every disk using it is."""
    assert volume.host_disk is not None
    hd = volume.host_disk
    folder = hd.path.rsplit("/", 1)[0] or "/"
    kind = "Directory" if hd.type == "Disk" else "DirectoryOrCreate"
    mount: Obj = {"name": name, "mountPath": f"{DISKS_DIR}/{volume.name}"}
    if read_only:
        mount["readOnly"] = True
    return {"name": name, "hostPath": {"path": folder, "type": kind}}, mount


def _volume_mounts(volumes: list[Volume], disks: list[Disk]) -> tuple[list[Obj], list[Obj]]:
    """Pod volumes and mounts for the VMI volumes that need one."""
    pod_volumes: list[Obj] = []
    mounts: list[Obj] = []
    users: dict[str, list[Disk]] = {}
    for d in disks:
        users.setdefault(d.name, []).append(d)
    for v in volumes:
        name = f"vol-{v.name}"
        if v.persistent_volume_claim is not None:
            pvc = v.persistent_volume_claim
            pod_volumes.append({"name": name, "persistentVolumeClaim": {
                "claimName": pvc.claim_name, **({"readOnly": True} if pvc.read_only else {})}})
            mounts.append({"name": name, "mountPath": f"{DISKS_DIR}/{v.name}"})
        elif v.data_volume is not None:
            pod_volumes.append({"name": name, "persistentVolumeClaim": {
                "claimName": v.data_volume.name}})
            mounts.append({"name": name, "mountPath": f"{DISKS_DIR}/{v.name}"})
        elif v.ephemeral is not None and v.ephemeral.persistent_volume_claim is not None:
            pod_volumes.append({"name": name, "persistentVolumeClaim": {
                "claimName": v.ephemeral.persistent_volume_claim.claim_name, "readOnly": True}})
            mounts.append({"name": name, "mountPath": f"{DISKS_DIR}/{v.name}",
                           "readOnly": True})
        elif v.host_disk is not None:
            using = users.get(v.name, [])
            volume, mount = _host_disk(name, v, bool(using) and all(
                d.is_read_only() for d in using))
            pod_volumes.append(volume)
            mounts.append(mount)
        elif v.config_map is not None:
            pod_volumes.append({"name": name, "configMap": {"name": v.config_map.name}})
            mounts.append({"name": name, "mountPath": f"{PRIVATE_DIR}/config-map/{v.name}",
                           "readOnly": True})
        elif v.secret is not None:
            pod_volumes.append({"name": name, "secret": {"secretName": v.secret.secret_name}})
            mounts.append({"name": name, "mountPath": f"{PRIVATE_DIR}/secret/{v.name}",
                           "readOnly": True})
        elif v.service_account is not None:
            pod_volumes.append({"name": name, "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt",
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "fieldPath": "metadata.namespace"}}]}},
            ]}})
            mounts.append({"name": name, "mountPath": f"{PRIVATE_DIR}/service-account",
                           "readOnly": True})
        else:
            for source in (v.cloud_init_no_cloud, v.cloud_init_config_drive):
                if source is None:
                    continue
                # The launcher reads secret/<volume>/ and secret/<volume>-ndata/ (KubeVirt's).
                for suffix, ref in (("", source.secret_ref),
                                    ("-ndata", source.network_data_secret_ref)):
                    if ref is None or not ref.name:
                        continue
                    vol = f"{name}{suffix or '-udata'}"
                    pod_volumes.append({"name": vol, "secret": {"secretName": ref.name}})
                    mounts.append({"name": vol, "readOnly": True,
                                   "mountPath": f"{PRIVATE_DIR}/secret/{v.name}{suffix}"})
    return pod_volumes, mounts


def _access_credential_mounts(creds: list[AccessCredential]) -> tuple[list[Obj], list[Obj]]:
    """Each Secret of spec.accessCredentials, read-only at secret/<secretName>-access-cred
    (KubeVirt's withAccessCredentials), where the launcher reads the keys for cloud-init.
    The pod volume is named by position: a Secret's name need not be a DNS label."""
    names = sorted({secret.secret_name for c in creds
                    for source in (c.ssh_public_key, c.user_password)
                    if source is not None and (secret := source.source.secret) is not None})
    volumes = [{"name": f"access-cred-{i}", "secret": {"secretName": name}}
               for i, name in enumerate(names)]
    mounts = [{"name": f"access-cred-{i}", "readOnly": True,
               "mountPath": f"{PRIVATE_DIR}/secret/{name}-access-cred"}
              for i, name in enumerate(names)]
    return volumes, mounts


def _pull_policy(image: str, policy: str | None) -> str:
    """Kubernetes' default where the VMI says nothing: Always for `:latest` or no tag."""
    if policy:
        return policy
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def _disk_container(name: str, image: str, policy: str | None, socket_name: str) -> Obj:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": _pull_policy(image, policy),
        "command": [CONTAINER_DISK_BINARY],
        "args": ["--copy-path", f"{DISK_SOCKETS_DIR}/{socket_name}"],
        "resources": DISK_CONTAINER_RESOURCES,
        "volumeMounts": [{"name": "container-disks", "mountPath": DISK_SOCKETS_DIR},
                         {"name": "virt-bin-share-dir", "mountPath": "/usr/bin"}],
    }


def disk_containers(vmi: VirtualMachineInstance, opts: LauncherOptions
                    ) -> tuple[list[Obj], list[Obj], list[str]]:
    """KubeVirt's containerDisks: an init container that copies the container-disk program
    out of the launcher image, then one container per containerDisk volume (and one for a
    kernelBoot image) running it; returns (init containers, containers, pull secrets)."""
    spec = vmi.spec
    containers: list[Obj] = []
    secrets: list[str] = []
    for v in spec.volumes or []:
        cd = v.container_disk
        if cd is None:
            continue
        containers.append(_disk_container(f"volume{v.name}", cd.image, cd.image_pull_policy,
                                          v.name))
        if cd.image_pull_secret:
            secrets.append(cd.image_pull_secret)
    fw = spec.domain.firmware
    kernel = fw.kernel_boot.container if fw and fw.kernel_boot else None
    if kernel is not None:
        containers.append(_disk_container(KERNEL_BOOT_CONTAINER, kernel.image,
                                          kernel.image_pull_policy, KERNEL_BOOT_CONTAINER))
        if kernel.image_pull_secret:
            secrets.append(kernel.image_pull_secret)
    if not containers:
        return [], [], []
    init = {
        "name": "container-disk-binary",
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/usr/bin/cp", CONTAINER_DISK_BINARY, "/init/usr/bin/container-disk"],
        "resources": DISK_CONTAINER_RESOURCES,
        "volumeMounts": [{"name": "virt-bin-share-dir", "mountPath": "/init/usr/bin"}],
    }
    return [init], containers, sorted(set(secrets))


def _probe(probe: Probe | None) -> Obj | None:
    """A VMI probe as the compute container's (KubeVirt's copyProbe): the kubelet runs it
    against the pod IP, which the masquerade binding forwards to the guest (and the bridge
    binding gives to the guest). Only httpGet and tcpSocket reach here: admission refuses
    exec and guestAgentPing (api/supported.py), which need a guest agent."""
    if probe is None or (probe.http_get is None and probe.tcp_socket is None):
        return None
    fields = (("httpGet", probe.http_get), ("tcpSocket", probe.tcp_socket),
              ("initialDelaySeconds", probe.initial_delay_seconds),
              ("timeoutSeconds", probe.timeout_seconds),
              ("periodSeconds", probe.period_seconds),
              ("successThreshold", probe.success_threshold),
              ("failureThreshold", probe.failure_threshold))
    return {key: value for key, value in fields if value is not None}


def launcher_pod(vmi: VirtualMachineInstance, opts: LauncherOptions) -> Obj:
    """The launcher Pod for `vmi` (metadata.generateName: the API server names it)."""
    meta = vmi.metadata
    assert meta is not None and meta.name and meta.uid and meta.namespace
    spec = vmi.spec
    grace = spec.termination_grace_period_seconds
    grace = DEFAULT_GRACE_SECONDS if grace is None else grace
    labels = {**(meta.labels or {}), APP_LABEL: "virt-launcher",
              CREATED_BY_LABEL: meta.uid, "vm.kubevirt.io/name": meta.name}
    labels.pop(NODE_NAME_LABEL, None)
    pod_volumes, mounts = _volume_mounts(list(spec.volumes or []),
                                         list(spec.domain.devices.disks or []))
    cred_volumes, cred_mounts = _access_credential_mounts(list(spec.access_credentials or []))
    pod_volumes += cred_volumes
    mounts += cred_mounts
    uid_dir = f"{opts.sockets_host_dir}/{meta.uid}"
    pod_volumes = [
        {"name": "private", "emptyDir": {}},
        {"name": "sockets", "hostPath": {"path": uid_dir, "type": "DirectoryOrCreate"}},
        *pod_volumes,
    ]
    mounts = [
        {"name": "private", "mountPath": PRIVATE_DIR},
        {"name": "sockets", "mountPath": f"{SOCKETS_DIR}/{meta.uid}"},
        *mounts,
    ]
    # The run dir is the per-VMI host folder, so virt-handler on the same node
    # finds launcher.sock, console.sock and vnc.sock there; the VMI itself
    # arrives with virt-handler's Sync.
    command = [*opts.command, "--run-dir", f"{SOCKETS_DIR}/{meta.uid}",
               "--state-dir", f"{PRIVATE_DIR}/state", "--mounts-dir", PRIVATE_DIR]
    init_containers, disk_ctrs, pull_secrets = disk_containers(vmi, opts)
    if disk_ctrs:
        pod_volumes[2:2] = [{"name": "container-disks", "emptyDir": {}},
                            {"name": "virt-bin-share-dir", "emptyDir": {}}]
        mounts.insert(2, {"name": "container-disks", "mountPath": DISK_SOCKETS_DIR})
        command += ["--container-disks-dir", DISK_SOCKETS_DIR]
    resources = _resources(vmi, opts)
    if opts.device_resources:
        resources.setdefault("limits", {}).update({r: "1" for r in opts.device_resources})
    pod_spec: Obj = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # The launcher shuts the guest down within the VMI's grace period;
        # the margin covers QEMU's exit and the launcher's cleanup.
        "terminationGracePeriodSeconds": grace + opts.grace_margin_seconds,
        "nodeSelector": {**(spec.node_selector or {}), SCHEDULABLE_LABEL: "true"},
        "containers": [{
            "name": "compute",
            "image": opts.image,
            "imagePullPolicy": "IfNotPresent",
            "command": command,
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
                "fieldPath": "metadata.name"}}}],
            "resources": resources,
            "volumeMounts": mounts,
            "securityContext": COMPUTE_SECURITY_CONTEXT,
        }, *disk_ctrs],
        "volumes": pod_volumes,
    }
    if disk_ctrs:
        # The launcher reaches each disk container's files through /proc/<pid>/root.
        pod_spec["shareProcessNamespace"] = True
        pod_spec["initContainers"] = init_containers
    if pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    for key, probe in (("livenessProbe", spec.liveness_probe),
                       ("readinessProbe", spec.readiness_probe)):
        rendered = _probe(probe)
        if rendered is not None:
            pod_spec["containers"][0][key] = rendered
    for field, value in (("affinity", spec.affinity), ("tolerations", spec.tolerations),
                         ("schedulerName", spec.scheduler_name),
                         ("priorityClassName", spec.priority_class_name),
                         ("topologySpreadConstraints", spec.topology_spread_constraints),
                         ("hostname", spec.hostname or meta.name),
                         ("subdomain", spec.subdomain), ("dnsPolicy", spec.dns_policy),
                         ("dnsConfig", spec.dns_config),
                         ("serviceAccountName", spec.service_account_name)):
        if value is not None:
            pod_spec[field] = value
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"virt-launcher-{meta.name}-",
            "namespace": meta.namespace,
            "labels": labels,
            "annotations": {"kubevirt.io/domain": meta.name,
                            "kubectl.kubernetes.io/default-container": "compute"},
            "ownerReferences": [{
                "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "name": meta.name, "uid": meta.uid, "controller": True,
                "blockOwnerDeletion": True,
            }],
        },
        "spec": pod_spec,
    }
