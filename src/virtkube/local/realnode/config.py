"""A real node's configuration files and command lines, as pure functions.

From the cluster's config and the node's layout this renders what containerd and the
kubelet read: containerd's config.toml (its own root, state, sockets and CNI folders), the
CNI conflist (virtkube.local.net.cni's bridge + host-local network on the cluster's one bridge, so
pods of every node share one /16 and nothing routes off the machine), the
KubeletConfiguration and the argv of both. Nothing here starts anything; golden tests pin
the output.

What this machine needs (issue 12): root lacks CAP_SYS_RESOURCE, hence
`restrict_oom_score_adj` (else runc fails "can't get final child's PID from pipe: EOF");
the cgroups are v1 (hybrid), hence `failCgroupV1: false` and the cgroupfs driver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from virtkube.local.config import ClusterConfig
from virtkube.local.net import cni
from virtkube.local.net.layout import CNI_BIN_DIR, LOG_SERVER_PORT
from virtkube.local.realnode.layout import RUNC, Binaries, RealNode

#: The pod sandbox ("pause") image: virtkube's own (images/utility.py builds it), so that
#: no node ever needs registry.k8s.io. images.utility.PAUSE_REF names the same.
SANDBOX_IMAGE = "registry:5000/virtkube/pause:dev"
#: Overlayfs works on this machine's root filesystem; `native` (full copies) is the
#: fallback where it does not (e.g. a home on overlayfs itself).
SNAPSHOTTER = "overlayfs"
#: sun_path is 108 bytes with the terminating NUL.
MAX_SOCKET_PATH = 107
#: Plugins that would reach outside the node's folder (/opt/containerd, /var/run/nri,
#: /opt/containerd/image-verifier) or that a local node has no use for.
DISABLED_PLUGINS = (
    "io.containerd.internal.v1.opt",
    "io.containerd.nri.v1.nri",
    "io.containerd.image-verifier.v1.bindir",
    "io.containerd.snapshotter.v1.blockfile",
    "io.containerd.snapshotter.v1.erofs",
    "io.containerd.differ.v1.erofs",
    "io.containerd.tracing.processor.v1.otlp",
)


class NodeConfigError(ValueError):
    """The node cannot be configured as asked (the message says which setting and why)."""


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str = "NoSchedule"

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class NodeOptions:
    """What the caller chooses about one node beyond the cluster's layout."""

    taints: tuple[Taint, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    sandbox_image: str = SANDBOX_IMAGE
    snapshotter: str = SNAPSHOTTER
    #: The kubelet's verbosity (--v).
    verbosity: int = 1


def _q(value: str | Path) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts)."""
    return json.dumps(str(value))


def _check_socket(path: Path) -> None:
    if len(str(path).encode()) > MAX_SOCKET_PATH:
        raise NodeConfigError(
            f"containerd socket path {path} is {len(str(path).encode())} bytes, more than a "
            f"unix socket allows ({MAX_SOCKET_PATH}): use a shorter VIRTKUBE_HOME")


def check_paths(node: RealNode) -> None:
    """Raise NodeConfigError when the node's sockets cannot exist under its folder (a home
    too deep for a unix socket path): `virtkube up` says so before it starts anything."""
    _check_socket(node.socket)
    _check_socket(node.ttrpc_socket)


def containerd_toml(node: RealNode, opts: NodeOptions) -> str:
    """containerd's config.toml (config version 4, containerd 2.4)."""
    check_paths(node)
    disabled = ", ".join(_q(p) for p in DISABLED_PLUGINS)
    return f"""\
# Rendered by virtkube.local.realnode.config for node {node.name}; rewritten at each start.
version = 4
root = {_q(node.containerd_root)}
state = {_q(node.containerd_state)}
disabled_plugins = [{disabled}]
# No /etc/containerd/conf.d: nothing outside the node's folder configures it.
imports = []

[cgroup]
  # containerd and its shims; pods go under the kubelet's cgroupRoot beside it.
  path = {_q(node.cgroup_parent + "/runtime")}

[plugins]
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = {_q(opts.snapshotter)}
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = {_q(opts.sandbox_image)}
    [plugins."io.containerd.cri.v1.images".registry]
      # hosts.toml per registry (e.g. registry:5000), for the local registry.
      config_path = {_q(node.registry_hosts)}

  [plugins."io.containerd.cri.v1.runtime"]
    # root lacks CAP_SYS_RESOURCE here: never lower a container's oom_score_adj below ours.
    restrict_oom_score_adj = true
    # Pod netns under the node's state, not /var/run/netns shared with the host.
    netns_mounts_under_state_dir = true
    enable_selinux = false
    cdi_spec_dirs = []
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = {_q(RUNC)}
          Root = {_q(node.runc_root)}
          SystemdCgroup = false
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = [{_q(CNI_BIN_DIR)}]
      conf_dir = {_q(node.cni_conf_dir)}
      max_conf_num = 1

  [plugins."io.containerd.server.v1.grpc"]
    address = {_q(node.socket)}

  [plugins."io.containerd.server.v1.ttrpc"]
    address = {_q(node.ttrpc_socket)}

  [plugins."io.containerd.grpc.v1.cri"]
    # exec/attach/port-forward streams: loopback only, a free port, proxied by the kubelet.
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
"""


