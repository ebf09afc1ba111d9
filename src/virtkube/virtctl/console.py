"""`virtctl console`: the guest's serial console in this terminal, raw, until Ctrl+].

The terminal is put in raw mode (every key goes to the guest, Ctrl+C too) and
restored on every way out. Ctrl+] (0x1d, telnet's escape) leaves. When the
stream ends from the other side, the reason (which hop closed it) is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Iterator

import aiohttp

from virtkube.virtctl.session import Session, VirtctlError

ESCAPE = b"\x1d"


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


async def run(session: Session, name: str, timeout: float) -> str:
    """Attach until Ctrl+] or disconnect; returns the line to print afterwards."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await asyncio.wait_for(
                session.websocket(http, "virtualmachineinstances", name, "console"), timeout)
        except TimeoutError as e:
            raise VirtctlError(f"timed out after {timeout:.0f}s connecting to the console "
                               f"of {name}") from e
        sys.stderr.write(f"Successfully connected to {name} console. "
                         "The escape sequence is ^]\n")
        sys.stderr.flush()
        loop = asyncio.get_running_loop()
        stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
        keys: asyncio.Queue[bytes] = asyncio.Queue()
        loop.add_reader(stdin, lambda: keys.put_nowait(os.read(stdin, 1024)))

        async def typing() -> str:
            while True:
                data = await keys.get()
                if not data:
                    return "stdin closed"
                if ESCAPE in data:
                    before = data.split(ESCAPE, 1)[0]
                    if before:
                        await ws.send_bytes(before)
                    return ""
                await ws.send_bytes(data)

        async def printing() -> str:
            async for msg in ws:
                if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                    os.write(stdout, data)
            reason = ws.close_code
            extra = f": {ws.exception()}" if ws.exception() else ""
            return (f"\r\nYou were disconnected from the console (code {reason}{extra}). "
                    "The VMI may have stopped, or virt-api, virt-handler or the launcher "
                    "ended the stream.")

        try:
            with raw_terminal(stdin):
                tasks = [asyncio.ensure_future(typing()), asyncio.ensure_future(printing())]
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                message = next(iter(done)).result()
        finally:
            loop.remove_reader(stdin)
            await ws.close()
        return message
