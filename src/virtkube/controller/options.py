"""What differs between clusters: the launcher image and the host paths it shares.

On the local cluster the launcher image is `virtkube/local:dev` (the code of
this checkout) and the host paths live in the cluster's state folder; on a
real cluster they come from the virt-controller Deployment's flags.
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
    #: Host folder of the OCI image store that containerDisk images resolve in.
    containerdisk_store: str = "/var/lib/kubevirt/containerdisks"
    #: Command that starts virt-launcher in the image.
    command: tuple[str, ...] = ("python", "-m", "virtkube.launcher")
    #: Default CPU request of a launcher pod, as KubeVirt's `CPURequest` config.
    cpu_request: str = "100m"
    #: Extra seconds on top of the VMI's grace period before the pod is killed.
    grace_margin_seconds: int = 15
