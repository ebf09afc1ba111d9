"""The command lines of the local control plane, as pure functions.

Each function turns the cluster's config and file layout into the argv of one
component of the `controlplane` binary. Nothing here starts anything: the
supervisor runs what these return, and golden tests pin them.

Everything listens on loopback only; pods reach the API server at the bridge's host
address, which an nftables DNAT forwards to loopback (see virtkube.local.net.hostnet).
Flags that matter for virtkube:
- the aggregation layer (`--requestheader-*`, `--proxy-client-*`) so that
  virt-api can serve `subresources.kubevirt.io`; `--enable-aggregator-routing`
  because the local cluster has no service proxy in front of virt-api;
- admission webhooks are on by default in kube-apiserver (MutatingAdmissionWebhook,
  ValidatingAdmissionWebhook); the garbage collector is one of the controller
  manager's default controllers and deletes VMIs whose VM went away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from virtkube.local import registry, serviceproxy
from virtkube.local.certs import ClusterPKI
from virtkube.local.config import ClusterConfig
from virtkube.local.net import layout
from virtkube.local.paths import Home, images_dir
from virtkube.local.realnode import config as realnode_config
from virtkube.local.realnode.layout import RealNode


@dataclass(frozen=True)
class Component:
    """One child process of the supervisor."""

    name: str
    argv: tuple[str, ...]


def etcd(cfg: ClusterConfig, home: Home, binary: Path) -> Component:
    client = f"http://{cfg.listen_address}:{cfg.ports.etcd_client}"
    peer = f"http://{cfg.listen_address}:{cfg.ports.etcd_peer}"
    return Component("etcd", (
        str(binary), "etcd",
        "--name=virtkube",
        f"--data-dir={home.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=virtkube={peer}",
        "--initial-cluster-state=new",
        "--log-level=warn",
        # 2 GiB: ample for one machine, and bounded so a runaway writer is noticed.
        "--quota-backend-bytes=2147483648",
    ))


def _advertise(cfg: ClusterConfig, home: Home) -> tuple[str, ...]:
    """Where pods reach the API server: the bridge's host address, which an nftables DNAT
    (virtkube.local.net.hostnet) forwards to the loopback listener. The API server then
    keeps the `kubernetes` Endpoints itself. Without a pod network, loopback and none."""
    if not cfg.pod_network:
        return (f"--advertise-address={cfg.listen_address}", "--endpoint-reconciler-type=none")
    gateway = layout.ClusterNet(home.root, cfg.pod_network).gateway
    return (f"--advertise-address={gateway}", "--endpoint-reconciler-type=lease")


def kube_apiserver(cfg: ClusterConfig, home: Home, binary: Path) -> Component:
    p = ClusterPKI(home.pki)
    return Component("kube-apiserver", (
        str(binary), "kube-apiserver",
        f"--bind-address={cfg.listen_address}",
        *_advertise(cfg, home),
        f"--secure-port={cfg.ports.apiserver}",
        f"--etcd-servers={cfg.etcd_url}",
        f"--tls-cert-file={p.apiserver.cert_path}",
        f"--tls-private-key-file={p.apiserver.key_path}",
        f"--client-ca-file={p.ca.cert_path}",
        f"--service-account-issuer=https://kubernetes.default.svc.{cfg.cluster_domain}",
        f"--service-account-key-file={p.sa_pub}",
        f"--service-account-signing-key-file={p.sa_key}",
        f"--service-cluster-ip-range={cfg.service_cidr}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--allow-privileged=true",
        # The aggregation layer: the API server proxies subresources.kubevirt.io
        # to virt-api and vouches for the caller with these headers.
        f"--requestheader-client-ca-file={p.front_proxy_ca.cert_path}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        f"--proxy-client-cert-file={p.front_proxy_client.cert_path}",
        f"--proxy-client-key-file={p.front_proxy_client.key_path}",
        "--enable-aggregator-routing=true",
        f"--kubelet-client-certificate={p.apiserver_kubelet_client.cert_path}",
        f"--kubelet-client-key={p.apiserver_kubelet_client.key_path}",
        # Local nodes serve logs at their bridge address with a cert from the cluster CA.
        f"--kubelet-certificate-authority={p.ca.cert_path}",
        "--kubelet-preferred-address-types=InternalIP",
        *_audit(cfg, home),
        "--profiling=false",
        "--v=0",
    ))


#: Metadata for every resource request; no request bodies, no health probes.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/openapi*", "/metrics"]
- level: Metadata
"""


