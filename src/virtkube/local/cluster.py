"""Bringing the local cluster up and down: the logic behind `virtkube up/down/status`.

Kept apart from the CLI so that the test fixture drives the very same code.
`up` is idempotent: it makes only what is missing, starts the supervisor only
when none runs, and always ends by checking readiness and the CRDs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from virtkube.local import apiclient, crds, registry
from virtkube.local.certs import (
    ClusterPKI,
    ensure_cluster_pki,
    ensure_node_pki,
    node_component,
    write_kubeconfig,
)
from virtkube.local.components import AUDIT_POLICY
from virtkube.local.config import ClusterConfig, free_port, pick_pod_network
from virtkube.local.net import hostnet
from virtkube.local.net.layout import node_name
from virtkube.local.paths import Home, controlplane_binary
from virtkube.local.procs import alive, processes_mentioning, terminate
from virtkube.local.provisioner import storageclass_manifest
from virtkube.local.realnode import config as realnode_config
from virtkube.local.realnode import runner as realnode_runner
from virtkube.local.realnode.layout import RealNode
from virtkube.local.supervisor import supervisor_pid

#: How long `up` waits for /readyz on a cold start (etcd + API server + CRDs).
READY_TIMEOUT = 180.0

Progress = Callable[[str], None]


class ClusterError(Exception):
    """`up` or `down` could not do what was asked; the message says why and where to look."""


def _quiet(_: str) -> None:
    pass


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


@dataclass(frozen=True)
class LocalCluster:
    home: Home

    @classmethod
    def default(cls, root: Path | None = None) -> LocalCluster:
        from virtkube.local.paths import default_home

        return cls(Home(root or default_home()))

    @property
    def pki(self) -> ClusterPKI:
        return ClusterPKI(self.home.pki)

    def config(self) -> ClusterConfig:
        return ClusterConfig.load(self.home.config)

    def kubectl_argv(self) -> list[str]:
        return crds.kubectl_argv(controlplane_binary(), self.home.admin_kubeconfig)

    def kubectl(self, *args: str, check: bool = True, input: str | None = None
                ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.kubectl_argv(), *args], check=check, text=True,
                              capture_output=True, input=input)

    def supervisor(self) -> int | None:
        return supervisor_pid(self.home)

    def prepare(self, nodes: int | None = None, audit: bool | None = None) -> ClusterConfig:
        """Make every file the control plane and the nodes need, keeping what exists.

        `nodes` changes the node count only while the cluster is down: a running
        supervisor started its node processes from the saved config.
        """
        self.home.ensure()
        cfg = ClusterConfig.load_or_create(self.home.config)
        changed = cfg
        if not cfg.pod_network:
            changed = replace(changed, pod_network=pick_pod_network(self.home.root))
        if nodes is not None and nodes != cfg.nodes:
            if self.supervisor() is not None:
                raise ClusterError(
                    f"the cluster runs {cfg.nodes} node(s); run `virtkube down` first to "
                    f"change it to {nodes} (the state folder, pods' data included, is kept)")
            changed = replace(changed, nodes=nodes)
        if not cfg.ports.virt_api:
            changed = replace(changed, ports=replace(changed.ports, virt_api=free_port()))
        if not cfg.ports.registry:
            changed = replace(changed, ports=replace(changed.ports, registry=free_port()))
        if audit is not None and audit != cfg.audit:
            if self.supervisor() is not None:
                raise ClusterError("the API server runs already; run `virtkube down` first to "
                                   f"turn its audit log {'on' if audit else 'off'}")
            changed = replace(changed, audit=audit)
        for i in range(changed.nodes):
            try:
                realnode_config.check_paths(RealNode(self.home.root, node_name(i), i))
            except realnode_config.NodeConfigError as e:
                raise ClusterError(str(e)) from None
        if changed != cfg:
            cfg = changed
            cfg.save(self.home.config)
        if cfg.audit:
            self.home.audit_policy.write_text(AUDIT_POLICY)
        registry.write_config(registry.RegistryDirs(self.home.root), registry.port_of(cfg))
        ensure_cluster_pki(self.pki, cfg)
        write_kubeconfig(self.home.admin_kubeconfig, self.pki, cfg, "admin")
        for component in ("kube-controller-manager", "kube-scheduler", "kube-proxy",
                          "local-path-provisioner",
                          "virt-controller", "virt-handler", "virt-api"):
            write_kubeconfig(self.home.kubeconfig_for(component), self.pki, cfg, component)
        for i in range(cfg.nodes):
            ensure_node_pki(self.pki, cfg, i)
            write_kubeconfig(self.home.kubeconfig_for(node_component(i)), self.pki, cfg,
                             node_component(i))
        return cfg

    def _start_supervisor(self) -> int:
        log = self.home.log_for("supervisor").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "virtkube.local.supervisor", "--home", str(self.home.root)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
            env={**os.environ, "VIRTKUBE_CONTROLPLANE": str(controlplane_binary())},
        )
        log.close()
        return proc.pid

    def up(self, progress: Progress = _quiet, timeout: float = READY_TIMEOUT,
           nodes: int | None = None, audit: bool | None = None) -> float:
        """Bring the cluster to ready (nodes Ready included); returns the seconds it took."""
        started = time.monotonic()
        binary = controlplane_binary()
        if not binary.exists():
            raise ClusterError(f"{binary} is missing: run `make controlplane` first")
        progress("certificates and kubeconfigs")
        cfg = self.prepare(nodes, audit)
        pid = self.supervisor()
        if pid is None:
            progress("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler")
            pid = self._start_supervisor()
        self._wait_ready(cfg, pid, progress, started + timeout)
        progress("installing kubevirt.io CRDs")
        try:
            crds.install(self.kubectl_argv())
        except subprocess.CalledProcessError as e:
            raise ClusterError(f"installing the CRDs failed: {e}") from e
        progress("default StorageClass local-path")
        self.kubectl("apply", "--server-side", "--field-manager=virtkube", "-f", "-",
                     input=storageclass_manifest())
        if cfg.nodes:
            progress(f"waiting for {cfg.nodes} node(s) to be Ready")
            self._wait_nodes(cfg, started + timeout)
        progress("waiting for virt-api (admission webhooks, subresources.kubevirt.io)")
        self._wait_virt_api(cfg, started + timeout)
        return time.monotonic() - started

    def _wait_virt_api(self, cfg: ClusterConfig, deadline: float) -> None:
        """Until virt-api admits (its webhooks are registered) and, with nodes, the
        aggregated API is Available: a VM applied right after `up` gets KubeVirt's
        defaults, and virtctl works at once."""
        def ready() -> bool:
            hooks = self.kubectl("get", "validatingwebhookconfiguration", "virt-api-validator",
                                 "-o", "name", check=False)
            if hooks.returncode != 0:
                return False
            if not cfg.nodes:
                return True
            svc = self.kubectl("get", "apiservice", "v1.subresources.kubevirt.io", "-o",
                               "jsonpath={.status.conditions[?(@.type=='Available')].status}",
                               check=False)
            return svc.stdout.strip() == "True"

        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.25)
        raise ClusterError("virt-api did not become ready in time; see "
                           f"{self.home.log_for('virt-api')}:\n"
                           + tail(self.home.log_for("virt-api")))

    def _wait_nodes(self, cfg: ClusterConfig, deadline: float) -> None:
        want = {node_name(i) for i in range(cfg.nodes)}
        ready: set[str] = set()
        while time.monotonic() < deadline:
            res = self.kubectl("get", "nodes", "-o", "json", check=False)
            if res.returncode == 0:
                ready = {n["metadata"]["name"] for n in json.loads(res.stdout)["items"]
                         if any(c["type"] == "Ready" and c["status"] == "True"
                                for c in n.get("status", {}).get("conditions") or [])}
                if want <= ready:
                    return
            time.sleep(0.25)
        missing = sorted(want - ready)
        raise ClusterError(f"node(s) {missing} not Ready in time; see "
                           + ", ".join(str(self.home.log_for(n)) for n in missing))

    def _wait_ready(self, cfg: ClusterConfig, pid: int, progress: Progress,
                    deadline: float) -> None:
        last = ""
        while time.monotonic() < deadline:
            if not alive(pid):
                raise ClusterError(
                    "the supervisor exited while the control plane started; "
                    f"{self.home.log_for('supervisor')} ends with:\n"
                    + tail(self.home.log_for("supervisor")))
            reply = apiclient.readyz(cfg, self.pki)
            if reply is not None and reply.status == 200:
                return
            if reply is None:
                status = "waiting for kube-apiserver to listen"
            else:
                failing = [ln.strip()[3:].split(" failed")[0]
                           for ln in reply.body.splitlines() if ln.startswith("[-]")]
                status = "readyz: " + (", ".join(failing) or f"HTTP {reply.status}")
            if status != last:
                progress(status)
                last = status
            time.sleep(0.25)
        raise ClusterError(
            f"kube-apiserver was not ready in time; last: {last}\n"
            f"{self.home.log_for('kube-apiserver')} ends with:\n"
            + tail(self.home.log_for("kube-apiserver")))

    def down(self, purge: bool = False, timeout: float = 60.0) -> list[int]:
        """Stop everything this cluster started; returns pids that had to be killed late."""
        pid = self.supervisor()
        if pid is not None:
            terminate([pid], timeout)
        # Belt and braces: anything still naming this home (a child that outlived
        # a supervisor crash before PDEATHSIG was armed) goes too.
        stragglers = list(processes_mentioning(str(self.home.root)))
        if stragglers:
            terminate(stragglers, 5.0)
        left = list(processes_mentioning(str(self.home.root)))
        if left:
            raise ClusterError(f"processes survived SIGKILL: {left}")
        # Nodes tear their pods' networks down when stopped; this catches what a crash
        # left (netns, veths, the bridge, the nftables table, IPAM files, cgroups).
        if self.home.config.exists():
            cfg = self.config()
            for i in range(cfg.nodes):
                realnode_runner.cleanup(RealNode(self.home.root, node_name(i), i), cfg)
        hostnet.teardown(self.home.root)
        if purge and self.home.root.exists():
            shutil.rmtree(self.home.root)
        return stragglers

    def status(self) -> dict[str, object]:
        import json

        pid = self.supervisor()
        state: dict[str, object] = {"home": str(self.home.root), "supervisor": pid,
                                    "components": {}}
        if pid is not None and self.home.supervisor_state.exists():
            state["components"] = json.loads(self.home.supervisor_state.read_text())["components"]
        if self.home.config.exists() and pid is not None:
            reply = apiclient.readyz(self.config(), self.pki)
            state["ready"] = reply is not None and reply.status == 200
            state["server"] = self.config().apiserver_url
        else:
            state["ready"] = False
        return state
