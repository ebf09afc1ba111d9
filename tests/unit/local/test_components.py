"""Golden tests of the control plane's command lines (pure functions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from virtkube.local import components
from virtkube.local.config import ClusterConfig, Ports
from virtkube.local.paths import Home

GOLDEN = Path(__file__).parent / "golden"
CFG = ClusterConfig(ports=Ports(apiserver=6443, etcd_client=2379, etcd_peer=2380,
                                controller_manager=10257, scheduler=10259, virt_api=8443,
                                registry=5005),
                    pod_network="10.200.0.0/16", nodes=2)
HOME = Home(Path("/var/lib/virtkube"))
BINARY = Path("/opt/virtkube/bin/controlplane")
PYTHON = "/opt/virtkube/.venv/bin/python"
#: What the host's /dev gives (fixed here: the goldens must not depend on the machine).
DEVICES = ("devices.kubevirt.io/kvm", "devices.kubevirt.io/tun")
IMAGE = "registry:5000/virtkube/virt-launcher@sha256:" + "0" * 64


def comps() -> list[components.Component]:
    return components.all_components(CFG, HOME, BINARY, PYTHON, devices=DEVICES,
                                     launcher_image=IMAGE)


@pytest.mark.parametrize("component", comps(), ids=lambda c: c.name)
def test_argv_matches_golden(component: components.Component) -> None:
    golden = GOLDEN / f"{component.name}.argv"
    text = "\n".join(component.argv) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"{golden} is stale; rerun with UPDATE_GOLDEN=1 and review"


def test_everything_listens_on_loopback_only() -> None:
    for comp in components.control_plane(CFG, HOME, BINARY):
        for arg in comp.argv:
            if arg.startswith("--bind-address="):
                assert arg.endswith("=127.0.0.1"), (comp.name, arg)
            if arg.startswith("--advertise-address="):
                # The pod bridge's host address, DNATed to loopback: never off the machine.
                assert arg.endswith("=10.200.0.1"), (comp.name, arg)
            if arg.startswith(("--listen-client-urls=", "--listen-peer-urls=")):
                assert "://127.0.0.1:" in arg, (comp.name, arg)


def test_start_order_puts_etcd_first_and_apiserver_before_its_clients() -> None:
    names = [c.name for c in comps()]
    assert names == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "registry", "virtkube-node-0", "virtkube-node-1", "kube-proxy",
                     "local-path-provisioner", "virt-api", "virt-controller",
                     "virt-handler-0", "virt-handler-1"]


def test_without_a_pod_network_the_apiserver_advertises_loopback() -> None:
    argv = components.kube_apiserver(ClusterConfig(ports=CFG.ports), HOME, BINARY).argv
    assert "--advertise-address=127.0.0.1" in argv
    assert "--endpoint-reconciler-type=none" in argv


def test_nodes_run_the_kubelet_runner_after_the_registry() -> None:
    everything = comps()
    names = [c.name for c in everything]
    assert names.index("registry") < names.index("virtkube-node-0")
    node1 = everything[names.index("virtkube-node-1")]
    assert node1.argv == (PYTHON, "-m", "virtkube.local.realnode", "--home", str(HOME.root),
                          "--name", "virtkube-node-1", "--index", "1")
    registry = everything[names.index("registry")]
    # Its config (and so its argv) names the home: `down` finds it by that.
    assert registry.argv == ("/usr/bin/docker-registry", "serve",
                             f"{HOME.root}/registry/config.yml")


def test_launchers_run_the_launcher_image_with_the_hosts_devices() -> None:
    by_name = {c.name: c for c in comps()}
    controller = by_name["virt-controller"].argv
    assert f"--launcher-image={IMAGE}" in controller
    assert "--device-resource=devices.kubevirt.io/tun" in controller
    handler = by_name["virt-handler-1"].argv
    assert (f"--device-plugins-dir={HOME.root}/realnodes/virtkube-node-1/kubelet/device-plugins"
            in handler)


def test_the_launcher_image_is_the_one_the_image_builder_makes() -> None:
    from images.launcher import LAUNCHER_REF

    assert components.LAUNCHER_IMAGE == LAUNCHER_REF
