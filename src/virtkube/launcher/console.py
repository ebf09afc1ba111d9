"""The serial console: one guest UART, many attached clients, 1 MiB of history.

QEMU's serial chardev connects to the launcher (never the other way round), so
the launcher is the single reader of the guest's output. It keeps the last
`HISTORY_BYTES` in a ring buffer, replays them to each client that attaches
late (`virtctl console` after the login prompt was printed still shows it), and
fans live output out to every attached client. Input from any client goes to
the guest. A client that cannot keep up is dropped, so a stalled reader never
stalls the guest's UART.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

#: KubeVirt keeps no history at all; 1 MiB holds a full boot log of a chatty guest.
HISTORY_BYTES = 1 << 20
#: Bytes queued for one slow client before it is disconnected.
CLIENT_BACKLOG_BYTES = 4 << 20


class RingBuffer:
    """The last `capacity` bytes ever appended, cheap to append to."""

    def __init__(self, capacity: int = HISTORY_BYTES) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._buf = bytearray()
        self.total = 0
        """Bytes ever appended (lets a test tell trimmed history from lost output)."""

    def append(self, data: bytes) -> None:
        self._buf += data
        self.total += len(data)
        # Trim lazily: at most every `capacity` bytes, so appends stay O(len(data)).
        if len(self._buf) > 2 * self.capacity:
            del self._buf[: len(self._buf) - self.capacity]

    def snapshot(self) -> bytes:
        return bytes(self._buf[-self.capacity :])

    def __len__(self) -> int:
        return min(len(self._buf), self.capacity)


class ConsoleHub:
    """Joins the guest's serial stream to the clients on the console socket."""

    def __init__(self, history: int = HISTORY_BYTES) -> None:
        self.history = RingBuffer(history)
        self._clients: set[asyncio.StreamWriter] = set()
        self._guest: asyncio.StreamWriter | None = None
        self._server: asyncio.Server | None = None
        self._pump: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- the guest side ---------------------------------------------------
    def attach_guest(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Start reading the guest's UART from QEMU's chardev connection."""
        self._guest = writer
        self._pump = asyncio.create_task(self._pump_guest(reader), name="console-pump")

    async def _pump_guest(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            self.feed(data)
        self._guest = None

    def feed(self, data: bytes) -> None:
        """Guest output: keep it and send it to every client."""
        self.history.append(data)
        for client in list(self._clients):
            transport = client.transport
            if transport.is_closing():
                self._clients.discard(client)
                continue
            if transport.get_write_buffer_size() > CLIENT_BACKLOG_BYTES:
                log.warning("console client too slow, dropping it")
                self._clients.discard(client)
                client.close()
                continue
            client.write(data)
        self._changed.set()

    async def wait_for(self, needle: bytes) -> None:
        """Wait until `needle` appears in the history; callers bound it with a timeout."""
        while needle not in self.history.snapshot():
            self._changed.clear()
            await self._changed.wait()

    # -- the client side --------------------------------------------------
    async def serve(self, path: Path) -> None:
        """Listen for console clients on the unix socket `path`."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(self._client, path=str(path))
        os.chmod(path, 0o600)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        writer.write(self.history.snapshot())
        self._clients.add(writer)
        try:
            while data := await reader.read(4096):
                guest = self._guest
                if guest is not None and not guest.transport.is_closing():
                    guest.write(data)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close()
        self._clients.clear()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2)
        if self._guest is not None:
            self._guest.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
