"""kube-proxy for the local cluster, in a network namespace of its own: the Service router.

Every local node shares the host's network namespace, so a kube-proxy per node
would be N processes rewriting the same rules; one per cluster is the right
count. It does not run in the host's namespace either: kube-proxy's nftables
table is always named `kube-proxy` and the Service range is the same in every
local cluster, so two clusters on one machine would overwrite each other's
rules, and the host would get NodePorts on its real addresses. Instead each
cluster gets a small router: a netns (`vk<hash>-services`) whose only link is
a veth on the cluster's bridge at `.0.250`, with forwarding on and no default
route. Pods route the Service range to it (virtkube.local.net.cni); kube-proxy
there DNATs a ClusterIP to an endpoint, and since it can only forward back onto
the bridge, a Service can only ever reach pod IPs of this cluster.
`--masquerade-all` makes the replies come back through the router: client and
endpoint share one L2 segment, so without SNAT the endpoint would answer the
client directly and the client would drop a reply from an address it never
called.

`python -m virtkube.local.serviceproxy --home H -- <kube-proxy argv>` sets the
router up (idempotent) and then execs kube-proxy inside it through nsenter;
the supervisor sees kube-proxy under the pid it started. `virtkube down`
removes the router with the cluster's other netns and bridge ports
(hostnet.teardown finds it by its name).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import time
from pathlib import Path

from virtkube.local.config import ClusterConfig
from virtkube.local.net.hostnet import link_exists, run
from virtkube.local.net.layout import NETNS_DIR, ClusterNet, node_name
from virtkube.local.paths import Home

#: How long the router waits for a node to create the cluster's bridge.
BRIDGE_WAIT_SECONDS = 60.0


def kube_proxy_flags(cfg: ClusterConfig, home: Home) -> tuple[str, ...]:
    """kube-proxy's flags for the cluster (pure; golden-tested through components)."""
    net = ClusterNet(home.root, cfg.pod_network)
    return (
        f"--kubeconfig={home.kubeconfig_for('kube-proxy')}",
        # Loopback is the host's, not the router's: the API server through the bridge DNAT.
        f"--master=https://{net.gateway}:{cfg.ports.apiserver}",
        "--proxy-mode=nftables",
        f"--hostname-override={node_name(0)}",
        f"--bind-address={net.service_router}",
        f"--cluster-cidr={cfg.pod_network}",
        "--masquerade-all=true",
        f"--nodeport-addresses={net.service_router}/32",
        # Conntrack limits are the host's business: leave them as they are.
        "--conntrack-max-per-core=0",
        "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0",
        "--healthz-bind-address=127.0.0.1:10256",
        "--metrics-bind-address=127.0.0.1:10249",
        "--v=0",
    )


def router_sysctls(net: ClusterNet) -> list[str]:
    """Forward between endpoints on the one link; no ICMP redirects (the DNAT is the point)."""
    return ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
            "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0"]


def ensure_router(net: ClusterNet, lock_dir: Path) -> Path:
    """The Service router netns with its veth on the bridge; returns the netns path."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / "hostnet.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ns = net.service_netns
        path = NETNS_DIR / ns
        if not path.exists():
            run("ip", "netns", "add", ns)
        if not link_exists(net.service_veth):
            run("ip", "-n", ns, "link", "del", "eth0", check=False)
            run("ip", "link", "add", net.service_veth, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
        run("ip", "link", "set", net.service_veth, "master", net.bridge, "up")
        run("ip", "-n", ns, "addr", "replace", f"{net.service_router}/{net.prefixlen}",
            "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "netns", "exec", ns, "sysctl", "-q", "-w", *router_sysctls(net))
        return path


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    rest = args[args.index("--") + 1:] if "--" in args else []
    p = argparse.ArgumentParser(prog="python -m virtkube.local.serviceproxy")
    p.add_argument("--home", type=Path, required=True)
    opts = p.parse_args(args[:args.index("--")] if "--" in args else args)
    if not rest:
        p.error("the kube-proxy command line follows `--`")
    home = Home(opts.home)
    cfg = ClusterConfig.load(home.config)
    net = ClusterNet(home.root, cfg.pod_network)
    deadline = time.monotonic() + BRIDGE_WAIT_SECONDS
    while not link_exists(net.bridge):
        if time.monotonic() > deadline:
            sys.exit(f"serviceproxy: bridge {net.bridge} never appeared (no local node?)")
        time.sleep(0.2)
    path = ensure_router(net, home.run)
    os.execvp("nsenter", ["nsenter", f"--net={path}", "--", *rest])


if __name__ == "__main__":
    main()
