"""What differs between clusters: the launcher image, the host paths it shares, the devices.

The launcher is the virt-launcher image, containerDisks are containers of its pod and
/dev/kvm, /dev/net/tun, /dev/vhost-net come from virt-handler's device plugins, as in
KubeVirt; the flags of the virt-controller process say which image and which devices.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The Lease the virt-controller replicas elect their leader with (KubeVirt's name), in
#: --lease-namespace; deploy/rbac/virt-controller.yaml grants exactly this one.
LEASE_NAME = "virt-controller"
#: The virt-launcher image the project builds (`make launcher-image`), as the local
#: cluster's registry serves it; a cluster elsewhere passes its own with --launcher-image.
DEFAULT_LAUNCHER_IMAGE = "registry:5000/virtkube/virt-launcher:dev"


@dataclass(frozen=True)
class LauncherOptions:
    image: str = DEFAULT_LAUNCHER_IMAGE
    #: Host folder holding one subfolder per VMI uid with the launcher's sockets;
    #: virt-handler on the same node reads the same folder.
    sockets_host_dir: str = "/var/run/kubevirt/sockets"
    #: Command that starts virt-launcher in the image.
    command: tuple[str, ...] = ("python", "-m", "virtkube.launcher")
    #: Device plugin resources the compute container asks one of (KubeVirt's
    #: devices.kubevirt.io/kvm, tun, vhost-net): those the nodes advertise.
    device_resources: tuple[str, ...] = ()
    #: Default CPU request of a launcher pod, as KubeVirt's `CPURequest` config.
    cpu_request: str = "100m"
    #: Extra seconds on top of the VMI's grace period before the pod is killed.
    grace_margin_seconds: int = 15
