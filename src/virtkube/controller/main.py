"""virt-controller's process: flags, leader election, informers and workers.

Informers start only on the leader: a standby replica holds no caches and
makes no requests but its Lease polls.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from virtkube.controller.options import DEFAULT_LAUNCHER_IMAGE, LEASE_NAME, LauncherOptions
from virtkube.controller.vm import VMController
from virtkube.controller.vmi import VMIController
from virtkube.kube import reconciler
from virtkube.kube.client import Client
from virtkube.kube.config import load
from virtkube.kube.events import EventRecorder
from virtkube.kube.informer import Informer, wait_synced
from virtkube.kube.leaderelection import LeaderElector, LeaseConfig
from virtkube.kube.resources import PODS, VMIS, VMS

log = logging.getLogger("virtkube.controller")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="virt-controller")
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--launcher-image", default=DEFAULT_LAUNCHER_IMAGE)
    p.add_argument("--sockets-host-dir", default=LauncherOptions.sockets_host_dir)
    p.add_argument("--device-resource", action="append", default=[],
                   help="a device plugin resource each launcher asks for, e.g. "
                        "devices.kubevirt.io/kvm (repeatable)")
    p.add_argument("--lease-namespace", default="kubevirt")
    p.add_argument("--identity", default=f"{socket.gethostname()}-{os.getpid()}")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def run_controllers(client: Client, opts: LauncherOptions, workers: int) -> None:
    vms = Informer(client, VMS)
    vmis = Informer(client, VMIS)
    pods = Informer(client, PODS, label_selector="kubevirt.io=virt-launcher")
    recorder = EventRecorder(client, "virtualmachine-controller")
    vm_ctrl = VMController(client, vms, vmis, recorder)
    vmi_ctrl = VMIController(client, vmis, pods,
                             EventRecorder(client, "virtualmachineinstance-controller"), opts)
    tasks = [asyncio.create_task(i.run()) for i in (vms, vmis, pods)]
    try:
        await wait_synced(vms, vmis, pods)
        log.info("caches synced: %d VMs, %d VMIs, %d launcher pods", len(vms.keys()),
                 len(vmis.keys()), len(pods.keys()))
        await asyncio.gather(
            reconciler.run("vm", vm_ctrl.queue, vm_ctrl.reconcile, workers=workers, log=log),
            reconciler.run("vmi", vmi_ctrl.queue, vmi_ctrl.reconcile, workers=workers,
                           log=log),
            *tasks,
        )
    finally:
        for t in tasks:
            t.cancel()


async def amain(args: argparse.Namespace) -> int:
    conn = await load(args.kubeconfig, user_agent="virt-controller")
    opts = LauncherOptions(image=args.launcher_image, sockets_host_dir=args.sockets_host_dir,
                           device_resources=tuple(args.device_resource))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Client(conn, field_manager="virt-controller") as client:
        elector = LeaderElector(client, LeaseConfig(
            name=LEASE_NAME, namespace=args.lease_namespace, identity=args.identity))
        election = asyncio.create_task(elector.run(
            lambda: run_controllers(client, opts, args.workers)))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({election, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if election in done:
            log.error("lost leadership; exiting so that a fresh process campaigns again")
            return 1
        election.cancel()
        await asyncio.gather(election, return_exceptions=True)
        await elector.release()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    sys.exit(asyncio.run(amain(args)))
