"""Golden tests of a real node's files and command lines (pure functions)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.unit.golden import assert_golden
from virtkube.local.config import ClusterConfig, Ports
from virtkube.local.paths import REPO_ROOT
from virtkube.local.realnode import config
from virtkube.local.realnode.layout import CONTAINERD_VERSION, KUBELET_VERSION, Binaries, RealNode

GOLDEN = Path(__file__).parent / "golden"
CFG = ClusterConfig(ports=Ports(apiserver=6443, etcd_client=2379, etcd_peer=2380,
                                controller_manager=10257, scheduler=10259, virt_api=8443),
                    pod_network="10.200.0.0/16", nodes=2)
NODE = RealNode(Path("/var/lib/virtkube"), "virtkube-kubelet-0", 2)
BINARIES = Binaries(Path("/opt/virtkube/bin"))
PYTHON = "/opt/virtkube/.venv/bin/python"
OPTS = config.NodeOptions(taints=(config.Taint("virtkube.io/real-node", "true"),),
                          labels={"virtkube.io/real-node": "true"})
PKI = Path("/var/lib/virtkube/realnodes/virtkube-kubelet-0/pki")
KUBELET_CONFIG = config.kubelet_configuration(
    NODE, CFG, OPTS, ca=Path("/var/lib/virtkube/pki/ca.crt"),
    serving_cert=PKI / "kubelet.crt", serving_key=PKI / "kubelet.key")

RENDERED = {
    "containerd.toml": config.containerd_toml(NODE, OPTS),
    "10-virtkube.conflist": json.dumps(config.cni_conflist(NODE, CFG), indent=2) + "\n",
    "kubelet-config.yaml": config.kubelet_config_yaml(KUBELET_CONFIG),
    "kubelet.argv": "\n".join(config.kubelet_argv(NODE, CFG, BINARIES, OPTS)) + "\n",
    "containerd.argv": "\n".join(config.containerd_argv(NODE, BINARIES)) + "\n",
    "runner.argv": "\n".join(config.runner_argv(NODE, PYTHON, OPTS)) + "\n",
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_matches_golden(name: str) -> None:
    assert_golden(GOLDEN / name, RENDERED[name])


def test_containerd_config_parses_and_stays_in_the_node_folder() -> None:
    doc = tomllib.loads(RENDERED["containerd.toml"])
    assert doc["version"] == 4
    runtime = doc["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    assert runtime["cni"]["bin_dirs"] == ["/usr/lib/cni"]
    images = doc["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == config.SANDBOX_IMAGE
    paths = [doc["root"], doc["state"], runtime["cni"]["conf_dir"],
             doc["plugins"]["io.containerd.server.v1.grpc"]["address"],
             runtime["containerd"]["runtimes"]["runc"]["options"]["Root"]]
    assert all(p.startswith(str(NODE.root) + "/") for p in paths), paths


def test_kubelet_serves_at_the_node_ip_of_its_slot_with_cgroup_v1_settings() -> None:
    doc = yaml.safe_load(RENDERED["kubelet-config.yaml"])
    assert doc["address"] == "10.200.0.4"  # .0.(2+index)
    assert doc["failCgroupV1"] is False and doc["cgroupDriver"] == "cgroupfs"
    assert doc["cgroupRoot"] == NODE.cgroup_parent
    assert doc["registerWithTaints"] == [
        {"key": "virtkube.io/real-node", "value": "true", "effect": "NoSchedule"}]
    ranges = config.cni_conflist(NODE, CFG)["plugins"][0]["ipam"]["ranges"][0][0]
    assert (ranges["rangeStart"], ranges["rangeEnd"]) == ("10.200.3.2", "10.200.3.254")


def test_a_socket_path_too_long_for_unix_is_refused_with_the_reason() -> None:
    deep = RealNode(Path("/" + "x" * 100), "n", 0)
    with pytest.raises(config.NodeConfigError, match="more than a unix socket allows"):
        config.containerd_toml(deep, OPTS)


def test_pinned_versions_agree_with_the_builds() -> None:
    gomod = (REPO_ROOT / "noderuntime" / "go.mod").read_text()
    assert f"github.com/containerd/containerd/v2 v{CONTAINERD_VERSION}\n" in gomod
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(rf"^CONTAINERD_VERSION := {re.escape(CONTAINERD_VERSION)}$", makefile,
                     re.MULTILINE)
    assert re.search(rf"^KUBE_VERSION := {re.escape(KUBELET_VERSION)}$", makefile, re.MULTILINE)


def test_the_sandbox_image_is_the_one_images_utility_builds() -> None:
    from images.utility import PAUSE_REF

    assert config.SANDBOX_IMAGE == PAUSE_REF


def test_up_refuses_a_home_too_deep_for_the_nodes_sockets_before_starting_anything(
        tmp_path: Path) -> None:
    from virtkube.local.cluster import ClusterError, LocalCluster
    from virtkube.local.paths import Home

    deep = tmp_path / ("d" * 60)
    cluster = LocalCluster(Home(deep))
    with pytest.raises(ClusterError, match="shorter VIRTKUBE_HOME"):
        cluster.prepare(nodes=1)
    assert not (deep / "pki" / "ca.crt").exists()