def cni_conflist(node: RealNode, cfg: ClusterConfig) -> dict[str, Any]:
    """The node's CNI network: the cluster's bridge config for slot `index` (pods on the
    cluster's bridge, addresses from the node's /24, routes only to Services), with IPAM
    state in the node's folder. containerd adds the loopback itself."""
    net = node.cluster_net(cfg.pod_network)
    bridge = cni.bridge_config(net, index=node.index, ipam_dir=node.ipam,
                               service_cidr=cfg.service_cidr)
    plugin = {k: v for k, v in bridge.items() if k not in ("cniVersion", "name")}
    return {"cniVersion": bridge["cniVersion"], "name": bridge["name"], "plugins": [plugin]}


def kubelet_configuration(node: RealNode, cfg: ClusterConfig, opts: NodeOptions, *,
                          ca: Path, serving_cert: Path, serving_key: Path) -> dict[str, Any]:
    """The KubeletConfiguration (kubelet.config.k8s.io/v1beta1)."""
    net = node.cluster_net(cfg.pod_network)
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # The API server reaches the kubelet (logs, exec) at the node's InternalIP with a
        # serving cert from the cluster CA (its --kubelet-certificate-authority).
        "address": net.node_ip(node.index),
        "port": LOG_SERVER_PORT,
        "readOnlyPort": 0,
        # Disabled: on loopback the default port would collide between nodes.
        "healthzPort": 0,
        "tlsCertFile": str(serving_cert),
        "tlsPrivateKeyFile": str(serving_key),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        # Hybrid cgroup v1 on this machine; cgroupfs since there is no systemd to ask.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": node.cgroup_parent,
        "cgroupsPerQOS": True,
        "kubeletCgroups": node.cgroup_parent + "/kubelet",
        "failSwapOn": False,
        # No host iptables chains: the cluster's nftables table is its only rule set.
        "makeIPTablesUtilChains": False,
        "clusterDomain": cfg.cluster_domain,
        "clusterDNS": [],
        "maxPods": cfg.max_pods,
        "podLogsDir": str(Path("/var/log/pods")),
        "registerNode": True,
        "registerWithTaints": [t.as_dict() for t in opts.taints],
        # A shared machine: do not evict or collect images for the host's own disk use.
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "staticPodPath": "",
        "shutdownGracePeriod": "0s",
    }


def kubelet_config_yaml(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=False)


def containerd_argv(node: RealNode, binaries: Binaries) -> tuple[str, ...]:
    return (str(binaries.containerd), "--config", str(node.containerd_config),
            "--log-level", "warn")


def kubelet_argv(node: RealNode, cfg: ClusterConfig, binaries: Binaries, opts: NodeOptions
                 ) -> tuple[str, ...]:
    net = node.cluster_net(cfg.pod_network)
    labels = ",".join(f"{k}={v}" for k, v in sorted(opts.labels.items()))
    return (
        str(binaries.controlplane), "kubelet",
        f"--config={node.kubelet_config}",
        f"--kubeconfig={node.kubeconfig}",
        f"--root-dir={node.kubelet_dir}",
        f"--cert-dir={node.kubelet_dir / 'pki'}",
        f"--hostname-override={node.name}",
        f"--node-ip={net.node_ip(node.index)}",
        *([f"--node-labels={labels}"] if labels else []),
        f"--v={opts.verbosity}",
    )


def runner_argv(node: RealNode, python: str, opts: NodeOptions) -> tuple[str, ...]:
    """The node's one supervised process (virtkube.local.realnode.runner): it enters a
    mount namespace of its own (private propagation: nothing it mounts reaches the host),
    sets up the well-known paths and runs containerd and the kubelet in it."""
    argv = [python, "-m", "virtkube.local.realnode",
            "--home", str(node.home_root), "--name", node.name, "--index", str(node.index)]
    for t in opts.taints:
        argv.append(f"--taint={t.key}={t.value}:{t.effect}")
    for k, v in sorted(opts.labels.items()):
        argv.append(f"--label={k}={v}")
    if opts.snapshotter != SNAPSHOTTER:
        argv.append(f"--snapshotter={opts.snapshotter}")
    return tuple(argv)
