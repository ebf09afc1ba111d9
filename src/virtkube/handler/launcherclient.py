"""Talking to one virt-launcher over its command socket (virtkube.hlcom.protocol).

Each call opens the unix socket, sends one request line and reads the
response with the same id. Errors say which hop failed: the socket missing
(the launcher has not started yet), refused (it died), or the launcher
answering with an error of its own.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from virtkube.hlcom import protocol

_ids = itertools.count(1)


class LauncherError(Exception):
    """The launcher could not be asked, or answered with an error."""


class LauncherUnreachable(LauncherError):
    """No launcher listens on the socket (not started yet, or gone)."""


class LauncherCommandFailed(LauncherError):
    def __init__(self, error: protocol.ErrorInfo) -> None:
        super().__init__(f"virt-launcher: {error.type}: {error.message}")
        self.error = error


async def call(socket: Path, command: protocol.Command, timeout: float = 10.0
               ) -> protocol.Domain | None:
    request = protocol.Request(id=next(_ids), command=command)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(socket)),
                                                timeout)
    except (FileNotFoundError, ConnectionRefusedError, TimeoutError) as e:
        raise LauncherUnreachable(f"virt-launcher socket {socket}: {e}") from e
    try:
        writer.write(protocol.encode(request))
        await writer.drain()
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                raise LauncherUnreachable(f"virt-launcher closed {socket} without answering")
            response = protocol.decode_response(line)
            if response.id == request.id:
                break
    except (ConnectionError, TimeoutError) as e:
        raise LauncherUnreachable(f"virt-launcher socket {socket}: {e!r}") from e
    except protocol.ProtocolError as e:
        raise LauncherError(f"virt-launcher at {socket}: {e}") from e
    finally:
        writer.close()
    if not response.ok:
        raise LauncherCommandFailed(response.error or protocol.ErrorInfo(
            type="Unknown", message="error without detail"))
    return response.domain
