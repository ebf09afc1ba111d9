"""What the pure VMI -> argv conversion needs besides the VMI itself.

Everything that depends on the host (paths, the accelerator, where each volume
ended up after preparation, the time for clock offsets) is decided before the
conversion and handed in here, so the conversion stays a pure function that
golden tests can pin down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

Accel = Literal["kvm", "tcg"]
#: tap: a TAP device virt-handler created in the pod netns (production).
#: user: QEMU's user-mode network, restricted (no host access): tests without Kubernetes.
NetworkMode = Literal["tap", "user"]
ImageFormat = Literal["raw", "qcow2"]


@dataclass(frozen=True)
class ResolvedVolume:
    """Where one VMI volume lives on this host after preparation."""

    path: Path
    format: ImageFormat = "raw"
    block: bool = False
    """A block device (PVC with volumeMode Block), not a file."""
    read_only: bool = False
    """The source itself is read-only (ISO data, a read-only PVC)."""
    direct_io: bool = True
    """O_DIRECT works on it; without it cache=none is impossible (tmpfs)."""


@dataclass(frozen=True)
class FirmwareFiles:
    """OVMF images (Debian's `ovmf` package, 4 MiB flash layout)."""

    code: Path = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
    vars: Path = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
    secure_code: Path = Path("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
    #: Microsoft keys enrolled, as KubeVirt's secure-boot guests expect.
    secure_vars: Path = Path("/usr/share/OVMF/OVMF_VARS_4M.ms.fd")


@dataclass(frozen=True)
class KernelFiles:
    """kernelBoot's kernel and initrd, extracted from their container image."""

    kernel: Path | None = None
    initrd: Path | None = None


@dataclass(frozen=True)
class DomainContext:
    """Host-side facts for one conversion; see module docstring."""

    run_dir: Path
    accel: Accel = "tcg"
    qmp_socket: Path = Path("qmp.sock")
    serial_socket: Path = Path("serial0.sock")
    vnc_socket: Path = Path("vnc.sock")
    volumes: Mapping[str, ResolvedVolume] = field(default_factory=dict)
    network_mode: NetworkMode = "tap"
    tap_names: Mapping[str, str] = field(default_factory=dict)
    """Interface name -> TAP device name (virt-handler's choice)."""
    firmware: FirmwareFiles = field(default_factory=FirmwareFiles)
    efi_vars: Path | None = None
    """This VMI's own copy of the OVMF variable store."""
    kernel: KernelFiles = field(default_factory=KernelFiles)
    now: datetime | None = None
    """Wall-clock time at start, for `clock.utc.offsetSeconds` and `clock.timezone`."""
    start_paused: bool = True
    """Start QEMU with -S: the launcher attaches QMP and console before the CPU runs."""
