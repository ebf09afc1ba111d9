"""What the device plugins advertise and answer (handler.deviceplugin.devices), and the wire
contract of the generated messages against the kubelet's api.proto."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtkube.handler.deviceplugin import api_pb2 as api
from virtkube.handler.deviceplugin.devices import (
    DEFAULT_COUNT,
    KUBEVIRT_DEVICES,
    KVM,
    TUN,
    VHOST_NET,
    HostDevice,
    allocate_response,
    device_list,
    plugin_options,
    register_request,
)


def test_kubevirts_resource_names_paths_and_sockets() -> None:
    assert [(d.resource, str(d.path), d.socket_name) for d in KUBEVIRT_DEVICES] == [
        ("devices.kubevirt.io/kvm", "/dev/kvm", "kubevirt-kvm.sock"),
        ("devices.kubevirt.io/tun", "/dev/net/tun", "kubevirt-tun.sock"),
        ("devices.kubevirt.io/vhost-net", "/dev/vhost-net", "kubevirt-vhost-net.sock"),
    ]
    assert DEFAULT_COUNT == 1000


@pytest.mark.parametrize(("healthy", "health"), [(True, "Healthy"), (False, "Unhealthy")])
def test_device_list_is_count_units_of_one_health(healthy: bool, health: str) -> None:
    msg = device_list(TUN, DEFAULT_COUNT, healthy)
    ids = [d.ID for d in msg.devices]
    assert len(ids) == len(set(ids)) == DEFAULT_COUNT
    assert ids[:2] == ["tun0", "tun1"] and ids[-1] == "tun999"
    assert {d.health for d in msg.devices} == {health}
    # IDs are at most 63 characters (the kubelet's rule).
    assert max(len(i) for i in ids) <= 63


def test_allocate_answers_each_container_with_the_one_device_node() -> None:
    request = api.AllocateRequest(container_requests=[
        api.ContainerAllocateRequest(devices_ids=["kvm3"]),
        api.ContainerAllocateRequest(devices_ids=["kvm7", "kvm8"]),
    ])
    response = allocate_response(KVM, request)
    assert len(response.container_responses) == 2
    for c in response.container_responses:
        assert [(d.host_path, d.container_path, d.permissions) for d in c.devices] == [
            ("/dev/kvm", "/dev/kvm", "rw")]
        assert not c.mounts and not c.envs and not c.annotations


def test_allocate_of_nothing_is_nothing() -> None:
    assert not allocate_response(VHOST_NET, api.AllocateRequest()).container_responses


def test_register_request() -> None:
    req = register_request(HostDevice("tun", Path("/dev/net/tun")))
    assert (req.version, req.endpoint, req.resource_name) == (
        "v1beta1", "kubevirt-tun.sock", "devices.kubevirt.io/tun")
    assert req.options == plugin_options()
    assert not req.options.pre_start_required
    assert not req.options.get_preferred_allocation_available


# The kubelet's api.proto (k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1): field numbers are
# the wire format, so they are pinned here against accidental edits of our api.proto.
WIRE = {
    "RegisterRequest": {"version": 1, "endpoint": 2, "resource_name": 3, "options": 4},
    "DevicePluginOptions": {"pre_start_required": 1, "get_preferred_allocation_available": 2},
    "ListAndWatchResponse": {"devices": 1},
    "Device": {"ID": 1, "health": 2, "topology": 3},
    "TopologyInfo": {"nodes": 1},
    "NUMANode": {"ID": 1},
    "AllocateRequest": {"container_requests": 1},
    "ContainerAllocateRequest": {"devices_ids": 1},
    "AllocateResponse": {"container_responses": 1},
    "ContainerAllocateResponse": {"envs": 1, "mounts": 2, "devices": 3, "annotations": 4,
                                  "cdi_devices": 5},
    "Mount": {"container_path": 1, "host_path": 2, "read_only": 3},
    "DeviceSpec": {"container_path": 1, "host_path": 2, "permissions": 3},
    "CDIDevice": {"name": 1},
    "PreStartContainerRequest": {"devices_ids": 1},
    "PreferredAllocationRequest": {"container_requests": 1},
    "ContainerPreferredAllocationRequest": {"available_deviceIDs": 1,
                                            "must_include_deviceIDs": 2,
                                            "allocation_size": 3},
    "PreferredAllocationResponse": {"container_responses": 1},
    "ContainerPreferredAllocationResponse": {"deviceIDs": 1},
}


def test_wire_contract_matches_the_kubelets() -> None:
    assert api.DESCRIPTOR.package == "v1beta1"
    for message, fields in WIRE.items():
        desc = api.DESCRIPTOR.message_types_by_name[message]
        assert {f.name: f.number for f in desc.fields} == fields, message
    services = {s.name: [m.name for m in s.methods] for s in api.DESCRIPTOR.services_by_name
                .values()}
    assert services == {
        "Registration": ["Register"],
        "DevicePlugin": ["GetDevicePluginOptions", "ListAndWatch", "GetPreferredAllocation",
                         "Allocate", "PreStartContainer"],
    }
    streaming = api.DESCRIPTOR.services_by_name["DevicePlugin"].methods_by_name["ListAndWatch"]
    assert streaming.server_streaming and not streaming.client_streaming
