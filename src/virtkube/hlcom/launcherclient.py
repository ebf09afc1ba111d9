"""The one client of a virt-launcher's command socket (virtkube.hlcom.protocol).

virt-handler asks one question per connection (`call`); tests and benchmarks
keep a connection open for a session (`LauncherClient`). Both send a request
line and read until the response with the same id, and both fail with the same
typed errors, which say which hop failed: the socket missing or refused (the
launcher has not started yet, or died: `LauncherUnreachable`), the launcher
answering with an error of its own (`LauncherCommandFailed`, carrying the
launcher's exception class and message), or a line that is not this protocol.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from types import TracebackType

from virtkube.hlcom import protocol

#: A Sync answer carries the whole domain; lines may exceed asyncio's 64 KiB default.
LINE_LIMIT = 16 << 20


class LauncherError(Exception):
    """The launcher could not be asked, or answered with an error."""


class LauncherUnreachable(LauncherError):
    """No launcher listens on the socket (not started yet, or gone)."""


class LauncherCommandFailed(LauncherError):
    """The launcher answered a command with ok: false."""

    def __init__(self, command: str, error: protocol.ErrorInfo) -> None:
        super().__init__(f"virt-launcher: {command}: {error.type}: {error.message}")
        self.command = command
        self.error = error


class LauncherClient:
    """One connection to a launcher's command socket; `async with` opens and closes it."""

    def __init__(self, socket_path: Path, *, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> LauncherClient:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket_path), limit=LINE_LIMIT),
                self.timeout)
        except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as e:
            raise LauncherUnreachable(f"virt-launcher socket {self.socket_path}: {e}") from e
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._writer is not None:
            self._writer.close()

    async def call(self, command: protocol.Command, *, timeout: float | None = None
                   ) -> protocol.Domain | None:
        """Send one command and return the launcher's domain; raise a LauncherError."""
        if self._reader is None or self._writer is None:
            raise RuntimeError("use `async with LauncherClient(...)`")
        request = protocol.Request(id=next(self._ids), command=command)
        try:
            async with self._lock:
                self._writer.write(protocol.encode(request))
                await self._writer.drain()
                response = await self._answer(request.id, timeout or self.timeout)
        except (ConnectionError, TimeoutError) as e:
            raise LauncherUnreachable(f"virt-launcher socket {self.socket_path}: {e!r}") from e
        except protocol.ProtocolError as e:
            raise LauncherError(f"virt-launcher at {self.socket_path}: {e}") from e
        if not response.ok:
            raise LauncherCommandFailed(command.kind, response.error or protocol.ErrorInfo(
                type="Unknown", message="error without detail"))
        return response.domain

    async def _answer(self, request_id: int, timeout: float) -> protocol.Response:
        assert self._reader is not None
        while True:
            line = await asyncio.wait_for(self._reader.readline(), timeout)
            if not line:
                raise LauncherUnreachable(
                    f"virt-launcher closed {self.socket_path} without answering")
            response = protocol.decode_response(line)
            if response.id == request_id:
                return response


async def call(socket: Path, command: protocol.Command, timeout: float = 10.0
               ) -> protocol.Domain | None:
    """One command on a connection of its own (virt-handler's way)."""
    async with LauncherClient(socket, timeout=timeout) as client:
        return await client.call(command)
