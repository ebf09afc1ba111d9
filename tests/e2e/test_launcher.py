"""virt-launcher without Kubernetes: the nocloud example boots the tiny guest.

The VMI is KubeVirt's vmi-nocloud.yaml read from the shared folder beside the
checkout, with only the containerDisk image swapped for the tiny guest. The
guest runs under whatever accelerator the launcher detects (TCG here), with
QEMU's isolated user network.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.shared import EXAMPLES
from virtkube.hlcom import protocol as p
from virtkube.hlcom.launcherclient import LauncherClient, LauncherUnreachable
from virtkube.launcher.exitcodes import ExitCode

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = EXAMPLES / "vmi-nocloud.yaml"
TINY_GUEST = "virtkube/tiny-guest:latest"
LOGIN = b"vmi-nocloud login:"
USER_DATA_OUTPUT = b"printed from cloud-init userdata"
#: The example's own grace period is 0 (kill at once); a graceful stop needs time to act.
GRACE_SECONDS = 60

pytestmark = pytest.mark.e2e


def images_dir() -> Path:
    sys.path.insert(0, str(REPO))
    from images.paths import images_dir as find

    return find()


def _require_images() -> Path:
    store = images_dir() / "oci"
    if not (store / "virtkube" / "tiny-guest" / "index.json").exists():
        pytest.skip(f"no tiny guest image in {store}: run `make guest-images` first")
    if not EXAMPLE.exists():
        pytest.skip(f"{EXAMPLE} not found (the shared folder beside the checkout)")
    return store


def nocloud_vmi() -> dict[str, Any]:
    vmi = yaml.safe_load(EXAMPLE.read_text())
    vmi["spec"]["volumes"][0]["containerDisk"]["image"] = TINY_GUEST
    return vmi


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float, interval: float = 0.1
) -> Any:
    """Poll `check` until it returns truthy; fail with what we waited for and last saw."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
            if last:
                return last
        except (OSError, LauncherUnreachable) as e:
            last = e
        await asyncio.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def qemu_pids_under(run_dir: Path) -> list[int]:
    """QEMU processes whose command line names `run_dir` (ours, and only ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            state != "Z"
            and argv
            and b"qemu-system" in argv[0]
            and any(str(run_dir).encode() in a for a in argv)
        ):
            found.append(int(entry.name))
    return found


class Console:
    """A console socket client that keeps everything it read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.seen = reader, writer, b""

    async def expect(self, needle: bytes, timeout: float) -> float:
        start = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                while needle not in self.seen:
                    chunk = await self.reader.read(65536)
                    if not chunk:
                        break
                    self.seen += chunk
        except TimeoutError:
            pass
        if needle not in self.seen:
            tail = self.seen[-2000:].decode(errors="replace")
            pytest.fail(f"console: no {needle!r} within {timeout}s; last output:\n{tail}")
        return time.monotonic() - start


@pytest.fixture
async def launcher(tmp_path: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes], Path]]:
    store = _require_images()
    run_dir = tmp_path / "run"
    log = (tmp_path / "launcher.log").open("wb")
    # Popen only forks; readiness is awaited below with a deadline.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "virtkube.launcher", "--run-dir", str(run_dir),
         "--image-store", str(store), "--network", "user",
         "--cache-dir", str(tmp_path / "cache"), "--log-level", "INFO"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        sock = run_dir / p.COMMAND_SOCKET

        async def ping() -> bool:
            if proc.poll() is not None:
                pytest.fail(
                    f"launcher exited {proc.returncode}: {(tmp_path / 'launcher.log').read_text()}"
                )
            async with LauncherClient(sock) as client:
                return (await client.call(p.Ping())).state == "pending"

        await eventually(ping, "the launcher's command socket", 20)
        yield proc, run_dir
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sys.stdout.write((tmp_path / "launcher.log").read_text()[-3000:])


async def test_boot_pause_resume_shutdown(launcher: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, run_dir = launcher
    async with LauncherClient(run_dir / p.COMMAND_SOCKET) as client:
        t_sync = time.monotonic()
        domain = await client.call(p.Sync(vmi=nocloud_vmi()))  # type: ignore[arg-type]
        assert domain.state == "running" and domain.qemu_pid
        console = Console(*await asyncio.open_unix_connection(str(run_dir / p.CONSOLE_SOCKET)))
        await console.expect(LOGIN, 80)
        print(f"\nSync -> login prompt: {time.monotonic() - t_sync:.2f}s (accel {domain.accel})")
        assert USER_DATA_OUTPUT in console.seen

        # A client attaching late gets the history.
        late = Console(*await asyncio.open_unix_connection(str(run_dir / p.CONSOLE_SOCKET)))
        await late.expect(LOGIN, 5)

        assert (await client.call(p.Pause())).state == "paused"
        assert (await client.call(p.GetDomain())).state == "paused"
        assert (await client.call(p.Unpause())).state == "running"
        assert (await client.call(p.GetDomain())).state == "running"
        # The resumed guest answers on the console: Enter gives a fresh prompt.
        console.seen = b""
        console.writer.write(b"\n")
        await console.writer.drain()
        await console.expect(LOGIN, 20)

        # SoftReboot: ACPI power-off caught by the launcher and turned into a reset.
        console.seen = b""
        assert (await client.call(p.SoftReboot())).state == "running"
        await console.expect(b"booted boot_id=", 80)
        await console.expect(LOGIN, 30)
        assert (await client.call(p.GetDomain())).state == "running"

        t_stop = time.monotonic()
        domain = await client.call(p.Shutdown(grace_period_seconds=GRACE_SECONDS))
        took = time.monotonic() - t_stop
    assert domain.state == "shutdown" and domain.reason == "guest-shutdown", domain
    assert took < GRACE_SECONDS
    print(f"graceful shutdown took {took:.2f}s")
    code = await asyncio.to_thread(proc.wait, 15)
    assert code == ExitCode.OK
    assert qemu_pids_under(run_dir) == []
    assert not any(s.exists() for s in run_dir.glob("*.sock")), list(run_dir.iterdir())


async def test_sigkill_of_launcher_leaves_no_qemu(
    launcher: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, run_dir = launcher
    async with LauncherClient(run_dir / p.COMMAND_SOCKET) as client:
        domain = await client.call(p.Sync(vmi=nocloud_vmi()))  # type: ignore[arg-type]
    assert domain.qemu_pid and qemu_pids_under(run_dir) == [domain.qemu_pid]
    os.kill(proc.pid, signal.SIGKILL)
    assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL

    async def gone() -> bool:
        return qemu_pids_under(run_dir) == []

    await eventually(gone, f"QEMU {domain.qemu_pid} to die with its launcher", 10)


async def test_qemu_death_ends_launcher_with_crash_status(
    launcher: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, run_dir = launcher
    async with LauncherClient(run_dir / p.COMMAND_SOCKET) as client:
        domain = await client.call(p.Sync(vmi=nocloud_vmi()))  # type: ignore[arg-type]
    assert domain.qemu_pid
    os.kill(domain.qemu_pid, signal.SIGKILL)
    assert await asyncio.to_thread(proc.wait, 15) == ExitCode.QEMU_CRASHED
    assert not any(s.exists() for s in run_dir.glob("*.sock")), list(run_dir.iterdir())
