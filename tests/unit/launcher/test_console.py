from __future__ import annotations

import asyncio
from pathlib import Path

from virtkube.launcher.console import ConsoleHub, RingBuffer


def test_ring_buffer_keeps_the_tail() -> None:
    ring = RingBuffer(capacity=10)
    for i in range(100):
        ring.append(str(i % 10).encode())
    assert ring.snapshot() == b"0123456789"
    assert len(ring) == 10 and ring.total == 100


def test_ring_buffer_big_append() -> None:
    ring = RingBuffer(capacity=4)
    ring.append(b"abcdefgh")
    assert ring.snapshot() == b"efgh"


async def read_until(reader: asyncio.StreamReader, needle: bytes) -> bytes:
    data = b""
    async with asyncio.timeout(5):
        while needle not in data:
            chunk = await reader.read(4096)
            assert chunk, f"EOF before {needle!r}; got {data!r}"
            data += chunk
    return data


async def test_hub_replays_history_and_fans_out(tmp_path: Path) -> None:
    sock = tmp_path / "console.sock"
    hub = ConsoleHub(history=64)
    await hub.serve(sock)
    # A fake guest UART: a socket pair whose far end plays QEMU.
    guest_side, qemu_side = await _pair(tmp_path)
    hub.attach_guest(*guest_side)
    qemu_reader, qemu_writer = qemu_side
    qemu_writer.write(b"early boot\nlogin: ")
    await qemu_writer.drain()
    async with asyncio.timeout(5):
        await hub.wait_for(b"login: ")
    late_r, late_w = await asyncio.open_unix_connection(str(sock))
    other_r, other_w = await asyncio.open_unix_connection(str(sock))
    assert b"early boot" in await read_until(late_r, b"login: ")
    await read_until(other_r, b"login: ")
    # Input from any client reaches the guest.
    late_w.write(b"root\n")
    await late_w.drain()
    assert await read_until(qemu_reader, b"root\n") == b"root\n"
    # Live output reaches every client.
    qemu_writer.write(b"# ")
    await qemu_writer.drain()
    await read_until(late_r, b"# ")
    await read_until(other_r, b"# ")
    late_w.close()
    other_w.close()
    qemu_writer.close()
    await hub.close()


async def _pair(tmp_path: Path):  # type: ignore[no-untyped-def]
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set_result((r, w))

    server = await asyncio.start_unix_server(on_conn, path=str(tmp_path / "serial.sock"))
    client = await asyncio.open_unix_connection(str(tmp_path / "serial.sock"))
    guest = await accepted
    server.close()
    return guest, client
