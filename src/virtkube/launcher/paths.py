"""Where a launcher keeps its sockets and files, and the host options it runs with.

One run dir per VMI (the launcher pod's emptyDir in production). The names of
the sockets virt-handler uses come from protocol.py; the rest are internal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from virtkube.hlcom import protocol
from virtkube.launcher.domain.context import Accel, NetworkMode


@dataclass(frozen=True)
class RunPaths:
    run_dir: Path
    state_override: Path | None = None
    """--state-dir: keep disk state off a run dir that is shared with virt-handler."""

    @property
    def command_socket(self) -> Path:
        return self.run_dir / protocol.COMMAND_SOCKET

    @property
    def console_socket(self) -> Path:
        return self.run_dir / protocol.CONSOLE_SOCKET

    @property
    def vnc_socket(self) -> Path:
        return self.run_dir / protocol.VNC_SOCKET

    @property
    def qmp_socket(self) -> Path:
        """Internal: the launcher listens, QEMU's monitor connects."""
        return self.run_dir / "qmp.sock"

    @property
    def serial_socket(self) -> Path:
        """Internal: the launcher listens, QEMU's COM1 connects."""
        return self.run_dir / "serial0.sock"

    @property
    def qemu_log(self) -> Path:
        """QEMU's stdout and stderr, for the tail in a launch failure."""
        return self.run_dir / "qemu.log"

    @property
    def state_dir(self) -> Path:
        """Per-run disk state: overlays, empty disks, ISOs, EFI vars. Removed on exit."""
        return self.state_override or self.run_dir / "state"

    def sockets(self) -> list[Path]:
        return [
            self.command_socket,
            self.console_socket,
            self.vnc_socket,
            self.qmp_socket,
            self.serial_socket,
        ]


#: KubeVirt's mount point for the launcher's private volumes.
KUBEVIRT_PRIVATE = Path("/var/run/kubevirt-private")


@dataclass(frozen=True)
class HostOptions:
    """How this launcher finds its volumes and runs QEMU (CLI flags)."""

    image_store: Path | None = None
    """OCI image store for containerDisk and kernelBoot images."""
    container_disks_dir: Path | None = None
    """Where the pod's disk containers listen (<volume>.sock, kernel-boot.sock); when set,
    containerDisk and kernelBoot images are reached there, not in an image store."""
    mounts_dir: Path = KUBEVIRT_PRIVATE
    """vmi-disks/<vol>/disk.img, secret/<vol>/, config-map/<vol>/, service-account/."""
    block_dir: Path = Path("/dev")
    """Block-mode PVCs appear here as <volume name>."""
    cache_dir: Path | None = None
    """Where files extracted from OCI images are kept across runs."""
    network_mode: NetworkMode = "tap"
    accel: Accel | None = None
    """None: detect (see accel.py)."""
    qemu: str = "qemu-system-x86_64"
