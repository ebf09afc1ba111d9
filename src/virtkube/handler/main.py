"""virt-handler's process: one per node (a DaemonSet; locally one per local node)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from virtkube.handler import nodestate, server
from virtkube.handler.deviceplugin import DEFAULT_PLUGINS_DIR, DevicePluginManager
from virtkube.handler.vmi import VMIHandler
from virtkube.kube import reconciler
from virtkube.kube.client import Client
from virtkube.kube.config import load
from virtkube.kube.events import EventRecorder
from virtkube.kube.informer import Informer, wait_synced
from virtkube.kube.resources import VMIS

log = logging.getLogger("virtkube.handler")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="virt-handler")
    p.add_argument("--kubeconfig", type=Path, default=None)
    p.add_argument("--node-name", required=True)
    p.add_argument("--sockets-dir", type=Path, default=Path("/var/run/kubevirt/sockets"),
                   help="host folder with one subfolder of launcher sockets per VMI uid")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--server-listen", default="127.0.0.1:0",
                   help="HOST:PORT of the HTTPS API virt-api calls (port 0: any free one); "
                        "empty disables it")
    p.add_argument("--server-advertise", default=None,
                   help="address virt-api dials (default: the listen host)")
    p.add_argument("--device-plugins-dir", type=Path, default=DEFAULT_PLUGINS_DIR,
                   help="the kubelet's device-plugins folder, where the plugins for /dev/kvm, "
                        "/dev/net/tun and /dev/vhost-net register; none run when it is absent")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    conn = await load(args.kubeconfig, user_agent=f"virt-handler/{args.node_name}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    args.sockets_dir.mkdir(parents=True, exist_ok=True)
    async with Client(conn, field_manager="virt-handler") as client:
        vmis = Informer(client, VMIS, label_selector=f"kubevirt.io/nodeName={args.node_name}")
        handler = VMIHandler(client, vmis, EventRecorder(client, "virt-handler", args.node_name),
                             node=args.node_name, sockets_dir=args.sockets_dir)
        tasks = [asyncio.create_task(vmis.run()),
                 asyncio.create_task(nodestate.heartbeat(client, args.node_name))]
        if args.server_listen:
            host, _, port = args.server_listen.rpartition(":")
            tasks.append(asyncio.create_task(server.run(
                server.ServerOptions(host=host.strip("[]"), port=int(port),
                                     advertise=args.server_advertise),
                client=client, vmis=vmis, node=args.node_name, sockets_dir=args.sockets_dir,
                on_change=handler.queue.add)))

        async def work() -> None:
            await wait_synced(vmis)
            log.info("virt-handler on %s: %d VMIs", args.node_name, len(vmis.keys()))
            await reconciler.run("handler", handler.queue, handler.reconcile,
                                 workers=args.workers, log=log)

        tasks.append(asyncio.create_task(work()))
        if args.device_plugins_dir.is_dir():
            tasks.append(asyncio.create_task(DevicePluginManager(args.device_plugins_dir).run()))
        else:
            log.info("no %s (no kubelet on this node): no device plugins", args.device_plugins_dir)
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    sys.exit(asyncio.run(amain(args)))
