"""KVM or TCG: use KVM only where it really runs a guest, else emulate.

/dev/kvm opening is not enough: nested or sandboxed hosts expose a KVM that
answers its ioctls and even runs SeaBIOS, then fails with "KVM internal error"
on the first protected-mode far jump of a real boot loader (seen on this
project's CI machine). So the probe boots a 512-byte boot sector
(`kvm_probe.S` beside this file) that enters protected mode, takes an
interrupt through an IDT and returns with iret, then writes "OK" to the debug
port. Under a working KVM that takes well under a second. The result is
cached per host boot, the choice is logged, and `VIRTKUBE_ACCEL=kvm|tcg`
overrides it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Accel = Literal["kvm", "tcg"]
ENV_OVERRIDE = "VIRTKUBE_ACCEL"
#: What the probe sector writes to port 0x402 once its protected-mode round trip worked.
_PROBE_OK = b"OK\n"
#: SeaBIOS alone takes up to ~3 s under a slow nested KVM; a working one answers in < 1 s.
PROBE_TIMEOUT = 10.0
#: The assembled kvm_probe.S: (offset, bytes) of its non-zero parts in the 512-byte sector.
_PROBE_SECTOR_PARTS = (
    (0, "fa31c08ed88ed0bc007c0f0116687c0f20c06683c8010f22c066ea217c0000080066b810008ed88ec0"
        "8ed0bc007c00000f011d787d0000cd2066ba0204b04feeb04beeb00aeef4ebfdcf8db6"),
    (88, "ffff0000009acf00ffff00000092cf001700507c00006690"),
    (368, "497c0800008e00000701707c"),
    (510, "55aa"),
)  # fmt: skip


def probe_sector() -> bytes:
    sector = bytearray(512)
    for offset, hexbytes in _PROBE_SECTOR_PARTS:
        raw = bytes.fromhex(hexbytes)
        sector[offset : offset + len(raw)] = raw
    return bytes(sector)


_KVM_GET_API_VERSION = 0xAE00
_KVM_API_VERSION = 12


def kvm_api_ok(device: str = "/dev/kvm") -> bool:
    """Whether /dev/kvm opens and speaks KVM API version 12 (the only one there is)."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, _KVM_GET_API_VERSION) == _KVM_API_VERSION
    except OSError:
        return False
    finally:
        os.close(fd)


def probe_boot(
    qemu: str = "qemu-system-x86_64", timeout: float = PROBE_TIMEOUT, *, accel: Accel = "kvm"
) -> bool:
    """Boot the probe sector under `accel` (tests use tcg); True when it reports back."""
    with tempfile.TemporaryDirectory(prefix="virtkube-kvm-probe-") as tmp:
        disk, debug, stderr = Path(tmp) / "probe.img", Path(tmp) / "debug.log", Path(tmp) / "err"
        # SeaBIOS does not boot from a disk smaller than a few sectors.
        disk.write_bytes(probe_sector() + bytes((1 << 20) - 512))
        argv = [
            qemu, "-accel", accel, "-machine", "q35", "-m", "16", "-nodefaults",
            "-display", "none", "-serial", "none", "-monitor", "none", "-no-reboot",
            "-drive", f"file={disk},format=raw,if=ide",
            "-debugcon", f"file:{debug}", "-global", "isa-debugcon.iobase=0x402",
        ]  # fmt: skip
        with stderr.open("wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with contextlib.suppress(FileNotFoundError):
                    if _PROBE_OK in debug.read_bytes():
                        return True
                # QEMU stops (it does not exit) on a KVM internal error.
                if proc.poll() is not None or b"KVM internal error" in stderr.read_bytes():
                    return False
                time.sleep(0.05)
            return False
        finally:
            proc.kill()
            proc.wait()


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _cache_file() -> Path:
    env = os.environ.get("VIRTKUBE_CACHE_DIR")
    base = Path(env) if env else Path(tempfile.gettempdir()) / "virtkube-cache"
    return base / "accel.json"


def detect(qemu: str = "qemu-system-x86_64", *, use_cache: bool = True) -> Accel:
    """The accelerator to run guests with here; logs the choice and why."""
    forced = os.environ.get(ENV_OVERRIDE, "").strip().lower()
    if forced in ("kvm", "tcg"):
        log.info("accelerator %s (forced by %s)", forced, ENV_OVERRIDE)
        return "kvm" if forced == "kvm" else "tcg"
    if forced:
        log.warning("ignoring %s=%r: expected kvm or tcg", ENV_OVERRIDE, forced)
    if not kvm_api_ok():
        log.warning("accelerator tcg: /dev/kvm is missing or unusable (software emulation)")
        return "tcg"
    cache = _cache_file()
    boot = _boot_id()
    if use_cache:
        with contextlib.suppress(OSError, ValueError, KeyError):
            cached = json.loads(cache.read_text())
            if cached["boot_id"] == boot and cached["accel"] in ("kvm", "tcg"):
                accel: Accel = "kvm" if cached["accel"] == "kvm" else "tcg"
                log.info("accelerator %s (probed earlier in this host boot)", accel)
                return accel
    accel = "kvm" if probe_boot(qemu) else "tcg"
    if accel == "kvm":
        log.info("accelerator kvm (probe boot succeeded)")
    else:
        log.warning("accelerator tcg: /dev/kvm exists but a probe guest did not boot under it")
    with contextlib.suppress(OSError):
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"boot_id": boot, "accel": accel}))
    return accel
