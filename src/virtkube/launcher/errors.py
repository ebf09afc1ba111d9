"""The launcher's own exceptions, so a caller can tell whose fault a failure is.

Every error a launcher reports (through the command socket, its exit status,
or a VMI condition written by virt-handler) is one of these. They are raised
`from` their cause, and their message names the hop that failed: the VMI spec
(a field path), a volume (its name), QEMU (exit code, argv, stderr tail) or
QMP (the command sent and the reply).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class LauncherError(Exception):
    """Base of everything the launcher raises on purpose."""


class SpecError(LauncherError):
    """The VMI cannot be turned into a QEMU command line."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field_path = field_path
        self.message = message


class UnsupportedFieldError(SpecError):
    """A KubeVirt field that virtkube does not implement (yet) was set.

    design.md: "Nothing is silently ignored" - a manifest is run in full or
    rejected with the path of the field that stops it.
    """

    def __init__(self, field_path: str, detail: str = "") -> None:
        suffix = f" ({detail})" if detail else ""
        super().__init__(field_path, f"not supported by virtkube{suffix}")


class VolumeError(LauncherError):
    """A volume could not be prepared (resolved, created, or packed into an ISO)."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f"volume {volume!r}: {message}")
        self.volume = volume


class ContainerDiskError(LauncherError):
    """A containerDisk or kernelBoot image's file could not be reached (in the OCI image
    store, or in the disk's container of the pod)."""


class QemuLaunchError(LauncherError):
    """QEMU exited before it was up: mirrors qemu.machine's VMLaunchFailure."""

    def __init__(
        self, *, exit_code: int | None, argv: Sequence[str], stderr_tail: str, reason: str = ""
    ) -> None:
        self.exit_code = exit_code
        self.argv = list(argv)
        self.stderr_tail = stderr_tail
        self.reason = reason
        lines = [
            f"QEMU failed to start{': ' + reason if reason else ''}",
            f"  exit code: {exit_code}",
            f"  command: {shlex.join(self.argv)}",
            "  stderr (tail):",
            *("    " + line for line in stderr_tail.splitlines()),
        ]
        super().__init__("\n".join(lines))


class QmpError(LauncherError):
    """A QMP command failed or the monitor went away."""


class DomainStateError(LauncherError):
    """A command does not fit the domain's state (e.g. Pause before Sync)."""


class ProtocolError(LauncherError):
    """A command-socket message was malformed or of an unknown version."""
