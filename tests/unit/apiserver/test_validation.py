"""KubeVirt's admission rules: each row a manifest change and the field paths it is rejected at."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.apiserver.builders import new_vm, new_vmi, with_path
from virtkube.apiserver import defaults, validation

CFG = defaults.DefaultsConfig()


def vmi_fields(vmi: dict[str, Any]) -> list[str]:
    return [c.field for c in validation.validate_vmi_create(defaults.vmi_defaults(vmi, CFG))]


def test_the_builder_vmi_is_valid() -> None:
    assert vmi_fields(new_vmi()) == []
    assert validation.validate_vm(new_vm()) == []


DISKS = "spec.domain.devices.disks"
IFACES = "spec.domain.devices.interfaces"

VMI_CASES: list[tuple[str, str, Any, list[str]]] = [
    # (case, path, value, fields rejected)
    ("unknown field", "spec.domain.devices.foo", 1, ["spec.domain.devices.foo"]),
    ("wrong type", "spec.domain.cpu", {"cores": "two"}, ["spec.domain.cpu.cores"]),
    ("bad enum", f"{DISKS}.0.disk.bus", "ide", [f"{DISKS}[0].disk.bus"]),
    ("disk without volume", f"{DISKS}.0.name", "nope", [f"{DISKS}[0].name"]),
    ("duplicate disk", DISKS, [{"name": "root"}, {"name": "root"}], [f"{DISKS}[1].name"]),
    ("two targets", f"{DISKS}.0", {"name": "root", "disk": {}, "cdrom": {}}, [f"{DISKS}[0]"]),
    ("cdrom on virtio", f"{DISKS}.0", {"name": "root", "cdrom": {"bus": "virtio"}},
     [f"{DISKS}[0].cdrom.bus"]),
    ("boot order 0", f"{DISKS}.0.bootOrder", 0, [f"{DISKS}[0].bootOrder"]),
    ("lun not supported", f"{DISKS}.0", {"name": "root", "lun": {}}, [f"{DISKS}[0].lun.bus"]),
    ("duplicate volume", "spec.volumes",
     [{"name": "root", "containerDisk": {"image": "a:1"}},
      {"name": "root", "emptyDisk": {"capacity": "1Gi"}}], ["spec.volumes[1].name"]),
    ("volume with two sources", "spec.volumes.0",
     {"name": "root", "containerDisk": {"image": "a:1"}, "emptyDisk": {"capacity": "1Gi"}},
     ["spec.volumes[0]"]),
    ("volume name not a DNS label", "spec.volumes.0.name", "Root_Disk",
     ["spec.volumes[0].name", f"{DISKS}[0].name", f"{DISKS}[1].name"]),
    ("empty disk size", "spec.volumes.0", {"name": "root", "emptyDisk": {"capacity": "0"}},
     ["spec.volumes[0].emptyDisk.capacity"]),
    ("hostDisk DiskOrCreate without capacity", "spec.volumes.0",
     {"name": "root", "hostDisk": {"path": "/d.img", "type": "DiskOrCreate"}},
     ["spec.volumes[0].hostDisk", "spec.volumes[0].hostDisk.capacity"]),
    ("interface without network", f"{IFACES}.0.name", "other",
     [f"{IFACES}[0].name", "spec.networks[0].name"]),
    ("interface without binding", f"{IFACES}.0", {"name": "default"}, [f"{IFACES}[0]"]),
    ("two bindings", f"{IFACES}.0", {"name": "default", "bridge": {}, "masquerade": {}},
     [f"{IFACES}[0]"]),
    ("bad mac", f"{IFACES}.0.macAddress", "zz:zz", [f"{IFACES}[0].macAddress"]),
    ("deprecated slirp", f"{IFACES}.0", {"name": "default", "slirp": {}},
     [f"{IFACES}[0].slirp", f"{IFACES}[0].slirp"]),
    ("multus network unsupported", "spec.networks.0",
     {"name": "default", "multus": {"networkName": "x"}},
     [f"{IFACES}[0].masquerade", "spec.networks[0].multus.networkName"]),
    ("no memory", "spec.domain.resources", {},
     ["spec.domain.resources.requests.memory"]),
    ("tiny memory", "spec.domain.resources", {"requests": {"memory": "512Ki"}},
     ["spec.domain.memory.guest", "spec.domain.resources.requests.memory"]),
    ("guest above limit", "spec.domain.resources",
     {"requests": {"memory": "1Gi"}, "limits": {"memory": "1Gi"}},
     []),
    ("request above limit", "spec.domain.resources",
     {"requests": {"memory": "2Gi", "cpu": "2"}, "limits": {"memory": "1Gi", "cpu": "1"}},
     ["spec.domain.resources.requests.memory", "spec.domain.resources.requests.cpu",
      "spec.domain.memory.guest"]),
    # MilliValue() rounds up: a 1.5m request is 2m, above the 1m limit (it was truncated to 1m).
    ("cpu request above limit once rounded", "spec.domain.resources",
     {"requests": {"memory": "1Gi", "cpu": "1.5m"}, "limits": {"cpu": "1m"}},
     ["spec.domain.resources.requests.cpu"]),
    ("zero cores", "spec.domain.cpu", {"cores": 0, "sockets": 2}, ["spec.domain.cpu.cores"]),
    ("too many vcpus", "spec.domain.cpu", {"sockets": 2, "cores": 200}, ["spec.domain.cpu"]),
    ("machine type", "spec.domain.machine", {"type": "pc-i440fx-7.2"},
     ["spec.domain.machine.type"]),
    ("bios and efi", "spec.domain.firmware",
     {"bootloader": {"bios": {}, "efi": {"secureBoot": False}}},
     ["spec.domain.firmware.bootloader"]),
    ("bad uuid", "spec.domain.firmware", {"uuid": "not-a-uuid"}, ["spec.domain.firmware.uuid"]),
    ("negative grace", "spec.terminationGracePeriodSeconds", -1,
     ["spec.terminationGracePeriodSeconds"]),
    ("hyperv prerequisite disabled", "spec.domain.features",
     {"hyperv": {"synictimer": {}, "vpindex": {"enabled": False}}},
     ["spec.domain.features.hyperv.synic"]),
    ("hyperv beside hypervPassthrough", "spec.domain.features",
     {"hyperv": {"relaxed": {}}, "hypervPassthrough": {}}, ["spec.domain.features.hyperv"]),
    ("probe with two handlers", "spec.readinessProbe",
     {"tcpSocket": {"port": 22}, "httpGet": {"port": 80}}, ["spec.readinessProbe"]),
    ("exec probe needs a guest agent", "spec.livenessProbe",
     {"exec": {"command": ["cat", "/tmp/ok"]}}, ["spec.livenessProbe.exec"]),
    ("guest agent ping probe", "spec.readinessProbe", {"guestAgentPing": {}},
     ["spec.readinessProbe.guestAgentPing"]),
    ("cloud-init with two user data", "spec.volumes.0",
     {"name": "root", "cloudInitNoCloud": {"userData": "a", "userDataBase64": "YQ=="}},
     ["spec.volumes[0].cloudInitNoCloud.userDataBase64"]),
]


@pytest.mark.parametrize(("case", "path", "value", "fields"), VMI_CASES,
                         ids=[c[0] for c in VMI_CASES])
def test_vmi_rejections_name_their_fields(case: str, path: str, value: Any,
                                          fields: list[str]) -> None:
    assert sorted(vmi_fields(with_path(new_vmi(), path, value))) == sorted(fields)


def test_evmcs_needs_vmx_required() -> None:
    """KubeVirt's webhook turns vmx to require for evmcs; a later vmx policy change is refused."""
    vmi = with_path(new_vmi(), "spec.domain.features", {"hyperv": {"evmcs": {}}})
    assert vmi_fields(vmi) == []
    vmi = with_path(vmi, "spec.domain.cpu", {"features": [{"name": "vmx", "policy": "forbid"}]})
    causes = validation.validate_vmi_create(vmi)
    assert [str(c) for c in causes] == [
        "spec.domain.cpu.features[0].policy: vmx cpu feature has to be set to require policy"]


