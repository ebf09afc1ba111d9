"""`python -m virtkube.launcher`: run one VMI's QEMU, controlled over a unix socket.

    python -m virtkube.launcher --run-dir DIR [--vmi FILE] [--image-store DIR]
        [--state-dir DIR] [--mounts-dir DIR] [--block-dir DIR] [--cache-dir DIR]
        [--network tap|user] [--accel kvm|tcg] [--qemu PATH] [--log-level LEVEL]

Without --vmi the launcher waits for a Sync on DIR/launcher.sock (what
virt-handler sends); with --vmi it syncs that VMI itself (tests, no
Kubernetes). SIGTERM/SIGINT shut the guest down gracefully (the VMI's grace
period), as a pod deletion does. The exit status says why it ended: see
exitcodes.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from virtkube.api.vmi import VirtualMachineInstance
from virtkube.launcher.errors import LauncherError, QemuLaunchError, SpecError, VolumeError
from virtkube.launcher.exitcodes import ExitCode
from virtkube.launcher.paths import KUBEVIRT_PRIVATE, HostOptions, RunPaths
from virtkube.launcher.server import CommandServer
from virtkube.launcher.supervisor import Supervisor, signal_name

log = logging.getLogger("virtkube.launcher")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m virtkube.launcher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        required=True,
        help="sockets and per-run state (launcher.sock, console.sock, vnc.sock)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="ephemeral disk state (default RUN_DIR/state); emptied at start and exit",
    )
    parser.add_argument("--vmi", type=Path, help="sync this VMI (YAML or JSON) at start")
    parser.add_argument(
        "--image-store", type=Path, help="OCI image store for containerDisk / kernelBoot images"
    )
    parser.add_argument(
        "--container-disks-dir", type=Path,
        help="where the pod's containerDisk/kernelBoot containers listen (<volume>.sock)"
    )
    parser.add_argument(
        "--mounts-dir",
        type=Path,
        default=KUBEVIRT_PRIVATE,
        help="PVC, Secret and ConfigMap mounts (default %(default)s)",
    )
    parser.add_argument(
        "--block-dir",
        type=Path,
        default=Path("/dev"),
        help="where block-mode PVCs appear by volume name (default %(default)s)",
    )
    parser.add_argument("--cache-dir", type=Path, help="cache of files extracted from images")
    parser.add_argument(
        "--network",
        choices=("tap", "user"),
        default="tap",
        help="tap: TAPs made by virt-handler; user: isolated QEMU user net",
    )
    parser.add_argument(
        "--accel",
        choices=("kvm", "tcg"),
        help="default: $VIRTKUBE_ACCEL, else probe KVM and fall back to TCG",
    )
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)  # fmt: skip


def load_vmi(path: Path) -> VirtualMachineInstance:
    """The first VirtualMachineInstance in a YAML or JSON file."""
    text = path.read_text()
    docs: list[Any] = (
        [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    )
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "VirtualMachineInstance":
            return VirtualMachineInstance.model_validate(doc)
    raise ValueError(f"{path}: no VirtualMachineInstance in it")


def clean_run_dir(paths: RunPaths) -> None:
    """Remove sockets and ephemeral state: at start (a SIGKILLed predecessor) and at exit."""
    for sock in paths.sockets():
        sock.unlink(missing_ok=True)
    shutil.rmtree(paths.state_dir, ignore_errors=True)


async def run(args: argparse.Namespace) -> ExitCode:
    paths = RunPaths(args.run_dir.resolve(), args.state_dir.resolve() if args.state_dir else None)
    host = HostOptions(
        image_store=args.image_store.resolve() if args.image_store else None,
        container_disks_dir=args.container_disks_dir,
        mounts_dir=args.mounts_dir,
        block_dir=args.block_dir,
        cache_dir=args.cache_dir,
        network_mode=args.network,
        accel=args.accel,
        qemu=args.qemu,
    )
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    clean_run_dir(paths)
    supervisor = Supervisor(paths, host)
    server = CommandServer(supervisor)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[Any]] = []

    def on_signal(signum: int) -> None:
        log.info("%s: shutting the guest down", signal_name(signum))
        if not supervisor.qemu_started:
            if not supervisor.finished.done():
                supervisor.finished.set_result(ExitCode.OK)
        elif not stopping:
            stopping.append(asyncio.create_task(supervisor.shutdown(None)))

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await server.start(paths.command_socket)
        log.info("listening on %s", paths.command_socket)
        if args.vmi is not None:
            try:
                await supervisor.sync(load_vmi(args.vmi))
            except QemuLaunchError as e:
                log.error("%s", e)
                return ExitCode.QEMU_START_FAILED
            except (SpecError, VolumeError, ValidationError, ValueError) as e:
                log.error("VMI rejected: %s", e)
                return ExitCode.VMI_REJECTED
        code = await supervisor.finished
        await server.drain()
        log.info("exiting with %d (%s)", code, code.name)
        return code
    finally:
        await server.close()
        await supervisor.close()
        clean_run_dir(paths)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(asyncio.run(run(args)))
    except LauncherError as e:
        log.error("%s", e)
        return int(ExitCode.INTERNAL_ERROR)
    except KeyboardInterrupt:
        return int(ExitCode.OK)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
