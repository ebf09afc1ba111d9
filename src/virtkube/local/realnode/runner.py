"""One real node: containerd and the kubelet in the node's mount namespace, supervised.

Started as config.runner_argv, it writes the node's files, enters a mount namespace of its
own and mounts its folders at the well-known paths there (mounts.py), starts containerd, waits for
its socket, then starts the kubelet. Both children die with it (PR_SET_PDEATHSIG). On
SIGTERM or SIGINT it stops the kubelet, then containerd, then
kills whatever is left in the node's cgroup (shims and containers outlive containerd by
design) and removes the cgroups and the node's address on the bridge, so that a stopped
node leaves nothing running. The pods' netns were mounted in this namespace only, so they
go with it, and their veths with them. A child that dies on its own (a crash, a kill -9) is
restarted alone: the shims keep the containers running meanwhile, and the restarted
containerd and kubelet find them again.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from virtkube.local import registry
from virtkube.local.certs import ClusterPKI
from virtkube.local.config import ClusterConfig
from virtkube.local.net import hostnet
from virtkube.local.paths import Home
from virtkube.local.procs import die_with_parent, terminate
from virtkube.local.realnode import cgroups, config, identity, mounts
from virtkube.local.realnode.layout import (
    Binaries,
    RealNode,
    binaries_dir,
)

log = logging.getLogger("virtkube.local.realnode")

#: containerd opens its socket within a second or two; a cold start of its plugins, more.
CONTAINERD_START_TIMEOUT = 30.0
#: The kubelet stops its sync loops within this; containerd likewise.
STOP_GRACE = 10.0
#: Restart back-off of a dead containerd or kubelet: doubles from the first value up to the
#: second, and starts over once the child ran STABLE_AFTER seconds.
BACKOFF_INITIAL, BACKOFF_MAX, STABLE_AFTER = 0.5, 15.0, 60.0


class NodeStartError(RuntimeError):
    """A child did not come up; the message carries its exit code and the tail of its log."""


def write_files(node: RealNode, cfg: ClusterConfig, opts: config.NodeOptions) -> None:
    for d in node.dirs():
        d.mkdir(parents=True, exist_ok=True)
    ident = identity.ensure_identity(node, cfg, ClusterPKI(Home(node.home_root).pki))
    node.containerd_config.write_text(config.containerd_toml(node, opts))
    # `registry:5000` (and the registry's loopback address) -> the cluster's registry.
    registry.write_hosts(node.registry_hosts, registry.port_of(cfg))
    node.cni_conflist.write_text(json.dumps(config.cni_conflist(node, cfg), indent=2) + "\n")
    node.kubelet_config.write_text(config.kubelet_config_yaml(config.kubelet_configuration(
        node, cfg, opts, ca=ident.ca, serving_cert=ident.serving.cert_path,
        serving_key=ident.serving.key_path)))


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _start(argv: Sequence[str], logfile: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with logfile.open("ab") as out:
        return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent())


def _wait_socket(proc: subprocess.Popen[bytes], socket: Path, logfile: Path,
                 stop: threading.Event) -> None:
    deadline = time.monotonic() + CONTAINERD_START_TIMEOUT
    while time.monotonic() < deadline and not stop.is_set():
        if socket.is_socket():
            return
        if proc.poll() is not None:
            break
        stop.wait(0.05)
    raise NodeStartError(f"containerd (pid {proc.pid}) exited {proc.poll()} or did not open "
                         f"{socket} within {CONTAINERD_START_TIMEOUT:.0f}s; its log:\n"
                         f"{_tail(logfile)}")


def cleanup(node: RealNode, cfg: ClusterConfig) -> list[str]:
    """Kill everything left in the node's cgroups, remove them and the node's bridge address.
    Also the safety net for a runner that was SIGKILLed."""
    left = cgroups.kill_all(node.cgroup_parent)
    removed = [f"cgroup {d}" for d in cgroups.remove(node.cgroup_parent)]
    net = node.cluster_net(cfg.pod_network)
    if hostnet.link_exists(net.bridge):
        hostnet.run("ip", "addr", "del", f"{net.node_ip(node.index)}/32", "dev", net.bridge,
                    check=False)
    if left:
        removed.append(f"unkillable pids {left}")
    return removed


@dataclass
class _Child:
    """containerd or the kubelet: restarted alone when it dies, with back-off, so that a
    crash of one (or a kill -9) leaves the node's pods and guests running, as on a
    systemd-managed node."""

    what: str
    argv: Sequence[str]
    logfile: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff: float = BACKOFF_INITIAL
    next_start: float = 0.0
    started_at: float = 0.0

    def start(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.proc = _start(self.argv, self.logfile, env)
        self.started_at = time.monotonic()
        return self.proc

    def reap(self, node: RealNode) -> bool:
        """True when the child just exited (its restart is then scheduled)."""
        if self.proc is None or self.proc.poll() is None:
            return False
        now = time.monotonic()
        if now - self.started_at > STABLE_AFTER:
            self.backoff = BACKOFF_INITIAL
        log.error("node %s: %s (pid %d) exited %s; restarting in %.1fs; its log:\n%s",
                  node.name, self.what, self.proc.pid, self.proc.returncode, self.backoff,
                  _tail(self.logfile))
        self.proc = None
        self.next_start = now + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        return True

    def due(self) -> bool:
        return self.proc is None and time.monotonic() >= self.next_start


def run(node: RealNode, opts: config.NodeOptions, binaries: Binaries) -> int:
    home = Home(node.home_root)
    cfg = ClusterConfig.load(home.config)
    write_files(node, cfg, opts)
    cleanup(node, cfg)  # whatever a previous, killed runner left
    mounts.setup(node)
    net = node.cluster_net(cfg.pod_network)
    # The cluster's bridge and its nftables table (idempotent; shared by every node), then
    # the node's InternalIP on it, where the kubelet serves.
    hostnet.ensure(net, lock_dir=home.run, apiserver_port=cfg.ports.apiserver,
                   service_ip=cfg.kubernetes_service_ip, node_count=0)
    hostnet.run("ip", "addr", "replace", f"{net.node_ip(node.index)}/32", "dev", net.bridge)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    env = {**os.environ, "PATH": binaries.path_env(os.environ.get("PATH", ""))}
    containerd = _Child("containerd", config.containerd_argv(node, binaries),
                        node.logs / "containerd.log")
    kubelet = _Child("kubelet", config.kubelet_argv(node, cfg, binaries, opts),
                     node.logs / "kubelet.log")
    code = 0
    try:
        _wait_socket(containerd.start(env), node.socket, containerd.logfile, stop)
        kubelet.start(env)
        assert containerd.proc is not None and kubelet.proc is not None
        log.info("node %s: containerd %d, kubelet %d", node.name, containerd.proc.pid,
                 kubelet.proc.pid)
        while not stop.wait(0.2):
            for child in (containerd, kubelet):
                child.reap(node)
                if child.due() and not stop.is_set():
                    child.restarts += 1
                    proc = child.start(env)
                    log.info("node %s: %s restarted (pid %d, restart %d)", node.name,
                             child.what, proc.pid, child.restarts)
    except NodeStartError as e:
        log.error("node %s: %s", node.name, e)
        code = 1
    finally:
        # The kubelet first (it would restart what containerd loses), then containerd.
        for child in (kubelet, containerd):
            if child.proc is not None:
                terminate([child.proc.pid], STOP_GRACE)
                child.proc.wait()
        removed = cleanup(node, cfg)
        log.info("node %s stopped; cleaned up %d leftovers", node.name, len(removed))
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m virtkube.local.realnode")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--index", required=True, type=int,
                        help="the node's slot in the cluster's address plan")
    parser.add_argument("--taint", action="append", default=[], help="key=value:Effect")
    parser.add_argument("--label", action="append", default=[], help="key=value")
    parser.add_argument("--snapshotter", default=config.SNAPSHOTTER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    taints = []
    for t in args.taint:
        kv, _, effect = t.partition(":")
        key, _, value = kv.partition("=")
        taints.append(config.Taint(key, value, effect or "NoSchedule"))
    labels = dict(x.partition("=")[::2] for x in args.label)
    opts = config.NodeOptions(taints=tuple(taints), labels=labels, snapshotter=args.snapshotter)
    node = RealNode(args.home.resolve(), args.name, args.index)
    return run(node, opts, Binaries(binaries_dir()))
