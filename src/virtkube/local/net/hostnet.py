"""The host side of one cluster's pod network: the bridge, its addresses, the nftables table.

One Linux bridge per cluster joins every pod of every local node, so pods on different
nodes reach each other with no routing at all. The nftables table (named with the home's
hash) keeps that traffic on the machine: nothing is forwarded between the bridge and any
other interface, and there is no masquerade and no default route in the pods. It also
DNATs the bridge's host address (and the `kubernetes` Service IP) to the API server's
loopback listener, which `route_localnet` on the bridge permits; so the control plane
stays bound to loopback and pods still reach it.

Idempotent and safe to run from several node runners at once (a file lock), and
`teardown` finds every leftover by its hash-derived name alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
from pathlib import Path

from virtkube.local.net.layout import NETNS_DIR, ClusterNet, home_hash

log = logging.getLogger(__name__)


class HostNetError(Exception):
    """A host network command failed; the message carries the command and its stderr."""


def run(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, input=stdin, check=False)
    if check and res.returncode != 0:
        raise HostNetError(f"{' '.join(argv)} exited {res.returncode}: {res.stderr.strip()}")
    return res.stdout


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def nft_ruleset(net: ClusterNet, *, apiserver_port: int, service_ip: str) -> str:
    """The cluster's own nftables table (pure; golden-tested)."""
    br = net.bridge
    return f"""table inet {net.nft_table}
delete table inet {net.nft_table}
table inet {net.nft_table} {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "{br}" oifname != "{br}" drop
        oifname "{br}" iifname != "{br}" drop
    }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "{br}" ip daddr {net.gateway} tcp dport {apiserver_port} dnat ip to 127.0.0.1:{apiserver_port}
        iifname "{br}" ip daddr {service_ip} tcp dport 443 dnat ip to 127.0.0.1:{apiserver_port}
    }}
}}
"""  # noqa: E501


def ensure(net: ClusterNet, *, lock_dir: Path, apiserver_port: int, service_ip: str,
           node_count: int) -> None:
    """Create what is missing: the bridge with the host and node addresses, the table."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / "hostnet.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        br = net.bridge
        if not link_exists(br):
            run("ip", "link", "add", br, "type", "bridge")
        run("ip", "addr", "replace", f"{net.gateway}/{net.prefixlen}", "dev", br)
        for i in range(node_count):
            run("ip", "addr", "replace", f"{net.node_ip(i)}/32", "dev", br)
        run("ip", "link", "set", br, "up")
        Path(f"/proc/sys/net/ipv4/conf/{br}/route_localnet").write_text("1\n")
        run("nft", "-f", "-", stdin=nft_ruleset(net, apiserver_port=apiserver_port,
                                                service_ip=service_ip))


def leftover_netns(home_root: Path) -> list[str]:
    prefix = f"vk{home_hash(home_root)}-"
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


def bridge_ports(bridge: str) -> list[str]:
    if not link_exists(bridge):
        return []
    out = run("ip", "-j", "link", "show", "master", bridge, check=False)
    return [str(link["ifname"]) for link in json.loads(out or "[]")]


def leftovers(home_root: Path) -> list[str]:
    """What of the cluster at `home_root` still exists on the host (for tests and `status`)."""
    net = ClusterNet(home_root, "0.0.0.0/32")
    found = [f"netns {n}" for n in leftover_netns(home_root)]
    if link_exists(net.bridge):
        found.append(f"bridge {net.bridge}")
    if run("nft", "list", "table", "inet", net.nft_table, check=False):
        found.append(f"nft table {net.nft_table}")
    return found


def teardown(home_root: Path) -> list[str]:
    """Remove every host object of the cluster at `home_root`; returns what was removed."""
    net = ClusterNet(home_root, "0.0.0.0/32")
    removed: list[str] = []
    for name in leftover_netns(home_root):
        kill_netns_processes(name)
        run("ip", "netns", "del", name, check=False)
        removed.append(f"netns {name}")
    for port in bridge_ports(net.bridge):
        run("ip", "link", "del", port, check=False)
        removed.append(f"link {port}")
    if link_exists(net.bridge):
        run("ip", "link", "del", net.bridge, check=False)
        removed.append(f"bridge {net.bridge}")
    if run("nft", "list", "table", "inet", net.nft_table, check=False):
        run("nft", "delete", "table", "inet", net.nft_table, check=False)
        removed.append(f"nft table {net.nft_table}")
    if removed:
        log.info("removed leftovers: %s", ", ".join(removed))
    return removed


def kill_netns_processes(name: str) -> None:
    """Last resort before deleting a netns: nothing may keep it (and its veth) alive."""
    for pid in run("ip", "netns", "pids", name, check=False).split():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
