"""A small async client for the launcher's command socket (virt-handler, tests, bench)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from types import TracebackType

from virtkube.hlcom import protocol as p


class LauncherCommandError(Exception):
    """The launcher answered a command with ok: false."""

    def __init__(self, command: str, error: p.ErrorInfo) -> None:
        super().__init__(f"launcher: {command}: {error.type}: {error.message}")
        self.error = error


class LauncherClient:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> LauncherClient:
        self._reader, self._writer = await asyncio.open_unix_connection(
            str(self.socket_path), limit=16 << 20
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()

    async def call(self, command: p.Command) -> p.Domain:
        """Send one command; return the domain, or raise LauncherCommandError."""
        if self._reader is None or self._writer is None:
            raise RuntimeError("use `async with LauncherClient(...)`")
        async with self._lock:
            request = p.Request(id=next(self._ids), command=command)
            self._writer.write(p.encode(request))
            await self._writer.drain()
            line = await self._reader.readline()
        if not line:
            raise ConnectionError(f"launcher at {self.socket_path} closed the connection")
        response = p.decode_response(line)
        if not response.ok:
            assert response.error is not None
            raise LauncherCommandError(command.kind, response.error)
        assert response.domain is not None
        return response.domain
