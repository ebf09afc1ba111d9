"""Byte pipes for console, VNC and port-forward: websocket <-> websocket, websocket <-> TCP.

The user's websocket (through the API server) is bridged to the next hop
byte for byte: by virt-api to virt-handler (websocket) or to a VMI's port
(TCP), by virt-handler to the launcher's console and VNC sockets (unix). Pings
keep idle sessions alive across proxies (aiohttp's heartbeat, 30 s). When one
side ends, the other is closed with a reason that names the side that ended, so
"the console closed" can be told apart from "virt-handler went away". One
module for both processes (issue 11); it sits in kube, the layer both import.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

#: Websocket close code 1011 (internal error) carries the failing hop in its reason.
CLOSE_HOP_FAILED = 1011
READ_CHUNK = 64 * 1024


async def bridge_ws(user: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse,
                    upstream_name: str) -> str:
    """Copy both ways until one side ends; returns why it ended."""

    async def down() -> str:
        async for msg in upstream:
            if msg.type == aiohttp.WSMsgType.BINARY:
                await user.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await user.send_bytes(msg.data.encode())
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return f"{upstream_name}: connection error: {upstream.exception()}"
        reason = (upstream.close_code, getattr(upstream, "_close_message", None))
        return f"{upstream_name} closed the stream (code {reason[0]})"

    async def up() -> str:
        async for msg in user:
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                await upstream.send_bytes(data)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                return f"client connection error: {user.exception()}"
        return "client closed the connection"

    return await _race(down(), up(), user, upstream_name,
                       closer=upstream.close)


async def bridge_stream(user: web.WebSocketResponse, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter, upstream_name: str,
                        client_name: str = "client") -> str:
    """Copy between a websocket and a byte stream (TCP, a unix socket) until one side ends."""

    async def down() -> str:
        while data := await reader.read(READ_CHUNK):
            await user.send_bytes(data)
        return f"{upstream_name} closed the connection"

    async def up() -> str:
        async for msg in user:
            if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                writer.write(msg.data if isinstance(msg.data, bytes) else msg.data.encode())
                await writer.drain()
        return f"{client_name} closed the connection"

    async def close_writer() -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    return await _race(down(), up(), user, upstream_name, closer=close_writer,
                       client_name=client_name)


async def _race(down: Coroutine[Any, Any, str], up: Coroutine[Any, Any, str],
                user: web.WebSocketResponse, upstream_name: str,
                closer: Callable[[], Awaitable[Any]], client_name: str = "client") -> str:
    tasks = {asyncio.ensure_future(down), asyncio.ensure_future(up)}
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    finished = next(iter(done))
    try:
        reason = str(finished.result())
    except Exception as e:  # a broken pipe on either side
        reason = f"{upstream_name}: {type(e).__name__}: {e}"
    with contextlib.suppress(Exception):
        await closer()
    if not user.closed:
        code = (aiohttp.WSCloseCode.OK if reason.startswith(client_name)
                else CLOSE_HOP_FAILED)
        await user.close(code=code, message=reason.encode()[:120])
    return reason
