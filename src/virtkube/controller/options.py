"""What differs between clusters: the launcher image, the host paths it shares, the devices.

On a node with a kubelet the launcher is the virt-launcher image, containerDisks are
containers of its pod and /dev/kvm, /dev/net/tun, /dev/vhost-net come from virt-handler's
device plugins; the local cluster's stand-in nodes run `virtkube/local:dev` (the code of
this checkout) and resolve containerDisks in an image store on the host. The flags of the
virt-controller process say which.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The local node runs exactly this image, meaning "the code of this checkout".
LOCAL_IMAGE = "virtkube/local:dev"


@dataclass(frozen=True)
class LauncherOptions:
    image: str = LOCAL_IMAGE
    #: Host folder holding one subfolder per VMI uid with the launcher's sockets;
    #: virt-handler on the same node reads the same folder.
    sockets_host_dir: str = "/var/run/kubevirt/sockets"
    #: Host folder of the OCI image store that containerDisk images resolve in (the
    #: stand-in node); None: each containerDisk is a container of the pod (KubeVirt's way).
    containerdisk_store: str | None = None
    #: Command that starts virt-launcher in the image.
    command: tuple[str, ...] = ("python", "-m", "virtkube.launcher")
    #: Device plugin resources the compute container asks one of (KubeVirt's
    #: devices.kubevirt.io/kvm, tun, vhost-net): those the nodes advertise.
    device_resources: tuple[str, ...] = ()
    #: Default CPU request of a launcher pod, as KubeVirt's `CPURequest` config.
    cpu_request: str = "100m"
    #: Extra seconds on top of the VMI's grace period before the pod is killed.
    grace_margin_seconds: int = 15
