"""The launcher client's typed errors, against a fake launcher on a unix socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from virtkube.hlcom import launcherclient, protocol

Answer = Callable[[protocol.Request], protocol.Response | None]


@asynccontextmanager
async def fake_launcher(path: Path, answer: Answer) -> AsyncIterator[None]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            response = answer(protocol.decode_request(line))
            if response is None:
                break
            writer.write(protocol.encode(response))
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(serve, str(path))
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


DOMAIN = protocol.Domain(state="running")


async def test_answer_is_the_domain(tmp_path: Path) -> None:
    sock = tmp_path / "launcher.sock"
    async with fake_launcher(sock, lambda r: protocol.Response(id=r.id, ok=True, domain=DOMAIN)):
        assert await launcherclient.call(sock, protocol.Ping()) == DOMAIN
        async with launcherclient.LauncherClient(sock) as client:
            assert await client.call(protocol.GetDomain()) == DOMAIN
            assert await client.call(protocol.Pause()) == DOMAIN


async def test_no_socket_is_unreachable(tmp_path: Path) -> None:
    with pytest.raises(launcherclient.LauncherUnreachable, match=r"launcher\.sock"):
        await launcherclient.call(tmp_path / "launcher.sock", protocol.Ping())


async def test_hang_up_is_unreachable(tmp_path: Path) -> None:
    sock = tmp_path / "launcher.sock"
    async with fake_launcher(sock, lambda r: None):
        with pytest.raises(launcherclient.LauncherUnreachable, match="without answering"):
            await launcherclient.call(sock, protocol.Ping())


async def test_launcher_error_names_the_command_and_the_cause(tmp_path: Path) -> None:
    sock = tmp_path / "launcher.sock"
    error = protocol.ErrorInfo(type="SpecError", message="spec.domain.memory.guest: no memory")
    async with fake_launcher(sock, lambda r: protocol.Response(id=r.id, ok=False, error=error)):
        with pytest.raises(launcherclient.LauncherCommandFailed) as info:
            await launcherclient.call(sock, protocol.Pause())
    assert info.value.command == "Pause" and info.value.error == error
    assert str(info.value) == "virt-launcher: Pause: SpecError: spec.domain.memory.guest: no memory"
