"""Golden tests of the VMI -> QEMU argv conversion: one table per feature function.

Each case is a VMI patch (KubeVirt JSON) plus context overrides; the expected
argv (or error) lives in golden/<feature>.json. Regenerate after an intended
change with:  VIRTKUBE_UPDATE_GOLDEN=1 pytest tests/unit/launcher
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from virtkube.launcher.domain import FEATURES, build_argv
from virtkube.launcher.domain.context import DomainContext
from virtkube.launcher.errors import LauncherError

from .builders import RUN, merge, new_ctx, new_vmi, volume

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VIRTKUBE_UPDATE_GOLDEN") == "1"

Case = tuple[str, dict[str, Any], dict[str, Any]]  # (name, vmi patch, ctx overrides)


def disks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"domain": {"devices": {"disks": list(entries)}}}}


def domain(**fields: Any) -> dict[str, Any]:
    return {"spec": {"domain": fields}}


def devices(**fields: Any) -> dict[str, Any]:
    return {"spec": {"domain": {"devices": fields}}}


def merge_patches(*patches: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for patch in patches:
        out = merge(out, patch)
    return out


def hyperv(**enlightenments: Any) -> dict[str, Any]:
    return domain(features={"hyperv": enlightenments})


#: Every enlightenment KubeVirt's FeatureHyperv lists, with its sub-settings.
EVERY_ENLIGHTENMENT: dict[str, Any] = {
    "relaxed": {}, "vapic": {}, "spinlocks": {"spinlocks": 8191}, "vpindex": {}, "runtime": {},
    "synic": {}, "synictimer": {"direct": {}}, "reset": {}, "vendorid": {"vendorid": "KubeVirtKVM"},
    "frequencies": {}, "reenlightenment": {}, "tlbflush": {"direct": {}, "extended": {}},
    "ipi": {}, "evmcs": {},
}  # fmt: skip

POD_NET = {"networks": [{"name": "default", "pod": {}}]}


def nics(*ifaces: dict[str, Any], networks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "spec": {
            "networks": networks if networks is not None else POD_NET["networks"],
            "domain": {"devices": {"interfaces": list(ifaces)}},
        }
    }


CASES: dict[str, list[Case]] = {
    "process_args": [
        ("default", {}, {}),
        ("not-paused", {"metadata": {"namespace": "ns1"}}, {"start_paused": False}),
    ],
    "machine_args": [
        ("default", {}, {}),
        ("q35-versioned-kvm", domain(machine={"type": "pc-q35-7.2"}), {"accel": "kvm"}),
        ("reboot-terminate", domain(rebootPolicy="Terminate"), {}),
        ("error-i440fx", domain(machine={"type": "pc"}), {}),
        ("error-arm64", {"spec": {"architecture": "arm64"}}, {}),
    ],
    "cpu_args": [
        ("default-tcg", {}, {}),
        ("default-kvm", {}, {"accel": "kvm"}),
        ("topology", domain(cpu={"sockets": 2, "cores": 2, "threads": 1}), {}),
        ("from-limits", domain(resources={"limits": {"cpu": "2500m"}}), {}),
        ("from-requests", domain(resources={"requests": {"cpu": 3}}), {}),
        ("host-passthrough-kvm", domain(cpu={"model": "host-passthrough"}), {"accel": "kvm"}),
        (
            "named-with-features",
            domain(
                cpu={
                    "model": "Skylake-Client",
                    "features": [{"name": "vmx"}, {"name": "pcid", "policy": "disable"}],
                }
            ),
            {},
        ),
        ("kvm-hidden", domain(features={"kvm": {"hidden": True}}), {"accel": "kvm"}),
        ("max-sockets", domain(cpu={"sockets": 1, "cores": 2, "maxSockets": 4}), {}),
        ("hyperv-every-enlightenment", hyperv(**EVERY_ENLIGHTENMENT), {"accel": "kvm"}),
        ("hyperv-off-left-out", hyperv(relaxed={"enabled": False}, vapic={},
                                       spinlocks={"enabled": False, "spinlocks": 8191}), {}),
        ("hyperv-prerequisites-completed", hyperv(synictimer={}, ipi={}), {}),
        ("hyperv-evmcs-adds-vmx", hyperv(evmcs={}), {}),
        ("hyperv-evmcs-keeps-features", merge_patches(
            hyperv(evmcs={}), domain(cpu={"features": [{"name": "pcid"}, {"name": "vmx"}]})), {}),
        ("hyperv-passthrough", domain(features={"hypervPassthrough": {}}), {"accel": "kvm"}),
        ("hyperv-passthrough-off", domain(features={"hypervPassthrough": {"enabled": False}}),
         {}),
        ("hyperv-empty", hyperv(), {}),
        ("paravirt-clocks-spinlocks", domain(
            features={"pvspinlock": {}}, clock={"timer": {"kvm": {"present": False},
                                                          "hyperv": {}}}), {}),
        ("hyperv-clock-absent", domain(clock={"timer": {"hyperv": {"present": False},
                                                        "kvm": {}}}), {}),
        ("error-hyperv-prerequisite-off", hyperv(synic={}, vpindex={"enabled": False}), {}),
        ("error-hyperv-and-passthrough", domain(features={
            "hyperv": {"relaxed": {}}, "hypervPassthrough": {}}), {}),
        ("error-evmcs-vmx-forbidden", merge_patches(
            hyperv(evmcs={}), domain(cpu={"features": [{"name": "vmx", "policy": "forbid"}]})),
         {}),
        ("error-spinlocks-too-few", hyperv(spinlocks={"spinlocks": 4095}), {}),
        ("error-vendorid-too-long", hyperv(vendorid={"vendorid": "0123456789abc"}), {}),
        ("error-vendorid-missing", hyperv(vendorid={}), {}),
        ("error-vendorid-comma", hyperv(vendorid={"vendorid": "Kube,Virt"}), {}),
    ],
    "memory_args": [
        ("guest", {}, {}),
        ("from-requests", domain(memory=None, resources={"requests": {"memory": "1Gi"}}), {}),
        ("from-limits", domain(memory=None, resources={"limits": {"memory": "512Mi"}}), {}),
        ("error-none", domain(memory=None), {}),
        ("mem-lock-required", domain(memory={"guest": "128Mi", "reservedOverhead": {
            "addedOverhead": "64Mi", "memLock": "Required"}}), {}),
        ("mem-lock-not-required", domain(memory={"guest": "128Mi", "reservedOverhead": {
            "memLock": "NotRequired"}}), {}),
        ("error-not-mib", domain(memory={"guest": "1000k"}), {}),
    ],
    "firmware_args": [
        ("bios-default", {}, {}),
        (
            "uuid-serial",
            domain(firmware={"uuid": "5d307ca9-b3ef-428c-8861-06e72d69f223", "serial": "a,b"}),
            {},
        ),
        ("uid-as-uuid", {"metadata": {"uid": "0d1f7c5e-1111-2222-3333-444455556666"}}, {}),
        ("efi-secure-default", domain(firmware={"bootloader": {"efi": {}}}), {}),
        ("efi-insecure", domain(firmware={"bootloader": {"efi": {"secureBoot": False}}}), {}),
        # features_args writes smm=on for features.smm; firmware adds it only when smm is unset.
        ("efi-secure-smm-given", domain(firmware={"bootloader": {"efi": {}}},
                                        features={"smm": {}}), {}),
        (
            "error-secure-without-smm",
            domain(firmware={"bootloader": {"efi": {}}}, features={"smm": {"enabled": False}}),
            {},
        ),
        (
            "kernel-boot",
            domain(
                firmware={
                    "kernelBoot": {
                        "kernelArgs": "console=ttyS0",
                        "container": {
                            "image": "virtkube/tiny-kernel:latest",
                            "kernelPath": "/boot/vmlinux",
                            "initrdPath": "/boot/initramfs.gz",
                        },
                    }
                }
            ),
            {},
        ),
        (
            "error-kernel-args-without-kernel",
            domain(
                firmware={
                    "kernelBoot": {
                        "kernelArgs": "console=ttyS0",
                        "container": {"image": "x", "initrdPath": "/boot/initrd"},
                    }
                }
            ),
            {},
        ),
    ],
    "features_args": [
        ("none", {}, {}),
        ("acpi-off-smm-on", domain(features={"acpi": {"enabled": False}, "smm": {}}), {}),
        ("error-apic-off", domain(features={"apic": {"enabled": False}}), {}),
    ],
    "clock_args": [
        ("default", {}, {}),
        ("utc-offset", domain(clock={"utc": {"offsetSeconds": 3600}}), {}),
        ("timezone", domain(clock={"timezone": "America/New_York"}), {}),
        (
            "timers",
            domain(clock={"timer": {"rtc": {"tickPolicy": "catchup"}, "hpet": {"present": False}}}),
            {},
        ),
        ("error-tick-policy", domain(clock={"timer": {"rtc": {"tickPolicy": "merge"}}}), {}),
        ("rtc-track-guest", domain(clock={"timer": {"rtc": {"track": "guest"}}}), {}),
        ("rtc-track-wall-catchup", domain(clock={"timer": {"rtc": {
            "track": "wall", "tickPolicy": "catchup"}}}), {}),
        ("pit-given-is-delay", domain(clock={"timer": {"pit": {}}}), {}),
        ("pit-discard", domain(clock={"timer": {"pit": {"tickPolicy": "discard"}}}), {}),
        ("pit-catchup", domain(clock={"timer": {"pit": {"tickPolicy": "catchup"}}}), {}),
        ("pit-absent", domain(clock={"timer": {"pit": {"present": False}}}), {}),
        ("error-pit-merge", domain(clock={"timer": {"pit": {"tickPolicy": "merge"}}}), {}),
        ("error-pit-absent-with-policy", domain(clock={"timer": {"pit": {
            "present": False, "tickPolicy": "delay"}}}), {}),
    ],
    "disk_args": [
        (
            "virtio-qcow2-boot",
            disks({"name": "root", "disk": {"bus": "virtio"}, "bootOrder": 1, "serial": "S1"}),
            {"volumes": {"root": volume("root", "qcow2")}},
        ),
        ("default-bus-sata", disks({"name": "root"}), {"volumes": {"root": volume("root")}}),
        (
            "sata-cdrom-and-disk",
            disks({"name": "iso", "cdrom": {}}, {"name": "data", "disk": {"bus": "sata"}}),
            {"volumes": {"iso": volume("iso"), "data": volume("data")}},
        ),
        (
            "scsi-disk-and-cdrom",
            disks({"name": "a", "disk": {"bus": "scsi"}}, {"name": "b", "cdrom": {"bus": "scsi"}}),
            {"volumes": {"a": volume("a"), "b": volume("b")}},
        ),
        (
            "cache-modes",
            disks(
                {"name": "n", "disk": {"bus": "virtio"}, "cache": "none", "io": "native"},
                {"name": "wt", "disk": {"bus": "virtio"}, "cache": "writethrough"},
                {"name": "wb", "disk": {"bus": "virtio"}, "cache": "writeback", "io": "threads"},
            ),
            {"volumes": {"n": volume("n"), "wt": volume("wt"), "wb": volume("wb")}},
        ),
        (
            "no-direct-io-falls-back-to-writethrough",
            disks({"name": "t", "disk": {"bus": "virtio"}}),
            {"volumes": {"t": volume("t", direct_io=False)}},
        ),
        (
            "block-pvc-readonly",
            disks({"name": "blk", "disk": {"bus": "virtio", "readonly": True}}),
            {"volumes": {"blk": volume("blk", block=True)}},
        ),
        (
            "error-policy-shareable-iothread-blocksize",
            disks(
                {
                    "name": "d",
                    "disk": {"bus": "virtio"},
                    "errorPolicy": "enospace",
                    "shareable": True,
                    "dedicatedIOThread": True,
                    "blockSize": {"custom": {"logical": 512, "physical": 4096}},
                }
            ),
            {"volumes": {"d": volume("d")}},
        ),
        (
            "block-multi-queue",
            merge_patches(
                disks({"name": "d", "disk": {"bus": "virtio"}}),
                domain(cpu={"cores": 2}),
                devices(blockMultiQueue=True),
            ),
            {"volumes": {"d": volume("d")}},
        ),
        (
            "error-cdrom-virtio",
            disks({"name": "c", "cdrom": {"bus": "virtio"}}),
            {"volumes": {"c": volume("c")}},
        ),
        (
            "error-usb",
            disks({"name": "u", "disk": {"bus": "usb"}}),
            {"volumes": {"u": volume("u")}},
        ),
        ("error-no-volume", disks({"name": "ghost"}), {}),
        (
            "error-seven-sata",
            disks(*({"name": f"s{i}"} for i in range(7))),
            {"volumes": {f"s{i}": volume(f"s{i}") for i in range(7)}},
        ),
        (
            "error-tray-open",
            disks({"name": "c", "cdrom": {"tray": "open"}}),
            {"volumes": {"c": volume("c")}},
        ),
    ],
    "nic_args": [
        ("tap-default", nics({"name": "default", "masquerade": {}}), {}),
        (
            "tap-named-e1000-mac-boot",
            nics(
                {
                    "name": "default",
                    "bridge": {},
                    "model": "e1000",
                    "macAddress": "de:ad:00:00:be:af",
                    "bootOrder": 2,
                }
            ),
            {"tap_names": {"default": "tap-abc"}},
        ),
        ("user-mode", nics({"name": "default", "masquerade": {}}), {"network_mode": "user"}),
        ("error-igb", nics({"name": "default", "bridge": {}, "model": "igb"}), {}),
        (
            "error-multus",
            nics(
                {"name": "m", "bridge": {}},
                networks=[{"name": "m", "multus": {"networkName": "ns/net"}}],
            ),
            {},
        ),
        ("error-no-binding", nics({"name": "default"}), {}),
        ("error-no-network", nics({"name": "other", "bridge": {}}), {}),
    ],
    "serial_args": [
        ("default", {}, {}),
        ("off", devices(autoattachSerialConsole=False), {}),
    ],
    "graphics_args": [
        ("default-bios", {}, {}),
        ("efi-bochs", domain(firmware={"bootloader": {"efi": {"secureBoot": False}}}), {}),
        ("virtio", devices(video={"type": "virtio"}), {}),
        ("off", devices(autoattachGraphicsDevice=False), {}),
        ("error-type", devices(video={"type": "qxl"}), {}),
    ],
    "input_args": [
        ("none", {}, {}),
        (
            "tablet-usb-keyboard-virtio",
            devices(
                inputs=[
                    {"name": "t", "type": "tablet", "bus": "usb"},
                    {"name": "k", "type": "keyboard", "bus": "virtio"},
                ]
            ),
            {},
        ),
        ("autoattach", devices(autoattachInputDevice=True), {}),
    ],
    "rng_args": [("none", {}, {}), ("rng", devices(rng={}), {})],
    "watchdog_args": [
        ("none", {}, {}),
        ("default-action", devices(watchdog={"name": "w", "i6300esb": {}}), {}),
        ("poweroff", devices(watchdog={"name": "w", "i6300esb": {"action": "poweroff"}}), {}),
    ],
    "balloon_args": [
        ("default", {}, {}),
        ("off", devices(autoattachMemBalloon=False), {}),
    ],
    "panic_args": [
        ("pvpanic", devices(panicDevices=[{"model": "pvpanic"}]), {}),
        ("error-hyperv", devices(panicDevices=[{"model": "hyperv"}]), {}),
    ],
    "vsock_args": [
        ("off", devices(autoattachVSOCK=False), {}),
        ("error-on", devices(autoattachVSOCK=True), {}),
    ],
}


def run_case(
    feature: Callable[..., list[str]], patch: dict[str, Any], overrides: dict[str, Any]
) -> dict[str, Any]:
    ctx: DomainContext = new_ctx(**overrides)
    try:
        return {"argv": feature(new_vmi(patch), ctx)}
    except LauncherError as e:
        return {"error": f"{type(e).__name__}: {e}"}


def _by_name() -> dict[str, Callable[..., list[str]]]:
    return {f.__name__: f for f in FEATURES}


def test_every_feature_has_a_table() -> None:
    assert set(CASES) == set(_by_name())


@pytest.mark.parametrize("feature", sorted(CASES))
def test_feature_golden(feature: str) -> None:
    fn = _by_name()[feature]
    got = {name: run_case(fn, patch, overrides) for name, patch, overrides in CASES[feature]}
    golden = GOLDEN / f"{feature}.json"
    text = json.dumps(got, indent=2, sort_keys=True) + "\n"
    if UPDATE or not golden.exists():
        golden.write_text(text)
    assert json.loads(golden.read_text()) == got, f"{golden} differs; VIRTKUBE_UPDATE_GOLDEN=1"


def test_build_argv_concatenates_features() -> None:
    vmi = new_vmi(disks({"name": "root", "disk": {"bus": "virtio"}}))
    vmi_vols = {"root": volume("root", "qcow2")}
    argv = build_argv(vmi, new_ctx(volumes=vmi_vols), qemu="/usr/bin/qemu-system-x86_64")
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert f"path={RUN / 'qmp.sock'}" in ",".join(argv)
    expected: list[str] = []
    for feature in FEATURES:
        expected += feature(vmi, new_ctx(volumes=vmi_vols))
    assert argv[1:] == expected
