"""Where the local cluster keeps its state.

Everything `virtkube up` creates lives under one folder, so that `down --purge`
can remove it whole and two clusters (a developer's and a test run's) never
share a file. The default is `.virtkube/` in the checkout; `VIRTKUBE_HOME`
overrides it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The checkout root: src/virtkube/local/paths.py -> parents[3].
REPO_ROOT = Path(__file__).resolve().parents[3]


def default_home() -> Path:
    env = os.environ.get("VIRTKUBE_HOME")
    return Path(env).resolve() if env else REPO_ROOT / ".virtkube"


def controlplane_binary() -> Path:
    """The Go binary built by `make controlplane` (VIRTKUBE_CONTROLPLANE overrides)."""
    env = os.environ.get("VIRTKUBE_CONTROLPLANE")
    return Path(env).resolve() if env else REPO_ROOT / "bin" / "controlplane"


def images_dir() -> Path:
    """The images `make guest-images node-images` publish (images/paths.py says the same;
    the wheel does not carry the build-time `images` package)."""
    env = os.environ.get("VIRTKUBE_IMAGES")
    return Path(env).resolve() if env else REPO_ROOT / "build" / "images"


@dataclass(frozen=True)
class Home:
    """The layout of one local cluster's state folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run / "supervisor.pid"

    @property
    def supervisor_state(self) -> Path:
        """Written by the supervisor: the pid of every child it runs."""
        return self.run / "components.json"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kubevirt_sockets(self) -> Path:
        """Launcher sockets, one folder per VMI uid (hostPath of launcher pods)."""
        return self.root / "kubevirt" / "sockets"

    @property
    def kubevirt_state(self) -> Path:
        """virt-handler and virt-api keep their own files here."""
        return self.root / "kubevirt" / "state"

    @property
    def storage(self) -> Path:
        """Where the local-path provisioner keeps each PV's data."""
        return self.root / "storage"

    @property
    def audit_policy(self) -> Path:
        return self.root / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    def kubeconfig_for(self, component: str) -> Path:
        return self.pki / f"{component}.kubeconfig"

    def log_for(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def ensure(self) -> None:
        for d in (self.root, self.pki, self.etcd_data, self.logs, self.run):
            d.mkdir(parents=True, exist_ok=True)
        self.pki.chmod(0o700)
        self.etcd_data.chmod(0o700)
