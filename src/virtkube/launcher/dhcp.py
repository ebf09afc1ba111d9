"""The guest's DHCP server: one dnsmasq per guest NIC, a child of the launcher.

virt-handler plans what each guest gets (protocol.DHCPServer); the launcher
runs the server because it is the process whose life equals the VM's: the
dnsmasq children get SIGKILL when the launcher dies (PR_SET_PDEATHSIG, as
QEMU does) and are stopped with QEMU, so none outlives its VMI. Debian's
dnsmasq rather than a home-made server: it is small, audited and speaks
every option a guest may ask for; virtkube only needs its static-lease mode
(one known MAC, one address) on one interface, with DNS switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from pathlib import Path

from virtkube.hlcom.protocol import DHCPServer
from virtkube.launcher import qemu_process

log = logging.getLogger(__name__)

DNSMASQ = "dnsmasq"
#: Static leases never expire on their own: the VM has its address for life.
LEASE_TIME = "infinite"


def dnsmasq_argv(server: DHCPServer, *, binary: str = DNSMASQ) -> list[str]:
    """The dnsmasq command line serving `server` (pure; table-tested).

    No config file, no lease file, no DNS (port 0), bound to the one bridge;
    replies are broadcast so dnsmasq needs no ARP-table write for a client
    that has no address yet.
    """
    netmask = str(ipaddress.IPv4Network(f"0.0.0.0/{server.prefix_length}").netmask)
    argv = [
        binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--port=0", f"--interface={server.interface}", "--bind-interfaces",
        "--except-interface=lo", "--dhcp-authoritative", "--dhcp-broadcast",
        "--leasefile-ro", "--pid-file=", "--user=root", "--log-facility=-",
        f"--dhcp-range={server.ip},static,{netmask},{LEASE_TIME}",
        f"--dhcp-host={server.mac},{server.ip},"
        f"{server.hostname + ',' if server.hostname else ''}{LEASE_TIME}",
    ]
    if server.shared_network:
        argv.append(f"--shared-network={server.interface},{server.ip}")
    # An empty option list is how dnsmasq is told to send no router / no DNS at all.
    argv.append(f"--dhcp-option=option:router{',' + server.router if server.router else ''}")
    argv.append("--dhcp-option=option:dns-server" + "".join(f",{d}" for d in server.dns))
    if server.routes:
        routes = ",".join(f"{r.destination},{r.gateway}" for r in server.routes)
        argv.append(f"--dhcp-option=option:classless-static-route,{routes}")
    if server.search_domains:
        argv.append(f"--dhcp-option=option:domain-search,{','.join(server.search_domains)}")
    if server.mtu:
        argv.append(f"--dhcp-option=option:mtu,{server.mtu}")
    return argv


class DHCPServers:
    """The running dnsmasq processes of one launcher."""

    def __init__(self, log_dir: Path, *, binary: str = DNSMASQ) -> None:
        self.log_dir = log_dir
        self.binary = binary
        self._procs: list[asyncio.subprocess.Process] = []

    async def start(self, servers: tuple[DHCPServer, ...]) -> None:
        for server in servers:
            argv = dnsmasq_argv(server, binary=self.binary)
            log.info("starting DHCP for %s on %s: %s", server.mac, server.interface,
                     " ".join(argv))
            proc = await qemu_process.spawn(argv, self.log_dir / f"dhcp-{server.interface}.log")
            self._procs.append(proc)
            # dnsmasq checks its options and binds before serving; a bad plan fails here.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), 0.3)
            if proc.returncode is not None:
                raise RuntimeError(f"dnsmasq for {server.interface} exited {proc.returncode}; "
                                   f"see {self.log_dir / f'dhcp-{server.interface}.log'}")

    async def stop(self) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        self._procs.clear()