def _audit(cfg: ClusterConfig, home: Home) -> tuple[str, ...]:
    if not cfg.audit:
        return ()
    return (f"--audit-policy-file={home.audit_policy}", f"--audit-log-path={home.audit_log}",
            "--audit-log-format=json", "--audit-log-maxsize=200", "--audit-log-maxbackup=1")


def _client_flags(cfg: ClusterConfig, home: Home, name: str, port: int) -> tuple[str, ...]:
    """A controller's identity (its kubeconfig) and its loopback-only health endpoint."""
    kubeconfig = home.kubeconfig_for(name)
    return (
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--bind-address={cfg.listen_address}",
        f"--secure-port={port}",
    )


def kube_controller_manager(cfg: ClusterConfig, home: Home, binary: Path) -> Component:
    p = ClusterPKI(home.pki)
    return Component("kube-controller-manager", (
        str(binary), "kube-controller-manager",
        *_client_flags(cfg, home, "kube-controller-manager", cfg.ports.controller_manager),
        f"--cluster-signing-cert-file={p.ca.cert_path}",
        f"--cluster-signing-key-file={p.ca.key_path}",
        f"--root-ca-file={p.ca.cert_path}",
        f"--service-account-private-key-file={p.sa_key}",
        f"--service-cluster-ip-range={cfg.service_cidr}",
        "--use-service-account-credentials=true",
        # One instance per cluster here: no Lease round trips before it works.
        "--leader-elect=false",
        "--profiling=false",
        "--v=0",
    ))


def kube_scheduler(cfg: ClusterConfig, home: Home, binary: Path) -> Component:
    return Component("kube-scheduler", (
        str(binary), "kube-scheduler",
        *_client_flags(cfg, home, "kube-scheduler", cfg.ports.scheduler),
        "--leader-elect=false",
        "--profiling=false",
        "--v=0",
    ))


def control_plane(cfg: ClusterConfig, home: Home, binary: Path) -> list[Component]:
    """The components in start order (stopped in reverse)."""
    return [f(cfg, home, binary) for f in (etcd, kube_apiserver, kube_controller_manager,
                                           kube_scheduler)]


def node(home: Home, index: int, python: str) -> Component:
    """Local node `index`, virtkube-node-<index>: the upstream kubelet with containerd in a
    mount namespace of the node's own (virtkube.local.realnode.runner)."""
    name = layout.node_name(index)
    return Component(name, realnode_config.runner_argv(
        RealNode(home.root, name, index), python, realnode_config.NodeOptions()))


def kube_proxy(cfg: ClusterConfig, home: Home, binary: Path, python: str) -> Component:
    """kube-proxy (nftables mode), one per cluster, in the cluster's Service router netns:
    every local node shares the host's netns, and the router keeps its rules off the host
    (see virtkube.local.serviceproxy)."""
    return Component("kube-proxy", (
        python, "-m", "virtkube.local.serviceproxy", "--home", str(home.root), "--",
        str(binary), "kube-proxy", *serviceproxy.kube_proxy_flags(cfg, home)))


def local_registry(cfg: ClusterConfig, home: Home) -> Component:
    """The OCI registry the real nodes pull from as `registry:5000` (containerd's hosts.toml
    maps the name; see virtkube.local.registry). The supervisor seeds it once it answers."""
    return Component(registry.NAME, registry.argv(registry.RegistryDirs(home.root)))


def local_path_provisioner(home: Home, python: str) -> Component:
    return Component("local-path-provisioner", (
        python, "-m", "virtkube.local.provisioner", "--home", str(home.root)))


