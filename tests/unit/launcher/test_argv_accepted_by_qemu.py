"""The golden argv are only worth something if QEMU accepts them: start QEMU
paused with a feature-rich VMI (every bus, cache mode, device) and ask it over
QMP whether it came up. Skipped where qemu-system-x86_64 is missing."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from qemu.qmp import QMPClient

from virtkube.launcher.domain import build_argv
from virtkube.launcher.domain.context import FirmwareFiles, ResolvedVolume

from .builders import new_ctx, new_vmi

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 not installed"
)

RICH = {
    "spec": {
        "networks": [{"name": "default", "pod": {}}],
        "domain": {
            "cpu": {"sockets": 1, "cores": 2, "features": [{"name": "pcid", "policy": "disable"}]},
            "firmware": {"bootloader": {"efi": {}}, "serial": "s-1"},
            "features": {"acpi": {}, "smm": {}},
            "clock": {"timer": {"rtc": {"tickPolicy": "catchup"}, "hpet": {"present": False}}},
            "devices": {
                "disks": [
                    {"name": "v", "disk": {"bus": "virtio"}, "bootOrder": 1,
                     "dedicatedIOThread": True, "errorPolicy": "report"},
                    {"name": "s", "disk": {"bus": "sata"}, "serial": "SATA1", "cache": "writeback"},
                    {"name": "c", "cdrom": {"bus": "sata"}},
                    {"name": "q", "disk": {"bus": "scsi"}, "shareable": True},
                    {"name": "qc", "cdrom": {"bus": "scsi"}},
                ],
                "interfaces": [{"name": "default", "masquerade": {}, "model": "e1000e",
                                "macAddress": "02:00:00:00:00:01"}],
                "inputs": [{"name": "t", "type": "tablet", "bus": "usb"}],
                "rng": {},
                "watchdog": {"name": "w", "i6300esb": {"action": "poweroff"}},
                "panicDevices": [{"model": "pvpanic"}],
                "blockMultiQueue": True,
            },
        },
    }
}  # fmt: skip


def make_volumes(tmp_path: Path) -> dict[str, ResolvedVolume]:
    vols: dict[str, ResolvedVolume] = {}
    for name, fmt in (("v", "qcow2"), ("s", "raw"), ("c", "raw"), ("q", "raw"), ("qc", "raw")):
        path = tmp_path / f"{name}.img"
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), "16M"], check=True)
        vols[name] = ResolvedVolume(path, fmt, direct_io=False)  # type: ignore[arg-type]
    return vols


async def test_qemu_accepts_rich_argv(tmp_path: Path) -> None:
    vols = await asyncio.to_thread(make_volumes, tmp_path)
    firmware = FirmwareFiles()
    if not firmware.secure_code.exists():
        pytest.skip("ovmf not installed")
    efi_vars = tmp_path / "vars.fd"
    shutil.copyfile(firmware.secure_vars, efi_vars)
    ctx = new_ctx(
        run_dir=tmp_path,
        qmp_socket=tmp_path / "qmp.sock",
        serial_socket=tmp_path / "serial.sock",
        vnc_socket=tmp_path / "vnc.sock",
        volumes=vols,
        network_mode="user",
        efi_vars=efi_vars,
    )
    argv = build_argv(new_vmi(RICH), ctx)
    serial = await asyncio.start_unix_server(lambda r, w: None, path=str(ctx.serial_socket))
    qmp = QMPClient("argv-test")
    await qmp.start_server(str(ctx.qmp_socket))
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        accepted = asyncio.ensure_future(qmp.accept())
        exited = asyncio.ensure_future(proc.wait())
        done, _ = await asyncio.wait({accepted, exited}, timeout=30, return_when="FIRST_COMPLETED")
        if accepted not in done or accepted.exception() is not None:
            await asyncio.wait_for(proc.wait(), 10)
            out = await proc.stdout.read() if proc.stdout else b""
            pytest.fail(f"QEMU rejected the argv:\n{out.decode()}\nargv: {argv}")
        status = await qmp.execute("query-status")
        assert isinstance(status, dict) and status["status"] == "prelaunch"
        await qmp.execute("quit")
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(EOFError):  # QEMU closed QMP on quit
            await qmp.disconnect()
        serial.close()
