"""The launcher's exit status says why it ended (virt-handler and the pod read it).

0   the guest powered off (by itself, or after Shutdown within the grace
    period), or the launcher stopped before any QEMU ran
1   internal error in the launcher (a bug: see its log)
2   bad command line
10  Shutdown's grace period ran out; QEMU was killed
11  QEMU was killed on request (Kill command)
12  the guest panicked (QEMU was stopped after GUEST_PANICKED)
13  QEMU died unasked (crash, OOM kill, external signal); the log has its exit status
14  QEMU failed to start (exit code, argv and stderr tail in the log)
15  the VMI was rejected: unsupported field, bad spec, or a volume that
    could not be prepared (only with --vmi; over the socket Sync answers
    with the error and the launcher keeps waiting)
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL_ERROR = 1
    USAGE = 2
    SHUTDOWN_FORCED = 10
    KILLED = 11
    GUEST_PANICKED = 12
    QEMU_CRASHED = 13
    QEMU_START_FAILED = 14
    VMI_REJECTED = 15