def virt_api(cfg: ClusterConfig, home: Home, python: str) -> Component:
    """virt-api: admission webhooks on loopback, the aggregated API on the bridge address.

    The API server refuses loopback endpoints for an APIService, so the
    aggregated API is served at the bridge's host address (on this machine
    only); without local nodes there is no bridge and only the webhooks run.
    """
    argv = [python, "-m", "virtkube.apiserver",
            f"--kubeconfig={home.kubeconfig_for('virt-api')}",
            f"--listen={cfg.listen_address}:{cfg.ports.virt_api}",
            f"--state-dir={home.kubevirt_state / 'virt-api'}"]
    if cfg.nodes and cfg.pod_network:
        argv.append(f"--aggregator-address={layout.ClusterNet(home.root, cfg.pod_network).gateway}")
    return Component("virt-api", tuple(argv))


#: The virt-launcher image `make launcher-image` builds and the supervisor pushes to the
#: local registry (images.launcher.LAUNCHER_REF; a test keeps the two equal).
LAUNCHER_IMAGE = "registry:5000/virtkube/virt-launcher:dev"
#: KubeVirt's device plugin resources (virt-handler serves them) and their device nodes.
DEVICE_NODES = {"devices.kubevirt.io/kvm": Path("/dev/kvm"),
                "devices.kubevirt.io/tun": Path("/dev/net/tun"),
                "devices.kubevirt.io/vhost-net": Path("/dev/vhost-net")}


def built_launcher_image() -> str:
    """The launcher image by digest when `make launcher-image` recorded one: its tag `dev`
    moves with every build, and a node that has the old one would keep it (IfNotPresent)."""
    try:
        digest = json.loads((images_dir() / "launcher" / "manifest.json").read_text())[
            "manifestDigest"]
    except (OSError, ValueError, KeyError):
        return LAUNCHER_IMAGE
    return f"{LAUNCHER_IMAGE.rsplit(':', 1)[0]}@{digest}"


def host_device_resources() -> tuple[str, ...]:
    """The device resources the local nodes can give: they all share this machine's /dev."""
    return tuple(r for r, node in DEVICE_NODES.items() if node.exists())


def virt_controller(home: Home, python: str, devices: tuple[str, ...],
                    launcher_image: str = LAUNCHER_IMAGE) -> Component:
    """virt-controller: its launcher pods run the virt-launcher image with containerDisks
    as containers and the devices the handlers' plugins give."""
    argv = [python, "-m", "virtkube.controller",
            f"--kubeconfig={home.kubeconfig_for('virt-controller')}",
            f"--sockets-host-dir={home.kubevirt_sockets}",
            f"--launcher-image={launcher_image}",
            *(f"--device-resource={d}" for d in devices),
            f"--identity=virt-controller-{home.root.name}"]
    return Component("virt-controller", tuple(argv))


def virt_handler(home: Home, index: int, python: str) -> Component:
    """virt-handler of local node `index` (a DaemonSet pod on a real cluster), serving the
    device plugins to that node's kubelet."""
    node = layout.node_name(index)
    plugins = RealNode(home.root, node, index).kubelet_dir / "device-plugins"
    return Component(f"virt-handler-{index}", (
        python, "-m", "virtkube.handler",
        f"--kubeconfig={home.kubeconfig_for('virt-handler')}",
        f"--node-name={node}",
        f"--sockets-dir={home.kubevirt_sockets}",
        f"--device-plugins-dir={plugins}"))


def all_components(cfg: ClusterConfig, home: Home, binary: Path, python: str,
                   devices: tuple[str, ...] | None = None,
                   launcher_image: str | None = None) -> list[Component]:
    """Control plane first; nodes and the provisioner once the API server is ready (the
    supervisor waits for /readyz after kube-apiserver), stopped before it in reverse."""
    return [*control_plane(cfg, home, binary),
            local_registry(cfg, home),
            *(node(home, i, python) for i in range(cfg.nodes)),
            *([kube_proxy(cfg, home, binary, python)] if cfg.nodes and cfg.pod_network else []),
            local_path_provisioner(home, python),
            # virt-api first: its webhooks (failurePolicy Fail) admit what the others write.
            virt_api(cfg, home, python),
            virt_controller(home, python,
                            host_device_resources() if devices is None else devices,
                            built_launcher_image() if launcher_image is None
                            else launcher_image),
            *(virt_handler(home, i, python) for i in range(cfg.nodes))]
