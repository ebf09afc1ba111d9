"""What each device plugin advertises and answers, as pure functions of the device (no I/O),
so that the wire messages are tested without a kubelet."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from virtkube.handler.deviceplugin import api_pb2 as api

#: The device plugin API version this package speaks (the kubelet rejects others).
API_VERSION = "v1beta1"
#: The kubelet's registration socket, in its device-plugins dir.
KUBELET_SOCKET = "kubelet.sock"
HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"
#: KubeVirt advertises this many of each device per node: the devices are shared (any number
#: of QEMUs open /dev/kvm), so the count only caps the VMs a node accepts.
DEFAULT_COUNT = 1000


@dataclass(frozen=True)
class HostDevice:
    """One shared character device of the host, advertised as `count` interchangeable units
    of resource `devices.kubevirt.io/<name>`."""

    name: str
    path: Path
    #: cgroup device permissions the container gets: QEMU reads and writes these devices and
    #: never creates device nodes (no "m").
    permissions: str = "rw"

    @property
    def resource(self) -> str:
        return f"devices.kubevirt.io/{self.name}"

    @property
    def socket_name(self) -> str:
        """The plugin's socket, a file name in the kubelet's dir (KubeVirt's names, so that
        one node never runs two plugins for one resource)."""
        return f"kubevirt-{self.name}.sock"


KVM = HostDevice("kvm", Path("/dev/kvm"))
TUN = HostDevice("tun", Path("/dev/net/tun"))
VHOST_NET = HostDevice("vhost-net", Path("/dev/vhost-net"))
#: The devices virt-handler offers, as KubeVirt's virt-handler does by default.
KUBEVIRT_DEVICES: tuple[HostDevice, ...] = (KVM, TUN, VHOST_NET)


def device_ids(dev: HostDevice, count: int) -> list[str]:
    return [f"{dev.name}{i}" for i in range(count)]


def device_list(dev: HostDevice, count: int, healthy: bool) -> api.ListAndWatchResponse:
    """ListAndWatch's message: all units share one health, that of the one device node."""
    health = HEALTHY if healthy else UNHEALTHY
    return api.ListAndWatchResponse(
        devices=[api.Device(ID=i, health=health) for i in device_ids(dev, count)])


def register_request(dev: HostDevice) -> api.RegisterRequest:
    return api.RegisterRequest(version=API_VERSION, endpoint=dev.socket_name,
                               resource_name=dev.resource, options=plugin_options())


def plugin_options() -> api.DevicePluginOptions:
    """Neither PreStartContainer nor GetPreferredAllocation is needed: every unit is the
    same device node, so there is nothing to prepare and no unit is better than another."""
    return api.DevicePluginOptions(pre_start_required=False,
                                   get_preferred_allocation_available=False)


def container_response(dev: HostDevice, ids: Iterable[str]) -> api.ContainerAllocateResponse:
    """One device node whatever the number of units: the units are shares, not devices."""
    del ids
    spec = api.DeviceSpec(host_path=str(dev.path), container_path=str(dev.path),
                          permissions=dev.permissions)
    return api.ContainerAllocateResponse(devices=[spec])


def allocate_response(dev: HostDevice, request: api.AllocateRequest) -> api.AllocateResponse:
    """One container response per container request, in order (the kubelet pairs them)."""
    return api.AllocateResponse(container_responses=[
        container_response(dev, req.devices_ids) for req in request.container_requests])