def test_boot_order_unique_across_disks_and_interfaces() -> None:
    vmi = with_path(new_vmi(), f"{DISKS}.0.bootOrder", 1)
    vmi = with_path(vmi, f"{IFACES}.0.bootOrder", 1)
    assert vmi_fields(vmi) == [f"{IFACES}[0].bootOrder"]


def test_every_cause_has_a_path_and_a_reason() -> None:
    for _, path, value, _ in VMI_CASES:
        vmi = defaults.vmi_defaults(with_path(new_vmi(), path, value), CFG)
        for cause in validation.validate_vmi_create(vmi):
            assert cause.field.startswith("spec"), cause
            assert cause.reason.startswith("FieldValue")


def test_unsupported_message_says_so() -> None:
    causes = validation.validate_vmi_create(defaults.vmi_defaults(
        with_path(new_vmi(), "spec.domain.features", {"apic": {"endOfInterrupt": True}}), CFG))
    assert [str(c) for c in causes] == [
        "spec.domain.features.apic.endOfInterrupt: not supported by virtkube"]


def test_guest_agent_probes_are_refused_once_with_the_reason() -> None:
    vmi = with_path(new_vmi(), "spec.readinessProbe", {"exec": {"command": ["a", "b"]}})
    causes = validation.validate_vmi_create(defaults.vmi_defaults(vmi, CFG))
    assert [str(c) for c in causes] == [
        "spec.readinessProbe.exec: not supported by virtkube (it runs through the QEMU guest "
        "agent, which virtkube does not have)"]


