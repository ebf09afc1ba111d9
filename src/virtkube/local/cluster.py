"""Bringing the local cluster up and down: the logic behind `virtkube up/down/status`.

Kept apart from the CLI so that the test fixture drives the very same code.
`up` is idempotent: it makes only what is missing, starts the supervisor only
when none runs, and always ends by checking readiness and the CRDs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from virtkube.local import apiclient, crds
from virtkube.local.certs import ClusterPKI, ensure_cluster_pki, write_kubeconfig
from virtkube.local.config import ClusterConfig
from virtkube.local.paths import Home, controlplane_binary
from virtkube.local.procs import alive, processes_mentioning, terminate
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

    def prepare(self) -> ClusterConfig:
        """Make every file the control plane needs, keeping what exists."""
        self.home.ensure()
        cfg = ClusterConfig.load_or_create(self.home.config)
        ensure_cluster_pki(self.pki, cfg)
        write_kubeconfig(self.home.admin_kubeconfig, self.pki, cfg, "admin")
        for component in ("kube-controller-manager", "kube-scheduler"):
            write_kubeconfig(self.home.kubeconfig_for(component), self.pki, cfg, component)
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

    def up(self, progress: Progress = _quiet, timeout: float = READY_TIMEOUT) -> float:
        """Bring the cluster to ready; returns the seconds it took."""
        started = time.monotonic()
        binary = controlplane_binary()
        if not binary.exists():
            raise ClusterError(f"{binary} is missing: run `make controlplane` first")
        progress("certificates and kubeconfigs")
        cfg = self.prepare()
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
        return time.monotonic() - started

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
