"""Starting QEMU so that it never outlives the launcher.

The child asks the kernel for SIGKILL when its parent dies
(PR_SET_PDEATHSIG, prctl(2)), which covers every way the launcher can die,
SIGKILL included. It stays in the launcher's process group, so a signal to the
group (a pod's kill, a terminal's ^C) reaches both. PDEATHSIG fires when the
*thread* that forked exits, so QEMU must be forked from the event loop's
(main) thread, which asyncio's subprocess support does.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
from collections.abc import Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
#: Lines of QEMU's stderr quoted in a launch failure.
STDERR_TAIL_LINES = 20


def _die_with_parent() -> None:
    """preexec_fn: runs in the child between fork and exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(127)
    # The parent may have died between fork() and prctl(): nobody would signal us.
    if os.getppid() == 1:
        os._exit(127)


async def spawn(argv: Sequence[str], log: Path) -> asyncio.subprocess.Process:
    """Start QEMU with stdout and stderr appended to `log`."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            preexec_fn=_die_with_parent,
            close_fds=True,
        )


def log_tail(log: Path, lines: int = STDERR_TAIL_LINES) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"
