"""Seconds from Sync to the login prompt through virt-launcher, beside a bare QEMU.

Both boot the tiny guest from the same containerDisk base (a fresh qcow2
overlay each run), with the same cloud-init ISO content, memory, CPU model and
accelerator; the bare run is a hand-written minimal qemu-system-x86_64 command
line with the serial port on stdio. Also prints the launcher's own RSS (QEMU is
a separate process and not counted).

    .venv/bin/python bench/launcher_boot.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from images.paths import images_dir  # noqa: E402

from virtkube.hlcom import protocol  # noqa: E402
from virtkube.hlcom.launcherclient import LauncherClient  # noqa: E402
from virtkube.launcher import accel, cloudinit, containerdisk, qemuimg  # noqa: E402
from virtkube.launcher.isofs import write_iso  # noqa: E402
from virtkube.launcher.supervisor import rss_bytes  # noqa: E402

#: The README's demo VM, the project's own manifest: the bench runs from any clone, with or
#: without KubeVirt's examples beside it.
EXAMPLE = REPO / "examples" / "vm-tiny.yaml"
IMAGE = "virtkube/tiny-guest:latest"
LOGIN = b"login:"


def vmi() -> dict[str, Any]:
    """The demo VM's template as a bare VMI (the launcher takes it as virt-handler sends it)."""
    spec = yaml.safe_load(EXAMPLE.read_text())["spec"]["template"]["spec"]
    spec["volumes"][0]["containerDisk"]["image"] = IMAGE
    # Three virtio disks, as in the figures recorded before (KubeVirt's vmi-nocloud shape).
    spec["domain"]["devices"]["disks"].append({"name": "emptydisk", "disk": {"bus": "virtio"}})
    spec["volumes"].append({"name": "emptydisk", "emptyDisk": {"capacity": "2Gi"}})
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "vm-tiny", "namespace": "default"}, "spec": spec}


async def read_until(reader: asyncio.StreamReader, needle: bytes, timeout: float = 120) -> None:
    seen = b""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError(f"EOF before {needle!r}: {seen[-500:]!r}")
            seen += chunk


def bare_argv(tmp: Path, base: Path, acc: str) -> list[str]:
    """The files of one bare boot in `tmp` (a fresh overlay, the cloud-init ISO, an empty
    disk) and its command line; made before the clock starts, as a launcher's are."""
    tmp.mkdir(parents=True, exist_ok=True)
    overlay = tmp / "bare.qcow2"
    overlay.unlink(missing_ok=True)
    qemuimg.create_overlay(base, overlay)
    user_data = vmi()["spec"]["volumes"][1]["cloudInitNoCloud"]
    iso = tmp / "bare-ci.iso"
    write_iso(iso, cloudinit.NOCLOUD_LABEL, {
        "meta-data": b"instance-id: vmi-nocloud.default\nlocal-hostname: vmi-nocloud\n",
        "user-data": user_data["userData"].encode(),
    })  # fmt: skip
    empty = tmp / "bare-empty.qcow2"
    empty.unlink(missing_ok=True)
    qemuimg.create_qcow2(empty, 2 << 30)
    return [
        "qemu-system-x86_64", "-accel", acc, "-machine", "q35", "-m", "128M",
        "-cpu", "host" if acc == "kvm" else "max", "-nodefaults", "-display", "none",
        "-serial", "stdio",
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-drive", f"file={iso},if=virtio,format=raw",
        "-drive", f"file={empty},if=virtio,format=qcow2",
    ]  # fmt: skip


async def boot_bare(argv: list[str], procs: list[asyncio.subprocess.Process],
                    timeout: float = 120) -> float:
    """Seconds from exec to `login:` on the serial port. The QEMU keeps running (it is
    appended to `procs`, whose owner kills it): a burst's guests stay up until all boot,
    as the VMIs of a burst do."""
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
    )
    procs.append(proc)
    assert proc.stdout is not None
    await read_until(proc.stdout, LOGIN, timeout)
    return time.monotonic() - start


async def kill_all(procs: list[asyncio.subprocess.Process]) -> None:
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
    for proc in procs:
        await proc.wait()


async def bare(tmp: Path, base: Path, acc: str) -> float:
    procs: list[asyncio.subprocess.Process] = []
    try:
        return await boot_bare(bare_argv(tmp, base, acc), procs)
    finally:
        await kill_all(procs)


async def bare_burst(tmp: Path, base: Path, acc: str, n: int, rate: float,
                     timeout: float = 600) -> tuple[list[float], float]:
    """`n` bare QEMUs of the guest started `rate` per second (the VMI burst's baseline):
    each one's exec -> login, and the seconds from the first exec until all are at login."""
    argvs = [bare_argv(tmp / f"burst-{i}", base, acc) for i in range(n)]
    procs: list[asyncio.subprocess.Process] = []
    t0 = time.monotonic()

    async def one(i: int) -> tuple[float, float]:
        # Paced by the clock, not by a loop of sleeps, so that the rate does not drift.
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        took = await boot_bare(argvs[i], procs, timeout)
        return took, time.monotonic() - t0

    try:
        done = await asyncio.gather(*(one(i) for i in range(n)))
        return [took for took, _ in done], max(end for _, end in done)
    finally:
        await kill_all(procs)


async def launched(tmp: Path, store: Path, acc: str) -> tuple[float, int]:
    run_dir = tmp / "run"
    # Popen only forks; the launcher is waited for with deadlines below.
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "virtkube.launcher", "--run-dir", str(run_dir),
         "--image-store", str(store), "--network", "user", "--accel", acc,
         "--cache-dir", str(tmp / "cache"), "--log-level", "WARNING"],
    )  # fmt: skip
    try:
        sock = run_dir / protocol.COMMAND_SOCKET
        deadline = time.monotonic() + 20
        while not sock.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("launcher did not come up")
            await asyncio.sleep(0.02)
        async with LauncherClient(sock) as client:
            await client.call(protocol.Ping())
            start = time.monotonic()
            await client.call(protocol.Sync(vmi=vmi()))
            reader, writer = await asyncio.open_unix_connection(
                str(run_dir / protocol.CONSOLE_SOCKET)
            )
            await read_until(reader, LOGIN)
            took = time.monotonic() - start
            rss = rss_bytes(proc.pid)
            writer.close()
            await client.call(protocol.Kill())
        return took, rss
    finally:
        try:
            proc.wait(timeout=10)  # Kill makes the launcher exit on its own
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    store = images_dir() / "oci"
    acc = accel.detect()
    with tempfile.TemporaryDirectory(prefix="virtkube-bench-") as name:
        tmp = Path(name)
        base = containerdisk.resolve(IMAGE, store, cache=tmp / "cache")
        bare_s, launcher_s, rss = [], [], []
        for _ in range(args.runs):
            bare_s.append(await bare(tmp, base, acc))
            took, r = await launched(tmp, store, acc)
            launcher_s.append(took)
            rss.append(r)
    b, lch = statistics.median(bare_s), statistics.median(launcher_s)
    print(f"accelerator: {acc}; runs: {args.runs}")
    print(f"bare qemu-system-x86_64 start -> login: {b:.2f}s  (runs: {_fmt(bare_s)})")
    print(f"launcher Sync -> login:                {lch:.2f}s  (runs: {_fmt(launcher_s)})")
    print(f"ratio launcher/bare: {lch / b:.2f}")
    print(f"launcher RSS (without QEMU): {statistics.median(rss) / 2**20:.1f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
