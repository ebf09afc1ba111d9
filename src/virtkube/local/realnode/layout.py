"""Names and paths of one real local node (the upstream kubelet + containerd), as pure values.

A real node keeps all its state in one folder under the cluster's home,
`<home>/realnodes/<name>/`, so that several nodes (and several clusters) share one machine
without sharing a file. Its place in the cluster's address plan is a slot `index` of
virtkube.local.net.layout.ClusterNet: InternalIP .0.(2+index), pods from .(1+index).0/24
on the cluster's one bridge.

The kubelet still uses a few well-known host paths whatever its flags say
(/var/lib/kubelet/device-plugins, /var/log/containers); the node's mount namespace
(virtkube.local.realnode.mounts) puts the node's own folders there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from virtkube.local.net.layout import ClusterNet, home_hash
from virtkube.local.paths import REPO_ROOT

#: Pinned releases; noderuntime/go.mod and controlplane/go.mod pin the same.
CONTAINERD_VERSION = "2.4.2"
KUBELET_VERSION = "v1.37.2"
#: Debian's runc (src/virtkube/local/realnode/apt-packages.txt).
RUNC = Path("/usr/sbin/runc")
#: The CRI namespace of containerd: the kubelet's images and containers live there.
CRI_NAMESPACE = "k8s.io"


def binaries_dir() -> Path:
    """bin/ of the checkout (`make noderuntime controlplane`); VIRTKUBE_NODE_BIN overrides."""
    env = os.environ.get("VIRTKUBE_NODE_BIN")
    return Path(env).resolve() if env else REPO_ROOT / "bin"


@dataclass(frozen=True)
class Binaries:
    """The executables a real node runs; the built shim must come first on PATH (Debian's
    containerd package, if a host has it, ships a containerd-shim-runc-v2 of its own)."""

    dir: Path

    @property
    def containerd(self) -> Path:
        return self.dir / "containerd"

    @property
    def ctr(self) -> Path:
        return self.dir / "ctr"

    @property
    def shim(self) -> Path:
        return self.dir / "containerd-shim-runc-v2"

    @property
    def controlplane(self) -> Path:
        """The kubelet is a subcommand of the control-plane binary."""
        return self.dir / "controlplane"

    def path_env(self, inherited: str) -> str:
        return f"{self.dir}:{inherited}" if inherited else str(self.dir)


@dataclass(frozen=True)
class RealNode:
    """Node `name` in slot `index` of the cluster at `home_root`."""

    home_root: Path
    name: str
    index: int

    @property
    def root(self) -> Path:
        return self.home_root / "realnodes" / self.name

    # containerd
    @property
    def containerd_dir(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_root(self) -> Path:
        return self.containerd_dir / "root"

    @property
    def containerd_state(self) -> Path:
        return self.containerd_dir / "state"

    @property
    def containerd_config(self) -> Path:
        return self.containerd_dir / "config.toml"

    @property
    def socket(self) -> Path:
        """containerd's API (the kubelet's CRI endpoint). Named by its path under the home so
        that each shim's argv (`-address ...`) names the home too (procs.processes_mentioning
        finds them); a unix socket path has at most 107 bytes, which config.py checks."""
        return self.root / "containerd.sock"

    @property
    def ttrpc_socket(self) -> Path:
        return self.root / "containerd.sock.ttrpc"

    @property
    def containerd_run(self) -> Path:
        """/run/containerd inside the node's mount namespace: the shims' sockets go to
        /run/containerd/s there (a path short enough for any home)."""
        return self.containerd_dir / "run"

    @property
    def runc_root(self) -> Path:
        """runc's own state (its default, /run/containerd/runc, would be in containerd_run)."""
        return self.containerd_dir / "runc"

    @property
    def registry_hosts(self) -> Path:
        """containerd's registry host configuration (hosts.toml per registry), for the
        local registry a later step brings."""
        return self.containerd_dir / "certs.d"

    # CNI
    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_conflist(self) -> Path:
        return self.cni_conf_dir / "10-virtkube.conflist"

    @property
    def ipam(self) -> Path:
        return self.root / "cni" / "ipam"

    # kubelet
    @property
    def kubelet_dir(self) -> Path:
        """--root-dir, and /var/lib/kubelet inside the node's mount namespace."""
        return self.root / "kubelet"

    @property
    def device_plugins(self) -> Path:
        """/var/lib/kubelet/device-plugins inside the node's mount namespace: the kubelet's
        kubelet.sock, where virt-handler's device plugins register from the host's side."""
        return self.kubelet_dir / "device-plugins"

    @property
    def kubelet_config(self) -> Path:
        return self.root / "kubelet-config.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubelet.kubeconfig"

    @property
    def pod_logs(self) -> Path:
        """/var/log/pods inside the node's mount namespace."""
        return self.root / "log" / "pods"

    @property
    def container_logs(self) -> Path:
        """/var/log/containers inside the node's mount namespace (the kubelet's symlinks)."""
        return self.root / "log" / "containers"

    @property
    def logs(self) -> Path:
        """The node's own processes' logs (containerd.log, kubelet.log)."""
        return self.root / "logs"

    @property
    def mounts(self) -> Path:
        """Scratch mountpoints of the mount namespace set-up (see mounts.py)."""
        return self.root / "mnt"

    def cluster_net(self, pod_network: str) -> ClusterNet:
        return ClusterNet(self.home_root, pod_network)

    @property
    def cgroup_parent(self) -> str:
        """The node's cgroup (the same path in every hierarchy): containerd and its shims in
        `runtime`, the kubelet in `kubelet`, pods under `kubepods` (the kubelet's cgroupRoot)."""
        return f"/virtkube-{home_hash(self.home_root)}-nodes/{self.name}"

    def well_known(self) -> dict[Path, Path]:
        """Host path -> the node's own folder mounted there in its mount namespace."""
        return {
            Path("/var/lib/kubelet"): self.kubelet_dir,
            Path("/var/log/pods"): self.pod_logs,
            Path("/var/log/containers"): self.container_logs,
            Path("/run/containerd"): self.containerd_run,
        }

    def dirs(self) -> list[Path]:
        """Every folder the node needs before containerd and the kubelet start."""
        return [self.containerd_root, self.containerd_state, self.containerd_run,
                self.runc_root, self.registry_hosts, self.cni_conf_dir, self.ipam,
                self.kubelet_dir, self.pod_logs, self.container_logs, self.logs, self.mounts]
