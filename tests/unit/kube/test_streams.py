"""The websocket <-> byte-stream splice (virt-api to a VMI port, virt-handler to a launcher)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from virtkube.kube import streams


@asynccontextmanager
async def spliced(sock: Path, reasons: list[str]) -> AsyncIterator[str]:
    """A websocket endpoint that splices to the unix socket `sock`; yields its URL."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        reader, writer = await asyncio.open_unix_connection(str(sock))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        reasons.append(await streams.bridge_stream(ws, reader, writer, "the launcher",
                                                   client_name="virt-api"))
        return ws

    app = web.Application()
    app.add_routes([web.get("/ws", handle)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/ws"
    finally:
        await runner.cleanup()


async def echo_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo one chunk, then hang up: the upstream ends first."""
    writer.write(await reader.read(100))
    await writer.drain()
    writer.close()


async def test_bytes_both_ways_and_upstream_end_names_the_hop(tmp_path: Path) -> None:
    sock, reasons = tmp_path / "console.sock", []
    server = await asyncio.start_unix_server(echo_once, str(sock))
    async with spliced(sock, reasons) as url, aiohttp.ClientSession() as session, \
            session.ws_connect(url) as ws:
        await ws.send_bytes(b"hello")
        assert (await ws.receive()).data == b"hello"
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert closing.data == streams.CLOSE_HOP_FAILED
        assert closing.extra == "the launcher closed the connection"
    server.close()
    assert reasons == ["the launcher closed the connection"]


async def test_client_end_is_a_normal_close(tmp_path: Path) -> None:
    sock, reasons = tmp_path / "vnc.sock", []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_unix_server(hold, str(sock))
    async with spliced(sock, reasons) as url, aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            await ws.send_bytes(b"x")
        for _ in range(100):
            if reasons:
                break
            await asyncio.sleep(0.02)
    server.close()
    assert reasons == ["virt-api closed the connection"]
