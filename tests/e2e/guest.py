"""Reaching a running guest from a test: its console socket, its QEMU process."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from virtkube.local.procs import cmdline


class Console:
    """A client of a launcher's serial console socket (history is replayed on attach)."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError as e:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise AssertionError(f"console socket {path} never accepted: {e}") from e
                time.sleep(0.1)
        self.output = b""

    def expect(self, pattern: str, timeout: float = 60.0, *, start: int = 0
               ) -> re.Match[bytes]:
        """Wait for `pattern` in the output from offset `start` on (0: history included)."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output, start)
            if match:
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                tail = self.output[-600:].decode(errors="replace")
                raise AssertionError(f"console never showed {pattern!r}; last output:\n{tail}")
            self.sock.settimeout(min(left, 1.0))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"console closed before {pattern!r}; output:\n"
                                     + self.output[-600:].decode(errors="replace"))
            self.output += chunk

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def qemu_pids(marker: str) -> list[int]:
    """QEMU processes whose command line mentions `marker` (a VMI uid or name)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            argv = cmdline(int(entry.name))
            if argv and "qemu-system" in argv[0] and any(marker in a for a in argv):
                pids.append(int(entry.name))
    return pids
