"""A Windows-ready VMI (issue 17): every Hyper-V enlightenment KubeVirt lists, the Hyper-V
clock and KubeVirt's Windows timers, SMM and EFI secure boot, as one golden argv.

No Windows image exists here; QEMU itself checks this argv in test_argv_accepted_by_qemu.py.
KubeVirt's own examples/vmi-windows.yaml is checked too when the shared examples hold it
(never copied into this repository).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.shared import EXAMPLES
from virtkube.launcher.domain import build_argv

from .builders import merge, new_ctx, new_vmi, volume

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VIRTKUBE_UPDATE_GOLDEN") == "1"

#: The domain settings of a Windows guest: KubeVirt's vmi-windows timers, every enlightenment,
#: SMM and secure boot (efi: {} is secure boot in KubeVirt).
WINDOWS: dict[str, Any] = {"spec": {"domain": {
    "clock": {"utc": {}, "timer": {"hpet": {"present": False}, "hyperv": {},
                                   "pit": {"tickPolicy": "delay"},
                                   "rtc": {"tickPolicy": "catchup"}}},
    "features": {"acpi": {}, "apic": {}, "smm": {}, "hyperv": {
        "relaxed": {}, "vapic": {}, "spinlocks": {"spinlocks": 8191}, "vpindex": {},
        "runtime": {}, "synic": {}, "synictimer": {"direct": {}}, "reset": {},
        "vendorid": {"vendorid": "KubeVirtKVM"}, "frequencies": {}, "reenlightenment": {},
        "tlbflush": {"direct": {}, "extended": {}}, "ipi": {}, "evmcs": {}}},
    "firmware": {"bootloader": {"efi": {}}, "uuid": "5d307ca9-b3ef-428c-8861-06e72d69f223"},
    "cpu": {"cores": 2},
}}}  # fmt: skip

#: The devices KubeVirt's Windows example uses: a SATA disk and an e1000 NIC.
WINDOWS_DEVICES: dict[str, Any] = {"spec": {
    "networks": [{"name": "default", "pod": {}}],
    "domain": {"devices": {
        "disks": [{"name": "pvcdisk", "disk": {"bus": "sata"}}],
        "interfaces": [{"name": "default", "masquerade": {}, "model": "e1000"}]}},
}}  # fmt: skip


def check_golden(name: str, value: Any) -> None:
    golden = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=2) + "\n"
    if UPDATE or not golden.exists():
        golden.write_text(text)
    assert json.loads(golden.read_text()) == value, f"{golden} differs; VIRTKUBE_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_windows_ready_argv_golden(accel: str) -> None:
    vmi = new_vmi(merge(WINDOWS, WINDOWS_DEVICES))
    ctx = new_ctx(accel=accel, volumes={"pvcdisk": volume("pvcdisk")},
                  tap_names={"default": "tap0"})
    check_golden(f"windows_argv_{accel}", build_argv(vmi, ctx, qemu="qemu-system-x86_64"))


def test_kubevirt_windows_example() -> None:
    """KubeVirt's examples/vmi-windows.yaml, where the shared examples have it."""
    path = EXAMPLES / "vmi-windows.yaml"
    if not path.exists():
        pytest.skip(f"{path} not found")
    doc = next(d for d in yaml.safe_load_all(path.read_text()) if d)
    names = [d["name"] for d in doc["spec"]["domain"]["devices"]["disks"]]
    ctx = new_ctx(volumes={n: volume(n) for n in names}, tap_names={"default": "tap0"})
    argv = build_argv(new_vmi(doc), ctx)
    cpu = argv[argv.index("-cpu") + 1].split(",")
    assert {"hv-relaxed=on", "hv-vapic=on", "hv-spinlocks=0x1fff", "hv-time=on"} <= set(cpu)
    assert "kvm-pit.lost_tick_policy=delay" in argv
    assert "hpet=off" in argv
    assert "base=utc,driftfix=slew" in argv
