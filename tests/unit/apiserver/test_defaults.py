"""KubeVirt's defaults, as golden JSON patches and small tables."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vm, new_vmi, with_path
from virtkube.apiserver import defaults, jsonpatch, validation

GOLDEN = Path(__file__).parent / "golden"
CFG = defaults.DefaultsConfig()


def check_golden(name: str, value: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path} differs (UPDATE_GOLDEN=1 to accept)"


def bare_vmi() -> dict[str, Any]:
    """No networks, no disks for the volume, memory only as a request: most defaults apply."""
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "bare", "namespace": "ns1"},
            "spec": {"domain": {"devices": {},
                                "resources": {"requests": {"memory": "64Mi", "cpu": "1500m"}}},
                     "volumes": [{"name": "root", "containerDisk": {"image": "example/disk"}},
                                 {"name": "cd", "containerDisk": {"image": "x@sha256:ab"}}]}}


def test_bare_vmi_patch_golden() -> None:
    vmi = bare_vmi()
    check_golden("bare-vmi.patch", jsonpatch.diff(vmi, defaults.vmi_defaults(vmi, CFG)))


def test_vm_patch_golden() -> None:
    vm = new_vm(instancetype={"name": "u1.small"})
    check_golden("vm.patch", jsonpatch.diff(vm, defaults.vm_defaults(vm, CFG)))


def test_patch_applies_to_the_defaulted_object() -> None:
    vmi = bare_vmi()
    new = defaults.vmi_defaults(vmi, CFG)
    assert jsonpatch.apply(vmi, jsonpatch.diff(vmi, new)) == new


def test_defaults_are_idempotent() -> None:
    once = defaults.vmi_defaults(bare_vmi(), CFG)
    assert defaults.vmi_defaults(once, CFG) == once


@pytest.mark.parametrize(("memory", "expected_guest", "expected_request"), [
    ({"resources": {"requests": {"memory": "1Gi"}}}, "1Gi", "1Gi"),
    ({"resources": {"limits": {"memory": "2Gi"}}}, "2Gi", "2Gi"),
    ({"memory": {"guest": "256Mi"}}, "256Mi", "256Mi"),
    ({"memory": {"guest": "256Mi"}, "resources": {"requests": {"memory": "1Gi"}}},
     "256Mi", "1Gi"),
    ({"memory": {"hugepages": {"pageSize": "2Mi"}}}, "2Mi", "2Mi"),
])
def test_memory_guest_and_request_fill_each_other(memory: dict[str, Any], expected_guest: str,
                                                  expected_request: str) -> None:
    vmi = new_vmi()
    vmi["spec"]["domain"].pop("resources")
    vmi["spec"]["domain"].update(memory)
    domain = defaults.vmi_defaults(vmi, CFG)["spec"]["domain"]
    assert domain["memory"]["guest"] == expected_guest
    assert domain["resources"]["requests"]["memory"] == expected_request


@pytest.mark.parametrize(("resources", "sockets"), [
    ({}, 1), ({"requests": {"cpu": "2"}}, 2), ({"requests": {"cpu": "500m"}}, 1),
    ({"limits": {"cpu": "3"}, "requests": {"cpu": "1"}}, 3),
])
def test_cpu_topology_from_cpu_resources(resources: dict[str, Any], sockets: int) -> None:
    vmi = with_path(new_vmi(), "spec.domain.resources", {**resources,
                                                         "requests": {"memory": "1Gi",
                                                                      **resources.get(
                                                                          "requests", {})}})
    cpu = defaults.vmi_defaults(vmi, CFG)["spec"]["domain"]["cpu"]
    assert cpu == {"sockets": sockets, "cores": 1, "threads": 1, "model": "host-model"}


def test_explicit_topology_is_kept() -> None:
    vmi = with_path(new_vmi(), "spec.domain.cpu", {"cores": 2})
    assert defaults.vmi_defaults(vmi, CFG)["spec"]["domain"]["cpu"] == {
        "cores": 2, "model": "host-model"}


@pytest.mark.parametrize(("image", "policy"), [
    ("example/disk", "Always"), ("example/disk:latest", "Always"),
    ("example/disk:1.0", "IfNotPresent"), ("example/disk@sha256:00", "IfNotPresent"),
])
def test_container_disk_pull_policy(image: str, policy: str) -> None:
    vmi = with_path(new_vmi(), "spec.volumes.0.containerDisk.image", image)
    volume = defaults.vmi_defaults(vmi, CFG)["spec"]["volumes"][0]
    assert volume["containerDisk"]["imagePullPolicy"] == policy


def test_pod_network_added_only_when_none_given() -> None:
    vmi = new_vmi()
    del vmi["spec"]["networks"], vmi["spec"]["domain"]["devices"]["interfaces"]
    spec = defaults.vmi_defaults(vmi, CFG)["spec"]
    assert spec["networks"] == [{"name": "default", "pod": {}}]
    assert spec["domain"]["devices"]["interfaces"] == [{"name": "default", "masquerade": {}}]
    bridge = defaults.vmi_defaults(vmi, defaults.DefaultsConfig(
        default_network_interface="bridge"))["spec"]
    assert bridge["domain"]["devices"]["interfaces"] == [{"name": "default", "bridge": {}}]
    off = with_path(vmi, "spec.domain.devices.autoattachPodInterface", False)
    assert "networks" not in defaults.vmi_defaults(off, CFG)["spec"]
    given = defaults.vmi_defaults(new_vmi(), CFG)["spec"]
    assert given["networks"] == new_vmi()["spec"]["networks"]


def test_disks_bus_and_cdrom_defaults() -> None:
    vmi = with_path(new_vmi(), "spec.domain.devices.disks", [
        {"name": "root"}, {"name": "cd", "cdrom": {}}, {"name": "v", "disk": {"bus": "virtio"}}])
    vmi["spec"]["volumes"] += [{"name": "cd", "containerDisk": {"image": "a:1"}},
                               {"name": "v", "containerDisk": {"image": "b:1"}},
                               {"name": "extra", "emptyDisk": {"capacity": "1Gi"}}]
    disks = defaults.vmi_defaults(vmi, CFG)["spec"]["domain"]["devices"]["disks"]
    assert disks == [
        {"name": "root", "disk": {"bus": "sata"}},
        {"name": "cd", "cdrom": {"bus": "sata", "readonly": True, "tray": "closed"}},
        {"name": "v", "disk": {"bus": "virtio"}},
        {"name": "extra", "disk": {"bus": "sata"}},
    ]


def test_firmware_uuid_is_stable_and_kubevirt_compatible_for_vm_owned_vmis() -> None:
    owned = new_vmi("myvm")
    owned["metadata"]["ownerReferences"] = [{"kind": "VirtualMachine", "name": "myvm",
                                             "controller": True, "uid": "u",
                                             "apiVersion": "kubevirt.io/v1"}]
    uid = defaults.vmi_defaults(owned, CFG)["spec"]["domain"]["firmware"]["uuid"]
    # KubeVirt's VM controller: uuid.NewSHA1(uuid.MustParse(magicUUID), []byte(vm.Name))
    assert uid == str(uuid.uuid5(uuid.UUID("6a1a24a1-4061-4607-8bf4-a3963d0c5895"), "myvm"))
    other_ns = with_path(owned, "metadata.namespace", "elsewhere")
    assert defaults.vmi_defaults(other_ns, CFG)["spec"]["domain"]["firmware"]["uuid"] == uid
    bare = defaults.vmi_defaults(new_vmi("myvm"), CFG)["spec"]["domain"]["firmware"]["uuid"]
    assert bare != uid
    given = with_path(new_vmi(), "spec.domain.firmware", {"uuid": "0-0"})
    assert defaults.vmi_defaults(given, CFG)["spec"]["domain"]["firmware"]["uuid"] == "0-0"


def test_features_given_are_enabled_and_timers_present() -> None:
    vmi = with_path(new_vmi(), "spec.domain.features", {"acpi": {}, "smm": {"enabled": False}})
    vmi = with_path(vmi, "spec.domain.clock", {"timer": {"hpet": {}}})
    domain = defaults.vmi_defaults(vmi, CFG)["spec"]["domain"]
    assert domain["features"] == {"acpi": {"enabled": True}, "smm": {"enabled": False}}
    assert domain["clock"]["timer"]["hpet"] == {"present": True}


def test_hyperv_defaults_and_prerequisites() -> None:
    """SetDefaults_FeatureState / _SyNICTimer / _FeatureSpinlocks, then KubeVirt's
    SetHypervFeatureDependencies: synictimer brings synic and vpindex, evmcs vapic and vmx."""
    vmi = with_path(new_vmi(), "spec.domain.features", {"hyperv": {
        "relaxed": {}, "spinlocks": {}, "synictimer": {"direct": {}}, "evmcs": {},
        "tlbflush": {"extended": {}}, "vendorid": {"vendorid": "KubeVirtKVM"},
        "reset": {"enabled": False}}})
    defaulted = defaults.vmi_defaults(vmi, CFG)
    domain = defaulted["spec"]["domain"]
    on = {"enabled": True}
    assert domain["features"]["hyperv"] == {
        "relaxed": on, "spinlocks": {"enabled": True, "spinlocks": 4096},
        "synictimer": {"enabled": True, "direct": on}, "evmcs": on,
        "tlbflush": {"enabled": True, "extended": on},
        "vendorid": {"enabled": True, "vendorid": "KubeVirtKVM"}, "reset": {"enabled": False},
        "vapic": on, "vpindex": on, "synic": on}
    assert domain["cpu"]["features"] == [{"name": "vmx", "policy": "require"}]
    assert defaults.vmi_defaults(defaulted, CFG) == defaulted
    assert validation.validate_vmi_create(defaulted) == []


def test_broken_input_is_left_for_validation() -> None:
    for spec in ({"domain": "nonsense"}, {"domain": {"devices": []}}, {}):
        vmi = {"metadata": {"name": "x"}, "spec": spec}
        defaults.vmi_defaults(vmi, CFG)  # must not raise


def test_migration_gets_its_vmi_label() -> None:
    vmim = {"metadata": {"name": "m"}, "spec": {"vmiName": "a"}}
    assert defaults.migration_defaults(vmim)["metadata"]["labels"] == {
        "kubevirt.io/vmi-name": "a"}
