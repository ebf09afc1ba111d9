"""The command server: protocol.py's JSON lines on the launcher's unix socket.

Each connection may send any number of requests; each gets one response with
the same id. Errors become `ok: false` responses naming the exception class,
so virt-handler can tell a rejected spec (UnsupportedFieldError) from a QEMU
that would not start (QemuLaunchError) without parsing text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from virtkube.hlcom import protocol as p
from virtkube.launcher.errors import LauncherError
from virtkube.launcher.supervisor import Supervisor

log = logging.getLogger(__name__)

#: A VMI with many cloud-init files still fits; anything bigger is not a request.
MAX_LINE = 16 << 20


class CommandServer:
    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._server: asyncio.Server | None = None
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(self._client, path=str(path), limit=MAX_LINE)
        os.chmod(path, 0o600)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for requests in flight to be answered."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

    async def close(self) -> None:
        """Stop listening, end open connections and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                self._busy += 1
                self._idle.clear()
                try:
                    response = await self.handle_line(line)
                    writer.write(p.encode(response))
                    await writer.drain()
                finally:
                    self._busy -= 1
                    if not self._busy:
                        self._idle.set()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as e:
            log.debug("command client gone: %s", e)
        finally:
            writer.close()
            self._writers.discard(writer)
            self._handlers.discard(task)

    async def handle_line(self, line: bytes) -> p.Response:
        try:
            request = p.decode_request(line)
        except p.ProtocolError as e:
            return p.Response(ok=False, error=p.ErrorInfo(type="ProtocolError", message=str(e)))
        try:
            domain = await self.dispatch(request.command)
        except LauncherError as e:
            log.warning("%s failed: %s", request.command.kind, e)
            return p.Response(
                id=request.id,
                ok=False,
                domain=self.supervisor.domain(),
                error=p.ErrorInfo(type=type(e).__name__, message=str(e)),
            )
        return p.Response(id=request.id, ok=True, domain=domain)

    async def dispatch(self, command: p.Command) -> p.Domain:
        sup = self.supervisor
        match command:
            case p.Ping() | p.GetDomain():
                return sup.domain()
            case p.Sync(vmi=vmi, dhcp=dhcp):
                return await sup.sync(vmi, dhcp)
            case p.Pause():
                return await sup.pause()
            case p.Unpause():
                return await sup.unpause()
            case p.SoftReboot():
                return await sup.soft_reboot()
            case p.Shutdown(grace_period_seconds=grace):
                return await sup.shutdown(grace)
            case p.Kill():
                return await sup.kill()
        raise AssertionError(f"unhandled command {command!r}")
