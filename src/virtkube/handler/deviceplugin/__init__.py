"""virt-handler's device plugins: the kubelet hands /dev/kvm, /dev/net/tun and /dev/vhost-net to
launcher pods that request KubeVirt's resources (devices.kubevirt.io/kvm, tun, vhost-net), so a
launcher needs no privileged container and no hostPath to /dev, and the scheduler only places
VMs on nodes that have the devices (KubeVirt's pkg/virt-handler/device-manager)."""

from virtkube.handler.deviceplugin.devices import KUBEVIRT_DEVICES, HostDevice
from virtkube.handler.deviceplugin.manager import DEFAULT_PLUGINS_DIR, DevicePluginManager

__all__ = ["DEFAULT_PLUGINS_DIR", "KUBEVIRT_DEVICES", "DevicePluginManager", "HostDevice"]
