"""Local TCP ends of VNC and port-forward streams, and ssh/scp through them.

Each accepted local connection opens its own websocket to the subresource
(`vnc`, `portforward/<port>`) on the API server and copies bytes both ways.
`--stdio` mode joins stdin/stdout to one stream instead, which is what ssh's
ProxyCommand needs (`virtctl ssh` runs the system ssh that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable

import aiohttp

from virtkube.virtctl import ssh
from virtkube.virtctl.session import Session, VirtctlError

Opener = Callable[[aiohttp.ClientSession], Awaitable[aiohttp.ClientWebSocketResponse]]


async def pipe(ws: aiohttp.ClientWebSocketResponse, reader: asyncio.StreamReader,
               writer: asyncio.StreamWriter) -> None:
    async def up() -> None:
        while data := await reader.read(64 * 1024):
            await ws.send_bytes(data)

    async def down() -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                writer.write(msg.data)
                await writer.drain()

    tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ws.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def listen(opener: Opener, address: str, port: int,
                 on_ready: Callable[[int], None]) -> None:
    """Serve local connections until cancelled; `on_ready` gets the bound port."""
    async with aiohttp.ClientSession() as http:

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                ws = await opener(http)
            except VirtctlError as e:
                sys.stderr.write(f"error: {e}\n")
                writer.close()
                return
            await pipe(ws, reader, writer)

        server = await asyncio.start_server(accept, address, port)
        bound = server.sockets[0].getsockname()[1]
        on_ready(int(bound))
        async with server:
            await server.serve_forever()


async def stdio(opener: Opener) -> None:
    """One stream joined to stdin/stdout (ssh ProxyCommand)."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        ws = await opener(http)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        out_fd = sys.stdout.fileno()

        async def up() -> None:
            while data := await reader.read(64 * 1024):
                await ws.send_bytes(data)

        async def down() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    os.write(out_fd, msg.data)

        tasks = [asyncio.ensure_future(up()), asyncio.ensure_future(down())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        await ws.close()


def target(value: str, default_namespace: str) -> tuple[str, str, str]:
    """`[vm|vmi/]name[.ns]` (KubeVirt's), or the older `vm/name/ns` -> (plural, name,
    namespace); a bare name is a VMI."""
    try:
        t = ssh.parse_target(value)
    except ssh.TargetError as e:
        raise VirtctlError(str(e), 2) from e
    return t.plural, t.name, t.namespace or default_namespace


def port_opener(session: Session, plural: str, name: str, namespace: str, port: int,
                protocol: str = "tcp") -> Opener:
    sub = f"portforward/{port}" + (f"/{protocol}" if protocol != "tcp" else "")

    async def open_ws(http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        return await session.websocket(http, plural, name, sub, namespace)

    return open_ws


def vnc_opener(session: Session, name: str) -> Opener:
    async def open_ws(http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        return await session.websocket(http, "virtualmachineinstances", name, "vnc")

    return open_ws


def parse_port(spec: str) -> tuple[str, int, int]:
    """`[proto/]local[:remote]` -> (proto, local, remote)."""
    proto, sep, rest = spec.rpartition("/")
    proto = proto if sep else "tcp"
    local, sep, remote = rest.partition(":")
    try:
        lp = int(local)
        rp = int(remote) if sep else lp
    except ValueError as e:
        raise VirtctlError(f"port {spec!r}: expected [tcp/]LOCAL[:REMOTE]") from e
    return proto, lp, rp
