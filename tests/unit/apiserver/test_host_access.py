"""Issue 20: nothing a user writes in a VMI reaches the node's files at admission.

hostDisk only behind the HostDisk feature gate; image references by the OCI
grammar; names that become paths (disks, volumes, files inside an image, the
hostDisk file, serial numbers) by KubeVirt's rules. Each rejection names its field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vm, new_vmi, with_path
from virtkube.apiserver import defaults, validation, webhooks
from virtkube.apiserver.featuregates import HOST_DISK, Gates, active_kubevirt, gates_of

CFG = defaults.DefaultsConfig()
ON: Gates = frozenset({HOST_DISK})


def causes(vmi: dict[str, Any], gates: Gates = frozenset()) -> list[tuple[str, str]]:
    found = validation.validate_vmi_create(defaults.vmi_defaults(vmi, CFG), gates)
    return [(c.field, c.message) for c in found]


def fields(vmi: dict[str, Any], gates: Gates = frozenset()) -> list[str]:
    return [field for field, _ in causes(vmi, gates)]


def shadow_vmi() -> dict[str, Any]:
    """The manifest of the issue: a containerDisk, then /etc/shadow as a hostDisk."""
    vmi = new_vmi()
    vmi["spec"]["domain"]["devices"]["disks"].append({"name": "host", "disk": {"bus": "sata"}})
    vmi["spec"]["volumes"].append({"name": "host",
                                   "hostDisk": {"path": "/etc/shadow", "type": "Disk"}})
    return vmi


# --- hostDisk and its feature gate -------------------------------------------------------------
def test_host_disk_is_rejected_without_the_gate_with_kubevirts_message() -> None:
    assert causes(shadow_vmi()) == [("spec.volumes[1].hostDisk",
                                     "HostDisk feature gate is not enabled")]


def test_host_disk_is_admitted_with_the_gate() -> None:
    assert causes(shadow_vmi(), ON) == []


def test_host_disk_in_a_vm_template_needs_the_gate_too() -> None:
    vm = new_vm()
    vm["spec"]["template"]["spec"] = shadow_vmi()["spec"]
    assert [c.field for c in validation.validate_vm(vm)] == [
        "spec.template.spec.volumes[1].hostDisk"]
    assert validation.validate_vm(vm, gates=ON) == []


@pytest.mark.parametrize("path", ["/var/data/../../etc/shadow", "etc/shadow", "//etc/shadow",
                                  "/var/./data/x.img", "/", "/var/data/"])
def test_host_disk_path_must_be_a_clean_absolute_file(path: str) -> None:
    vmi = with_path(shadow_vmi(), "spec.volumes.1.hostDisk.path", path)
    assert fields(vmi, ON) and set(fields(vmi, ON)) == {"spec.volumes[1].hostDisk.path"}


async def test_the_webhook_reads_the_gates_on_every_request() -> None:
    gates: set[str] = set()

    async def no_vmi(_ns: str, _name: str) -> dict[str, Any] | None:
        return None

    async def none(_ns: str, _name: str) -> list[str]:
        return []

    lookups = webhooks.Lookups(get_vmi=no_vmi, migrations_in_flight=none,
                               feature_gates=lambda: frozenset(gates))
    request = {"uid": "u", "operation": "CREATE", "namespace": "default",
               "object": defaults.vmi_defaults(shadow_vmi(), CFG)}
    body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": request}).encode()
    path = "/validate-virtualmachineinstances"
    denied = (await webhooks.review(path, body, CFG, lookups))["response"]
    assert denied["allowed"] is False
    assert denied["status"]["details"]["causes"] == [{
        "type": "FieldValueInvalid", "field": "spec.volumes[1].hostDisk",
        "message": "HostDisk feature gate is not enabled"}]
    gates.add(HOST_DISK)
    assert (await webhooks.review(path, body, CFG, lookups))["response"]["allowed"] is True


def kubevirt(namespace: str, name: str = "kubevirt", gates: list[str] | None = None,
             created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    spec: dict[str, Any] = {"certificateRotateStrategy": {}, "configuration": {
        "developerConfiguration": {"featureGates": gates or []}}}
    return {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt", "spec": spec, "metadata": {
        "name": name, "namespace": namespace, "creationTimestamp": created}}


@pytest.mark.parametrize(("crs", "expected"), [
    ([], frozenset()),
    ([kubevirt("kubevirt", gates=["HostDisk"])], ON),
    ([kubevirt("elsewhere", gates=["HostDisk"])], ON),  # the only one in the cluster
    ([kubevirt("a", gates=["HostDisk"]), kubevirt("b")], frozenset()),  # none to choose
    ([kubevirt("other", gates=["HostDisk"]), kubevirt("kubevirt")], frozenset()),
    ([kubevirt("kubevirt", "new", ["HostDisk"], "2026-02-01T00:00:00Z"),
      kubevirt("kubevirt", "old", [], "2026-01-01T00:00:00Z")], frozenset()),  # the oldest
])  # fmt: skip
def test_the_gates_come_from_the_kubevirt_cr_of_the_install_namespace(
        crs: list[dict[str, Any]], expected: Gates) -> None:
    assert gates_of(active_kubevirt(crs)) == expected


def test_a_kubevirt_cr_without_configuration_turns_nothing_on() -> None:
    assert gates_of({"spec": {}}) == frozenset()
    assert gates_of({"spec": {"configuration": {"developerConfiguration": {}}}}) == frozenset()


# --- image references ----------------------------------------------------------------------
IMAGES = ["a/b/../../../../../../etc/passwd", "../../../../etc:latest", "/etc/passwd",
          "example/disk:../../x", "Example/Disk:1", "example//disk", "example/disk@sha256:../x",
          "a" * 256, "example/disk:" + "t" * 129, " "]


@pytest.mark.parametrize("image", IMAGES)
def test_container_disk_image_must_be_a_reference(image: str) -> None:
    vmi = with_path(new_vmi(), "spec.volumes.0.containerDisk.image", image)
    assert fields(vmi) == ["spec.volumes[0].containerDisk.image"]


@pytest.mark.parametrize("image", IMAGES[:3])
def test_kernel_boot_image_must_be_a_reference(image: str) -> None:
    vmi = with_path(new_vmi(), "spec.domain.firmware", {"kernelBoot": {"container": {
        "image": image, "kernelPath": "/boot/vmlinuz"}}})
    assert fields(vmi) == ["spec.domain.firmware.kernelBoot.container.image"]


@pytest.mark.parametrize("image", ["registry:5000/kubevirt/cirros-container-disk-demo:devel",
                                   "quay.io/containerdisks/fedora:41", "virtkube/tiny-guest",
                                   "localhost/x@sha256:" + "a" * 64, "[::1]:5000/a/b_c__d-e:1"])
def test_real_image_references_are_admitted(image: str) -> None:
    assert fields(with_path(new_vmi(), "spec.volumes.0.containerDisk.image", image)) == []


# --- files inside an image -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["../../etc/shadow", "/disk/../../etc/shadow", "disk/x.img", "/"])
def test_container_disk_path_is_a_clean_absolute_path(path: str) -> None:
    vmi = with_path(new_vmi(), "spec.volumes.0.containerDisk.path", path)
    assert fields(vmi) == ["spec.volumes[0].containerDisk.path"]


@pytest.mark.parametrize("key", ["kernelPath", "initrdPath"])
def test_kernel_boot_paths_are_clean_absolute_paths(key: str) -> None:
    container = {"image": "example/kernel:1", "kernelPath": "/boot/vmlinuz",
                 key: "/boot/../../etc/shadow"}
    vmi = with_path(new_vmi(), "spec.domain.firmware", {"kernelBoot": {"container": container}})
    assert fields(vmi) == [f"spec.domain.firmware.kernelBoot.container.{key}"]


# --- names that become paths ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", "../etc", "a/b", ".", ""])
def test_volume_and_disk_names_are_dns_labels(name: str) -> None:
    vmi = with_path(new_vmi(), "spec.volumes.0.name", name)
    vmi = with_path(vmi, "spec.domain.devices.disks.0.name", name)
    assert set(fields(vmi)) == {"spec.volumes[0].name", "spec.domain.devices.disks[0].name"}


@pytest.mark.parametrize(("serial", "ok"), [
    ("ABC-123_x.y+z", True), ("x" * 256, True), ("x" * 257, False), ("../../etc", False),
    ("a,drive=x", False), ("a b", False),
])  # fmt: skip
def test_disk_serial_is_kubevirts_characters_and_length(serial: str, ok: bool) -> None:
    vmi = with_path(new_vmi(), "spec.domain.devices.disks.0.serial", serial)
    assert fields(vmi) == ([] if ok else ["spec.domain.devices.disks[0].serial"])