VM_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("running and runStrategy", new_vm(running=True), ["spec.running"]),
    ("neither", new_vm(run_strategy=None), ["spec.runStrategy"]),
    ("legacy running alone", new_vm(run_strategy=None, running=False), []),
    ("instancetype", new_vm(instancetype={"name": "u1.small"}), ["spec.instancetype"]),
    ("dataVolumeTemplates", new_vm(dataVolumeTemplates=[{"spec": {}}]),
     ["spec.dataVolumeTemplates"]),
    ("WaitAsReceiver", new_vm(run_strategy="WaitAsReceiver"), ["spec.runStrategy"]),
    ("bad strategy", new_vm(run_strategy="Sometimes"), ["spec.runStrategy"]),
    ("template disk", with_path(new_vm(), "spec.template.spec.domain.devices.disks.0.name", "x"),
     ["spec.template.spec.domain.devices.disks[0].name"]),
    ("template without spec", with_path(new_vm(), "spec.template", {}),
     ["spec.template.spec"]),
]


@pytest.mark.parametrize(("case", "vm", "fields"), VM_CASES, ids=[c[0] for c in VM_CASES])
def test_vm_rejections(case: str, vm: dict[str, Any], fields: list[str]) -> None:
    assert [c.field for c in validation.validate_vm(vm)] == fields


def test_vm_template_volume_without_disk_is_fine() -> None:
    vm = new_vm()
    vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"] = []
    assert validation.validate_vm(vm) == []


def test_vmi_spec_is_immutable() -> None:
    old = defaults.vmi_defaults(new_vmi(), CFG)
    changed = with_path(old, "spec.domain.cpu.sockets", 4)
    assert [c.field for c in validation.validate_vmi_update(old, changed)] == [
        "spec.domain.cpu.sockets"]
    status_only = {**old, "status": {"phase": "Running"}}
    assert validation.validate_vmi_update(old, status_only) == []
    shorter = with_path(old, "spec.terminationGracePeriodSeconds", 0)
    assert validation.validate_vmi_update(old, shorter) == []
    old30 = with_path(old, "spec.terminationGracePeriodSeconds", 30)
    assert [c.field for c in validation.validate_vmi_update(
        old30, with_path(old30, "spec.terminationGracePeriodSeconds", 60))] == [
        "spec.terminationGracePeriodSeconds"]


MIGRATION = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
             "metadata": {"name": "m", "namespace": "default"}, "spec": {"vmiName": "a"}}


@pytest.mark.parametrize(("vmi", "in_flight", "fields"), [
    (None, [], ["spec.vmiName"]),
    ({"status": {"phase": "Running"}}, [], []),
    ({"status": {"phase": "Pending"}}, [], []),
    ({"status": {"phase": "Succeeded"}}, [], ["spec.vmiName"]),
    ({"status": {"phase": "Running", "conditions": [
        {"type": "LiveMigratable", "status": "False", "reason": "DisksNotLiveMigratable"}]}},
     [], ["spec.vmiName"]),
    ({"status": {"phase": "Running"}}, ["other"], ["spec.vmiName"]),
])
def test_migration_create(vmi: dict[str, Any] | None, in_flight: list[str],
                          fields: list[str]) -> None:
    assert [c.field for c in validation.validate_migration_create(MIGRATION, vmi,
                                                                  in_flight)] == fields


def test_migration_spec_is_immutable() -> None:
    changed = with_path(MIGRATION, "spec.vmiName", "b")
    assert [c.field for c in validation.validate_migration_update(MIGRATION, changed)] == [
        "spec"]


def _ssh_cred(method: dict[str, Any], secret: str = "my-keys") -> dict[str, Any]:
    return {"sshPublicKey": {"source": {"secret": {"secretName": secret}},
                             "propagationMethod": method}}


NOCLOUD_VOLUME = {"name": "ci", "cloudInitNoCloud": {"userData": "#cloud-config\n"}}
CRED = "spec.accessCredentials[0].sshPublicKey"


@pytest.mark.parametrize(("creds", "extra_volumes", "fields"), [
    ([_ssh_cred({"noCloud": {}})], [NOCLOUD_VOLUME], []),
    ([_ssh_cred({"noCloud": {}}, "keys.example.com")], [NOCLOUD_VOLUME], []),
    ([_ssh_cred({"noCloud": {}})], [], [f"{CRED}.propagationMethod.noCloud"]),
    ([_ssh_cred({"configDrive": {}})], [NOCLOUD_VOLUME], [f"{CRED}.propagationMethod.configDrive"]),
    ([_ssh_cred({"noCloud": {}, "configDrive": {}})], [NOCLOUD_VOLUME],
     [f"{CRED}.propagationMethod", f"{CRED}.propagationMethod.configDrive"]),
    ([_ssh_cred({"noCloud": {}}, "../etc")], [NOCLOUD_VOLUME],
     [f"{CRED}.source.secret.secretName"]),
    ([_ssh_cred({"qemuGuestAgent": {"users": ["root"]}})], [],
     [f"{CRED}.propagationMethod.qemuGuestAgent.users[0]"]),
])  # fmt: skip
def test_access_credentials(creds: list[dict[str, Any]], extra_volumes: list[dict[str, Any]],
                            fields: list[str]) -> None:
    """KubeVirt's validateAccessCredentials: one method each, its cloud-init volume there;
    the guest agent's propagation is not supported."""
    vmi = new_vmi()
    vmi["spec"]["accessCredentials"] = creds
    vmi["spec"]["volumes"] += extra_volumes
    assert sorted(vmi_fields(vmi)) == sorted(fields)
